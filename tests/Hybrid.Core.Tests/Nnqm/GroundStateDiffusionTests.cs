using Hybrid.Nnqm;
using Hybrid.Sampling;
using static TorchSharp.torch;

namespace Hybrid.Core.Tests.Nnqm;

public class GroundStateDiffusionTests
{
    private static double[] Evaluate(Func<Tensor, Tensor> f, double[] xs)
    {
        using var x = tensor(xs, new long[] { xs.Length, 1 }, dtype: ScalarType.Float64);
        using var y = f(x);
        return y.data<double>().ToArray();
    }

    [Fact]
    public void HarmonicGroundStatePotentialIsTheGaussianOne()
    {
        var u = new GroundStatePotential(AnharmonicOscillator.Solve(0));
        double[] xs = { -2.5, -1, 0, 0.3, 1.7 };
        var action = Evaluate(u.Action, xs);
        var gradient = Evaluate(u.Gradient, xs);
        for (int i = 0; i < xs.Length; i++)
        {
            // ψ₀ = π^{−1/4} e^{−x²/2}: U = x² + ½ ln π, U′ = 2x.
            Assert.Equal(xs[i] * xs[i] + 0.5 * Math.Log(Math.PI), action[i], 10);
            Assert.Equal(2 * xs[i], gradient[i], 10);
        }
    }

    [Fact]
    public void AnharmonicGroundStateIsNormalisedWithTheExactSpreadAndConsistentGradient()
    {
        var aho = AnharmonicOscillator.Solve(1.0);
        var u = new GroundStatePotential(aho);
        // Trapezoid on [−5, 5]: ψ₀² < e^{−40} outside.
        var xs = Enumerable.Range(0, 2001).Select(i => -5 + i * 0.005).ToArray();
        var action = Evaluate(u.Action, xs);
        double norm = 0, spread = 0;
        for (int i = 0; i < xs.Length; i++)
        {
            double w = (i == 0 || i == xs.Length - 1 ? 0.5 : 1) * 0.005 * Math.Exp(-action[i]);
            norm += w;
            spread += w * xs[i] * xs[i];
        }
        Assert.Equal(1.0, norm, 8);
        Assert.Equal(aho.PositionSquaredElements[0], spread, 8);
        // U′ against a central difference of U.
        double[] probe = { -1.3, -0.2, 0.4, 2.1 };
        var gradient = Evaluate(u.Gradient, probe);
        for (int i = 0; i < probe.Length; i++)
        {
            var ends = Evaluate(u.Action, new[] { probe[i] - 1e-5, probe[i] + 1e-5 });
            Assert.Equal((ends[1] - ends[0]) / 2e-5, gradient[i], 5);
        }
    }

    [Fact]
    public void DiffusionOfTheGroundStateHasTheOscillatorsEuclideanCorrelator()
    {
        var aho = AnharmonicOscillator.Solve(1.0, 6);
        var u = new GroundStatePotential(aho);
        const int paths = 4000;
        using var diffusion = new ReversibleDiffusion(u, 0.005, paths, seed: 11);
        diffusion.Equilibrate(4);
        using var x = diffusion.Record(3, 100); // t = 0, 0.5, 1
        var v = x.data<double>().ToArray();
        for (int k = 0; k < 3; k++)
        {
            double t = 0.5 * k, sum = 0, sumSq = 0;
            for (int p = 0; p < paths; p++) { double z = v[p * 3] * v[p * 3 + k]; sum += z; sumSq += z * z; }
            double mean = sum / paths, error = Math.Sqrt((sumSq / paths - mean * mean) / paths);
            // Källén–Lehmann: Σ_n |⟨0|x|n⟩|² e^{−(E_n − E₀) t}.
            double exact = Enumerable.Range(1, 5).Sum(n => aho.PositionElements[n] * aho.PositionElements[n] * Math.Exp(-(aho.Energies[n] - aho.Energies[0]) * t));
            // 4σ of the paths' spread; the O(h) bias of the dynamics at h = 0.005 is far below it.
            Assert.True(Math.Abs(mean - exact) < 4 * error, $"t = {t}: {mean} ± {error} against {exact}");
        }
        Assert.True(diffusion.Acceptance > 0.99, $"acceptance {diffusion.Acceptance}");
    }

    [Fact]
    public void MetropolisKeepsTheInvariantDensityExactAtALargeStep()
    {
        // At h = 0.5 the unadjusted Euler scheme would sample a visibly wrong ⟨x²⟩ (by O(h)); the Hastings correction
        // keeps ψ₀² exactly.
        var aho = AnharmonicOscillator.Solve(1.0);
        using var diffusion = new ReversibleDiffusion(new GroundStatePotential(aho), 0.5, 4000, seed: 3);
        diffusion.Equilibrate(20);
        using var x = diffusion.Record(20, 4);
        var perPath = x.square().mean(new long[] { 1, 2 });
        double mean = perPath.mean().item<double>(), error = perPath.std().item<double>() / Math.Sqrt(4000);
        Assert.True(Math.Abs(mean - aho.PositionSquaredElements[0]) < 4 * error, $"⟨x²⟩ = {mean} ± {error} against {aho.PositionSquaredElements[0]}");
        Assert.True(diffusion.Acceptance < 0.97, $"acceptance {diffusion.Acceptance} should show the large step");
        Assert.Contains("time step 0", Assert.Throws<ArgumentException>(() => new ReversibleDiffusion(new GroundStatePotential(aho), 0, 1, 1)).Message);
    }
}
