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

public class VectorOrnsteinUhlenbeckTests
{
    [Fact]
    public void StandardisedComponentsHaveUnitVarianceTheirOwnRatesAndNoCrossCorrelation()
    {
        using var generator = new Generator(8);
        using var u = OrnsteinUhlenbeck.SampleStandardised(new[] { 0.5, 2.0 }, 40_000, 3, 0.5, generator);
        Assert.Equal(new long[] { 40_000, 3, 2 }, u.shape);
        double Mean(Tensor t) => t.mean().item<double>();
        // Standard errors ≤ √2/200 ≈ 0.007 for each product's mean: 5σ = 0.035.
        Assert.True(Math.Abs(Mean(u[.., 0, 0].square()) - 1) < 0.035);
        Assert.True(Math.Abs(Mean(u[.., 0, 1].square()) - 1) < 0.035);
        Assert.True(Math.Abs(Mean(u[.., 0, 0] * u[.., 2, 0]) - Math.Exp(-0.5)) < 0.035, "e^{−ω₁·1}");
        Assert.True(Math.Abs(Mean(u[.., 0, 1] * u[.., 2, 1]) - Math.Exp(-2.0)) < 0.035, "e^{−ω₂·1}");
        Assert.True(Math.Abs(Mean(u[.., 1, 0] * u[.., 1, 1])) < 0.035, "independent components");
        Assert.Throws<ArgumentException>(() => OrnsteinUhlenbeck.SampleStandardised(Array.Empty<double>(), 1, 1, 0.1, generator));
    }
}
