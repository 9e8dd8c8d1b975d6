using Hybrid.O3;
using Hybrid.Sampling;
using Hybrid.Training;
using Hybrid.Vmc;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Hybrid.Core.Tests.O3;

/// <summary>The exact L = 2 singlet ground state ψ(c) = Σ_l a_l P_l(n₀·n₁), for zero-variance checks.</summary>
internal sealed class TwoRotorGroundState : IWavefunction
{
    private readonly double[] coefficients;

    /// <summary>Diagonalises H in the orthonormal singlet basis √((2l+1)/2) P_l(c), l ≤ lMax.</summary>
    public TwoRotorGroundState(double g2, int lMax = 30)
    {
        int n = lMax + 1;
        var h = new double[n * n];
        for (int l = 0; l < n; l++)
        {
            h[l * n + l] = g2 * l * (l + 1);
            if (l + 1 < n)
            {
                // ⟨φ_{l+1}|c|φ_l⟩ = (l+1)/√((2l+1)(2l+3)); the potential is −c/g² (one bond).
                double off = -(l + 1) / Math.Sqrt((2.0 * l + 1) * (2.0 * l + 3)) / g2;
                h[l * n + l + 1] = off;
                h[(l + 1) * n + l] = off;
            }
        }
        var (values, vectors) = linalg.eigh(tensor(h, new long[] { n, n }, dtype: ScalarType.Float64));
        Energy = values[0].item<double>();
        var alpha = vectors[TensorIndex.Colon, 0].data<double>().ToArray();
        double sign = Math.Sign(alpha[0]);
        coefficients = alpha.Select((a, l) => sign * a * Math.Sqrt((2.0 * l + 1) / 2)).ToArray();
    }

    public double Energy { get; }

    public IReadOnlyList<long> ConfigurationShape => new long[] { 2, 3 };

    public IReadOnlyList<Parameter> Parameters => Array.Empty<Parameter>();

    public Tensor LogAbs(Tensor x, IReadOnlyList<Tensor>? weights = null)
    {
        var c = (x.select(1, 0) * x.select(1, 1)).sum(-1);
        // Bonnet's recursion (l+1) P_{l+1} = (2l+1) c P_l − l P_{l−1}.
        Tensor previous = ones_like(c), current = c;
        var sum = previous * coefficients[0] + current * coefficients[1];
        for (int l = 1; l + 1 < coefficients.Length; l++)
        {
            var next = ((2 * l + 1) * c * current - l * previous) / (l + 1);
            sum = sum + next * coefficients[l + 1];
            previous = current;
            current = next;
        }
        return sum.log();
    }

    public string Describe() => "{\"kind\":\"two-rotor-exact\"}";
}

public class RotorWavefunctionTests
{
    private static void Randomise(nn.Module module, long seed, double scale = 0.3)
    {
        using var g = new Generator((ulong)seed);
        using var _ = no_grad();
        foreach (var p in module.parameters()) p.copy_(randn(p.shape, dtype: p.dtype, generator: g).mul(scale));
    }

    private static IRotorWavefunction Build(string kind, int sites, int[] hidden, long seed, int window = 0, int messages = 0)
    {
        var features = window == 0 ? null : PairFeatures.Window(window);
        return kind == "singlet"
            ? new SingletWavefunction(sites, hidden, seed, features, messages)
            : new IsovectorWavefunction(sites, hidden, seed, features, messageRange: messages);
    }

    [Theory]
    [InlineData("singlet", 2, new int[0], 0, 0)]
    [InlineData("singlet", 5, new int[0], 0, 0)]
    [InlineData("singlet", 3, new[] { 6 }, 0, 0)]
    [InlineData("singlet", 8, new[] { 8, 5 }, 0, 0)]
    [InlineData("singlet", 3, new[] { 6 }, 3, 0)]
    [InlineData("singlet", 7, new[] { 5, 4 }, 4, 0)]
    [InlineData("isovector", 2, new int[0], 0, 0)]
    [InlineData("isovector", 4, new[] { 6 }, 0, 0)]
    [InlineData("isovector", 7, new[] { 5, 4 }, 0, 0)]
    [InlineData("isovector", 5, new[] { 5 }, 5, 0)]
    // Message passing: slots shifted into a wider frame (L = 12), and folded once the frame wraps the chain.
    [InlineData("singlet", 12, new[] { 4, 4 }, 0, 1)]
    [InlineData("singlet", 8, new[] { 5, 4, 3 }, 0, 1)]
    [InlineData("singlet", 4, new[] { 4, 4 }, 3, 2)]
    [InlineData("isovector", 6, new[] { 4, 4, 4 }, 0, 1)]
    [InlineData("isovector", 9, new[] { 5, 4 }, 3, 1)]
    [InlineData("isovector", 3, new[] { 4, 3 }, 0, 2)]
    public void ForwardLaplacianEqualsAutodiff(string kind, int sites, int[] hidden, int window, int messages)
    {
        var wavefunction = Build(kind, sites, hidden, 3, window, messages);
        Randomise((nn.Module)wavefunction, 17);
        using var g = new Generator(5);
        var n = RotorChain.Uniform(6, sites, g);
        var forward = wavefunction.Derivatives(n);
        var oracle = AutodiffDerivatives.Of(wavefunction, n);
        Assert.True(forward.LogAbs.allclose(oracle.LogAbs, rtol: 0, atol: 1e-12));
        Assert.True(forward.Gradient.allclose(oracle.Gradient, rtol: 0, atol: 1e-10), $"gradient differs by {(forward.Gradient - oracle.Gradient).abs().max().item<double>():E2}");
        double lap = (forward.Laplacian - oracle.Laplacian).abs().max().item<double>();
        Assert.True(lap < 1e-10, $"Laplacian differs by {lap:E2}");
        // The R³ gradient of a degree-0 function is tangent to each sphere.
        Assert.True((forward.Gradient * n).sum(-1).abs().max().item<double>() < 1e-12);
    }

    [Theory]
    [InlineData(5, 1, 0)]
    [InlineData(6, 3, 0)]
    [InlineData(7, 2, 1)]
    public void MomentumStatesHaveExactDerivativesToo(int sites, int momentum, int messages)
    {
        var hidden = messages == 0 ? new[] { 4 } : new[] { 4, 3 };
        var wavefunction = new IsovectorWavefunction(sites, hidden, 3, PairFeatures.StarAndWindow(sites / 2, 3), momentum, messages);
        Randomise(wavefunction, 31);
        using var g = new Generator(8);
        var n = RotorChain.Uniform(5, sites, g);
        var forward = wavefunction.Derivatives(n);
        var oracle = AutodiffDerivatives.Of(wavefunction, n);
        Assert.True(forward.Gradient.allclose(oracle.Gradient, rtol: 0, atol: 1e-10));
        Assert.True((forward.Laplacian - oracle.Laplacian).abs().max().item<double>() < 1e-10);
        Assert.Contains("momentum index k = 4", Assert.Throws<ArgumentException>(() => new IsovectorWavefunction(6, new int[0], 1, null, 4)).Message);
    }

    [Fact]
    public void LaplacianAgreesWithFiniteDifferencesAlongGeodesics()
    {
        // Δ_{S²} f = Σ_a d²/dt² f(exp_n(t e_a)) at t = 0 for an orthonormal tangent frame e₁, e₂ (normal coordinates).
        const int sites = 4;
        var wavefunction = new IsovectorWavefunction(sites, new[] { 5 }, 2, PairFeatures.Window(3));
        Randomise(wavefunction, 23);
        using var g = new Generator(9);
        var n = RotorChain.Uniform(3, sites, g);
        var d = wavefunction.Derivatives(n);
        const double h = 1e-3;
        var laplacian = zeros(3, dtype: ScalarType.Float64);
        var f0 = wavefunction.LogAbs(n);
        for (int i = 0; i < sites; i++)
        {
            var site = n.select(1, i);                                       // [B, 3]
            var helper = tensor(new[] { 0.3, -0.5, 0.8 }, dtype: ScalarType.Float64).expand(3, 3);
            var e1 = linalg.cross(site, helper); e1 = e1 / e1.norm(-1, keepdim: true);
            var e2 = linalg.cross(site, e1);
            foreach (var e in new[] { e1, e2 })
            {
                Tensor Moved(double t)
                {
                    var m = n.clone();
                    m[TensorIndex.Colon, i] = site * Math.Cos(t) + e * Math.Sin(t);
                    return wavefunction.LogAbs(m);
                }
                laplacian = laplacian + (Moved(h) + Moved(-h) - 2 * f0) / (h * h);
                // The first derivative along e is ∇f·e.
                var slope = (Moved(h) - Moved(-h)) / (2 * h);
                Assert.True((slope - (d.Gradient.select(1, i) * e).sum(-1)).abs().max().item<double>() < 1e-5);
            }
        }
        double diff = (laplacian - d.Laplacian).abs().max().item<double>();
        Assert.True(diff < 1e-4, $"finite differences differ by {diff:E2}");
    }

    [Fact]
    public void SymmetriesOfTheAnsatze()
    {
        const int sites = 6;
        var singlet = new SingletWavefunction(sites, new[] { 6 }, 1, PairFeatures.Window(4));
        var messages = new SingletWavefunction(sites, new[] { 5, 4 }, 1, messageRange: 1);
        var isovector = new IsovectorWavefunction(sites, new[] { 6 }, 1);
        Randomise(singlet, 3);
        Randomise(messages, 5);
        Randomise(isovector, 4);
        using var g = new Generator(2);
        var n = RotorChain.Uniform(5, sites, g);
        var (q, _) = linalg.qr(randn(new long[] { 3, 3 }, dtype: ScalarType.Float64, generator: g));
        var rotated = n.matmul(q.t());
        var shifted = n.roll(2, 1);
        // The singlets are invariant under rotations (and reflections) and translations.
        foreach (var psi in new[] { singlet, messages })
        {
            Assert.True(psi.LogAbs(rotated).allclose(psi.LogAbs(n), rtol: 0, atol: 1e-12));
            Assert.True(psi.LogAbs(shifted).allclose(psi.LogAbs(n), rtol: 0, atol: 1e-12));
        }
        // Messages make it more than a sum of per-site functions of each site's own star: moving one site changes
        // the outputs of sites whose stars do not contain it.
        Assert.Contains("at least two hidden layers", Assert.Throws<ArgumentException>(() => new SingletWavefunction(sites, new[] { 5 }, 1, messageRange: 1)).Message);
        Assert.Contains("message range 9", Assert.Throws<ArgumentException>(() => new SingletWavefunction(sites, new[] { 5, 5 }, 1, messageRange: 9)).Message);
        // The isovector is translation-invariant, odd under n → −n, and a rotation about ẑ leaves it unchanged (M = 0).
        Assert.True(isovector.LogAbs(shifted).allclose(isovector.LogAbs(n), rtol: 0, atol: 1e-12));
        Assert.True(isovector.Sign(n.neg()).eq(isovector.Sign(n).neg()).all().item<bool>());
        double a = 0.7;
        var rz = tensor(new[] { Math.Cos(a), -Math.Sin(a), 0, Math.Sin(a), Math.Cos(a), 0, 0, 0, 1 }, new long[] { 3, 3 }, dtype: ScalarType.Float64);
        Assert.True(isovector.LogAbs(n.matmul(rz.t())).allclose(isovector.LogAbs(n), rtol: 0, atol: 1e-12));
    }

    [Fact]
    public void UniformTimesMagnetisationIsAnL1StateOfTheKineticTerm()
    {
        // ψ = ẑ·(n₀ + n₁) is a sum of Y₁⁰'s: each site's L² gives 2, so the kinetic local energy is (g²/2)·2 = g²
        // exactly and E_loc = g² − n₀·n₁/g² (one bond).
        const double g2 = 1.7;
        var psi = new IsovectorWavefunction(2, Array.Empty<int>(), 1);
        var h = new RotorChainHamiltonian(2, g2);
        using var g = new Generator(3);
        var n = RotorChain.Uniform(50, 2, g);
        var local = h.LocalValues(psi, n);
        var expected = g2 - (n.select(1, 0) * n.select(1, 1)).sum(-1) / g2;
        Assert.True(local.allclose(expected, rtol: 0, atol: 1e-12));
    }

    [Fact]
    public void TheExactTwoRotorGroundStateHasZeroVariance()
    {
        const double g2 = 1.3;
        var exact = new TwoRotorGroundState(g2);
        var h = new RotorChainHamiltonian(2, g2, LaplacianRoute.Autodiff);
        using var g = new Generator(4);
        var local = h.LocalValues(exact, RotorChain.Uniform(40, 2, g));
        Assert.True((local - exact.Energy).abs().max().item<double>() < 1e-10, $"E_loc spread {(local - exact.Energy).abs().max().item<double>():E2}");
        // Two oracles, one answer: the Legendre-basis singlet and the |l m⟩ exact diagonalisation.
        Assert.Equal(exact.Energy, RotorChainSpectrum.Solve(2, g2, 12).GroundEnergy, 10);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void LogDerivativesInOnePassEqualPerSampleAutograd(int messages)
    {
        var wavefunction = new IsovectorWavefunction(5, messages == 0 ? new[] { 4 } : new[] { 4, 3 }, 8, messageRange: messages);
        Randomise(wavefunction, 12);
        using var g = new Generator(6);
        var n = RotorChain.Uniform(4, 5, g);
        var jacobian = VariationalState.LogDerivatives(wavefunction, n);
        Assert.Equal(VariationalState.ParameterCount(wavefunction), jacobian.shape[1]);
        for (int b = 0; b < 4; b++)
        {
            var logAbs = wavefunction.LogAbs(n.narrow(0, b, 1)).sum();
            var grads = autograd.grad(new[] { logAbs }, wavefunction.Parameters.Cast<Tensor>().ToArray(), allow_unused: true);
            var row = cat(grads.Select((gr, i) => (gr is null ? zeros_like(wavefunction.Parameters[i]) : gr).reshape(-1)).ToArray(), 0);
            Assert.True(row.allclose(jacobian[b], rtol: 0, atol: 1e-12));
        }
    }

    [Fact]
    public void MinSrEqualsParameterSpaceSr()
    {
        using var g = new Generator(1);
        var o = randn(new long[] { 12, 30 }, dtype: ScalarType.Float64, generator: g);
        var eps = randn(new long[] { 12 }, dtype: ScalarType.Float64, generator: g);
        o = o - o.mean(new long[] { 0 }, keepdim: true);
        var sampleSpace = StochasticReconfiguration.Direction(o, eps, 0.05, out bool usedSamples);
        Assert.True(usedSamples);
        // The same δ from the P×P system.
        var s = o.t().matmul(o).div(12) + eye(30, dtype: ScalarType.Float64).mul(0.05);
        var parameterSpace = linalg.solve(s, o.t().matmul(eps).div(12));
        Assert.True(sampleSpace.allclose(parameterSpace, rtol: 0, atol: 1e-10));
    }

    [Fact]
    public void SplitRHatSeesChainsThatDisagree()
    {
        // Sample-major values of 4 chains × 40 samples: independent noise is R̂ ≈ 1; one chain shifted by 3σ is not.
        var random = new Random(3);
        double Gaussian() => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        var values = Enumerable.Range(0, 160).Select(_ => Gaussian()).ToArray();
        double mixed = EnergyStatistics.SplitRHat(values, 4, 40);
        Assert.InRange(mixed, 0.95, 1.1);
        var shifted = values.Select((v, i) => i % 4 == 0 ? v + 3 : v).ToArray();
        Assert.True(EnergyStatistics.SplitRHat(shifted, 4, 40) > 1.3);
        Assert.True(double.IsNaN(EnergyStatistics.SplitRHat(values, 40, 3)), "too short to split");
    }

    [Fact]
    public void RotationProposalsStayOnTheSpheres()
    {
        using var g = new Generator(2);
        var n = RotorChain.Uniform(100, 5, g);
        var single = new RandomRotationProposal(RotationMove.SingleSite, 0.4);
        var (moved, correction) = single.Propose(n, g);
        Assert.True((moved.norm(-1) - 1).abs().max().item<double>() < 1e-14);
        Assert.Equal(0, correction.abs().max().item<double>());
        var changed = (moved - n).abs().sum(-1).gt(0).sum(1);
        Assert.True(changed.le(1).all().item<bool>(), "a single-site move changed more than one site");
        var angles = (moved * n).sum(-1).clamp(-1, 1).acos();
        Assert.True(angles.max().item<double>() <= 0.4 + 1e-12);
        var all = new RandomRotationProposal(RotationMove.AllSites, 10);
        Assert.Equal(Math.PI, all.Scale);
        var (everywhere, _) = all.Propose(n, g);
        Assert.True((everywhere - n).abs().sum(-1).gt(0).all().item<bool>());
        Assert.Contains("rotation scale -1", Assert.Throws<ArgumentException>(() => all.Scale = -1).Message);
    }

    [Theory]
    [InlineData(MoveEvaluation.Full)]
    [InlineData(MoveEvaluation.Local)]
    public void MetropolisSamplesTheBornDensityOfAJastrowPair(MoveEvaluation evaluation)
    {
        // On L = 2 each site sees the other, so the Jastrow is ψ = e^{2v c} with c = n₀·n₁. For uniform vectors c is
        // uniform on [−1, 1], so |ψ|² = e^{4vc} gives ⟨c⟩ = coth(4v) − 1/(4v) exactly.
        const double v = 0.8;
        var psi = new SingletWavefunction(2, Array.Empty<int>(), 1);
        using (no_grad()) psi.Parameters[0].fill_(v);
        const int chains = 64;
        using var start = new Generator(1);
        using var sampler = new MetropolisHastings(new BornDensity(psi), new RandomRotationProposal(RotationMove.SingleSite, 1.0), chains, 7,
            initial: RotorChain.Uniform(chains, 2, start), evaluation: evaluation);
        sampler.Thermalize(300, adaptScale: true);
        var perStep = new List<double[]>();
        for (int t = 0; t < 1500; t++)
        {
            sampler.Step();
            if (t % 5 == 0) perStep.Add((sampler.State.select(1, 0) * sampler.State.select(1, 1)).sum(-1).data<double>().ToArray());
        }
        var (mean, error) = ChainStatistics.MeanOverChains(perStep);
        double exact = 1 / Math.Tanh(4 * v) - 1 / (4 * v);
        Assert.True(Math.Abs(mean - exact) < 4 * error, $"⟨c⟩ = {mean} ± {error}, exact {exact}");
    }

    [Fact]
    public void StochasticReconfigurationPreconditionsWithTheEvaluationItIsGiven()
    {
        // Two evaluations on different batches: SR applied with the first must use the first batch's geometry, whatever
        // the objective evaluated since (it reads the evaluation, not the objective's state).
        var psi = new IsovectorWavefunction(3, new[] { 4 }, 6);
        Randomise(psi, 3);
        const int chains = 8;
        using var start = new Generator(2);
        using var sampler = new MetropolisHastings(new BornDensity(psi), new RandomRotationProposal(RotationMove.SingleSite, 1.0), chains, 5,
            initial: RotorChain.Uniform(chains, 3, start));
        var energy = new VariationalEnergy(psi, new RotorChainHamiltonian(3, 1.0), sampler, 4, 3);
        using var g = new Generator(9);
        var first = energy.Evaluate(g);
        var second = energy.Evaluate(g);
        Assert.NotNull(first.PerSampleJacobian);
        Assert.False(first.PerSampleJacobian!.allclose(second.PerSampleJacobian!), "two batches differ");
        var sr = new StochasticReconfiguration(energy, 0.01);
        var parameters = psi.Parameters;
        sr.Apply(parameters, first);
        var applied = cat(parameters.Select(p => p.grad!.reshape(-1)).ToArray(), 0);
        var expected = StochasticReconfiguration.Direction(first.PerSampleJacobian!, first.PerSampleResiduals!, 0.01, out _);
        Assert.True(applied.allclose(expected, rtol: 0, atol: 1e-12));
        // An evaluation without the per-sample derivatives cannot be preconditioned.
        var bare = new ObjectiveEvaluation(first.Loss, first.Value, first.Error, first.Diagnostics);
        Assert.Throws<InvalidOperationException>(() => sr.Apply(parameters, bare));
    }
}
