using Hybrid.Nnqm;

namespace Hybrid.Core.Tests.Nnqm;

public class KarhunenLoeveTests
{
    [Fact]
    public void OrnsteinUhlenbeckEigenvaluesMatchTheTranscendentalEquations()
    {
        var ou = new OrnsteinUhlenbeck(1.0);
        var kl = KarhunenLoeve.Compute((t, s) => ou.Covariance(t - s), 1.0, 6);
        var exact = KarhunenLoeve.OrnsteinUhlenbeckEigenvalues(1.0, 1.0, 6);
        Assert.Equal(0.57466, exact[0], 5);                                   // physics.md: the largest at ω = T = 1
        for (int k = 0; k < 6; k++)
            // The kink of e^{−|t−s|} limits Nyström's accuracy; the doubling estimate bounds the error.
            Assert.True(Math.Abs(kl.Eigenvalues[k] - exact[k]) < Math.Max(10 * kl.Uncertainty[k], 1e-6), $"λ{k + 1} = {kl.Eigenvalues[k]} against {exact[k]} (± {kl.Uncertainty[k]})");
    }

    [Fact]
    public void TheExpansionRebuildsTheCovariance()
    {
        var ou = new OrnsteinUhlenbeck(2.0);
        var kl = KarhunenLoeve.Compute((t, s) => ou.Covariance(t - s), 1.5, 48);
        int n = kl.Nodes.Count;
        foreach (var (i, j) in new[] { (0, 0), (n / 3, n / 2), (n / 2, n - 1) })
        {
            double sum = 0;
            for (int k = 0; k < kl.Eigenvalues.Count; k++) sum += kl.Eigenvalues[k] * kl.Modes[k][i] * kl.Modes[k][j];
            double exact = ou.Covariance(kl.Nodes[i] - kl.Nodes[j]);
            // 48 of 256 modes: the tail Σ_{k>48} λ_k ≈ (2T/π²)·(1/48) bounds the difference.
            Assert.True(Math.Abs(sum - exact) < 0.02, $"C({kl.Nodes[i]:F2}, {kl.Nodes[j]:F2}) = {sum} against {exact}");
        }
        Assert.Contains("T 0", Assert.Throws<ArgumentException>(() => KarhunenLoeve.Compute((t, s) => 1, 0, 2)).Message);
    }
}

public class KarhunenLoeveSamplingTests
{
    [Fact]
    public void NystromInterpolationIsExactAtTheNodesAndTheSampledModelHasTheKernel()
    {
        const double omega = 1.0;
        var kl = KarhunenLoeve.Compute((t, s) => Math.Exp(-omega * Math.Abs(t - s)) / (2 * omega), 1.0, 64, 16);
        for (int k = 0; k < 3; k++)
            foreach (int j in new[] { 0, 17, 100, 255 })
                Assert.Equal(kl.Modes[k][j], kl.Mode(k, kl.Nodes[j]), 9);
        double[] times = { -1.0, -0.4, 0.0, 0.3, 1.0 };
        using var generator = new TorchSharp.torch.Generator(5);
        using var x = kl.Sample(times, 40_000, generator);
        var v = x.data<double>().ToArray();
        foreach (var (i, j) in new[] { (0, 0), (1, 3), (2, 2), (0, 4) })
        {
            double sum = 0;
            for (int p = 0; p < 40_000; p++) sum += v[p * 5 + i] * v[p * 5 + j];
            double mean = sum / 40_000, exact = Math.Exp(-omega * Math.Abs(times[i] - times[j])) / 2;
            // Var(x_i x_j) ≤ 2·0.25: standard error ≤ 0.0036; 5σ. 64 modes leave a truncation far below that.
            Assert.True(Math.Abs(mean - exact) < 0.018, $"C({times[i]}, {times[j]}) = {mean} against {exact}");
        }
        Assert.Throws<ArgumentException>(() => kl.Mode(0, 1.5));
    }

    [Fact]
    public void StationaryGaussianProcessHasItsKernelEvenWhenTheMatrixIsSingularToRoundOff()
    {
        var gp = StationaryGaussianProcess.GaussianKernel(1.0);
        var times = Enumerable.Range(0, 21).Select(i => -1 + 0.1 * i).ToArray();   // e^{−t²/2} at spacing 0.1: singular to round-off
        using var generator = new TorchSharp.torch.Generator(9);
        using var x = gp.Sample(times, 40_000, generator);
        Assert.True(x.isfinite().all().item<bool>());
        var v = x.data<double>().ToArray();
        foreach (var (i, j) in new[] { (10, 10), (10, 12), (0, 20) })
        {
            double sum = 0;
            for (int p = 0; p < 40_000; p++) sum += v[p * 21 + i] * v[p * 21 + j];
            double mean = sum / 40_000, exact = gp.Covariance(times[i] - times[j]);
            Assert.True(Math.Abs(mean - exact) < 0.036, $"K({times[i]} − {times[j]}) = {mean} against {exact}");   // 5σ, σ ≤ √2/200
        }
    }
}
