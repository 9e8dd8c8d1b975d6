using Hybrid.Nnqm;
using static TorchSharp.torch;

namespace Hybrid.Core.Tests.Nnqm;

public class OrnsteinUhlenbeckTests
{
    [Fact]
    public void ExactSamplerHasTheOscillatorsCovarianceAtEveryLag()
    {
        var ou = new OrnsteinUhlenbeck(1.3);
        using var generator = new Generator(7);
        using var y = ou.Sample(40_000, 12, 0.25, generator);
        var v = y.data<double>().ToArray();
        for (int lag = 0; lag < 12; lag += 3)
        {
            double sum = 0;
            for (int p = 0; p < 40_000; p++) sum += v[p * 12] * v[p * 12 + lag];
            double mean = sum / 40_000, exact = ou.Covariance(lag * 0.25);
            // Var(y₀y_t) = (1 + e^{−2ωt})/(2ω)² ≤ 2·0.148: standard error ≤ 0.0027; 5σ.
            Assert.True(Math.Abs(mean - exact) < 0.014, $"lag {lag}: {mean} against {exact}");
        }
        Assert.Contains("ω -1", Assert.Throws<ArgumentException>(() => new OrnsteinUhlenbeck(-1)).Message);
        Assert.Contains("Δt 0", Assert.Throws<ArgumentException>(() => ou.Sample(1, 2, 0, generator)).Message);
    }
}
