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
