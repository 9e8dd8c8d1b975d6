using Hybrid.Nnft;
using static TorchSharp.torch;

namespace Hybrid.Core.Tests.Nnft;

public class NetworkEnsembleTests
{
    private static readonly double[][] Points = { new[] { -0.3 }, new[] { 0.0 }, new[] { 0.2 }, new[] { 0.5 } };

    private static NetworkEnsemble Gauss(long networks, int chunk, long seed = 3) =>
        new(new SingleLayerNetwork(NetworkActivation.Gauss, 1, 4, 0.6, 0.3), Points, new EnsembleOptions { Networks = networks, ChunkSize = chunk, Blocks = 8 }, seed);

    private static double Mean(CorrelatorSums s, int order, int combo)
    {
        double sum = 0;
        for (int b = 0; b < s.Blocks; b++) sum += s.Sums(order, b)[combo];
        return sum / s.Networks;
    }

    [Fact]
    public void CheckpointAndResumeGiveTheSameSumsAsOneRun()
    {
        var straight = Gauss(1000, 100);
        while (!straight.IsComplete) straight.Step();
        var path = Path.Combine(Path.GetTempPath(), $"hybrid-nnft-{Guid.NewGuid():N}.bin");
        var first = Gauss(1000, 100);
        for (int i = 0; i < 4; i++) first.Step();
        first.SaveCheckpoint(path);
        var resumed = Gauss(1000, 100);
        resumed.LoadCheckpoint(path);
        Assert.Equal(4, resumed.CompletedChunks);
        while (!resumed.IsComplete) resumed.Step();
        var other = Gauss(1000, 100, seed: 4);
        Assert.Throws<InvalidDataException>(() => other.LoadCheckpoint(path));
        File.Delete(path);
        foreach (int order in new[] { 1, 2, 4 })
            for (int b = 0; b < 8; b++)
                Assert.Equal(straight.Sums.Sums(order, b), resumed.Sums.Sums(order, b));
        Assert.Equal(1000, resumed.Sums.Networks);
    }

    [Fact]
    public void GaussNetTwoPointFunctionIsTheGaussianKernel()
    {
        // K = σ_b² + σ_W² exp(−σ_W²|x − x′|²/(2d)) at every width; 2·10⁵ networks of width 4.
        var e = Gauss(200_000, 20_000);
        while (!e.IsComplete) e.Step();
        var pairs = e.Sums.Indices(2);
        for (int p = 0; p < pairs.Count; p++)
        {
            double dx = Points[pairs[p][0]][0] - Points[pairs[p][1]][0];
            double exact = 0.09 + 0.36 * Math.Exp(-0.18 * dx * dx);
            // Var(φφ′) ≲ 3K² ≈ 0.6: the standard error of the mean is ≈ 0.0017; 5σ.
            Assert.True(Math.Abs(Mean(e.Sums, 2, p) - exact) < 0.009, $"G2{pairs[p][0]}{pairs[p][1]} = {Mean(e.Sums, 2, p)}, exact {exact}");
        }
        Assert.True(Math.Abs(Mean(e.Sums, 1, 0)) < 0.01, "⟨φ⟩ = 0 by the symmetry W₁ → −W₁, b₁ → −b₁");
    }

    [Fact]
    public void CauchyCosNetIsTheFreePropagatorInOneDimension()
    {
        var net = new CosNetwork(1, 3, 1.0, null);
        var e = new NetworkEnsemble(net, new[] { new[] { 0.0 }, new[] { 0.4 }, new[] { 1.0 } }, new EnsembleOptions { Networks = 200_000, Blocks = 8 }, 9);
        while (!e.IsComplete) e.Step();
        var pairs = e.Sums.Indices(2);
        double[] t = { 0, 0.4, 1.0 };
        for (int p = 0; p < pairs.Count; p++)
        {
            double exact = Math.Exp(-Math.Abs(t[pairs[p][0]] - t[pairs[p][1]])) / 2;
            Assert.True(Math.Abs(Mean(e.Sums, 2, p) - exact) < 0.01, $"G2 = {Mean(e.Sums, 2, p)}, exact {exact}");   // σ ≈ 0.0015 at N = 3
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void CosNetMomentaFollowTheCutoffPropagatorDensity(int d)
    {
        // The radial CDF F(r) ∝ ∫₀ʳ s^{d−1}/(s² + m²) ds, checked at its median by the fraction of draws below.
        var net = new CosNetwork(d, 1, 1.0, 8.0);
        using var u = linspace(0, 1, 10_001, dtype: ScalarType.Float64);
        var r = net.RadialQuantile(u).data<double>().ToArray();
        Assert.Equal(0, r[0], 6);   // bisection resolves the target r − atan r ≈ r³/3 near 0 only to ~1e-8 in r
        Assert.Equal(8.0, r[^1], 9);
        Assert.True(r.Zip(r.Skip(1), (a, b) => b >= a).All(x => x), "monotone");
        Func<double, double> cdf = d switch
        {
            1 => x => Math.Atan(x) / Math.Atan(8),
            2 => x => Math.Log(1 + x * x) / Math.Log(65),
            _ => x => (x - Math.Atan(x)) / (8 - Math.Atan(8)),
        };
        foreach (int k in new[] { 1000, 5000, 9000 }) Assert.Equal(k / 10_000.0, cdf(r[k]), 9);
    }

    [Fact]
    public void OverflowStopsWithADiagnosisAndBadInputIsRefused()
    {
        var exp = new SingleLayerNetwork(NetworkActivation.Exp, 1, 4, 30, 30);
        var e = new NetworkEnsemble(exp, new[] { new[] { 50.0 } }, new EnsembleOptions { Networks = 100, DType = ScalarType.Float32 }, 1);
        Assert.Contains("non-finite", Assert.Throws<NetworkDivergenceException>(() => e.Step()).Message);
        Assert.Contains("width 0", Assert.Throws<ArgumentException>(() => new SingleLayerNetwork(NetworkActivation.Erf, 1, 0, 1, 1)).Message);
        Assert.Contains("σ_W -1", Assert.Throws<ArgumentException>(() => new SingleLayerNetwork(NetworkActivation.Erf, 1, 2, -1, 1)).Message);
        Assert.Contains("mass 0", Assert.Throws<ArgumentException>(() => new CosNetwork(1, 2, 0, null)).Message);
        Assert.Contains("needs a momentum cutoff", Assert.Throws<ArgumentException>(() => new CosNetwork(2, 2, 1, null)).Message);
        Assert.Contains("dimension 2", Assert.Throws<ArgumentException>(() =>
            new NetworkEnsemble(new SingleLayerNetwork(NetworkActivation.Erf, 1, 2, 1, 1), new[] { new[] { 1.0, 2.0 } }, new EnsembleOptions(), 1)).Message);
    }

    [Fact]
    public void DeepNetworksOfOneLayerAreSingleLayerNetworksInDistribution()
    {
        // Same parameter distributions, so the same G₂ within errors (not the same draws: the order differs).
        var deep = new DeepNetwork(NetworkActivation.Erf, 1, new[] { 8, 8 }, 1.0, 0.1);
        var e = new NetworkEnsemble(deep, Points, new EnsembleOptions { Networks = 20_000, Blocks = 8 }, 2);
        while (!e.IsComplete) e.Step();
        Assert.Equal(20_000, e.Sums.Networks);
        Assert.True(Mean(e.Sums, 2, 0) > 0, "G₂(x, x) > 0");
        Assert.Equal("deep-erf", deep.Kind);
    }
}

public class CosNetworkVariantTests
{
    /// <summary>(1/π) ∫₀^Λ cos(pΔ)/(p² + m²) dp by Simpson's rule: the d = 1 propagator with a cutoff.</summary>
    private static double Propagator(double delta, double mass, double cutoff)
    {
        const int n = 20_000;
        double h = cutoff / n, sum = 0;
        for (int i = 0; i <= n; i++)
        {
            double p = i * h, f = Math.Cos(p * delta) / (p * p + mass * mass);
            sum += (i == 0 || i == n ? 1 : i % 2 == 1 ? 4 : 2) * f;
        }
        return sum * h / 3 / Math.PI;
    }

    [Theory]
    [InlineData(CosFrequencies.PropagatorWeighted, CosAmplitudes.GaussianPair)]
    [InlineData(CosFrequencies.Uniform, CosAmplitudes.Gaussian)]
    [InlineData(CosFrequencies.Uniform, CosAmplitudes.GaussianPair)]
    public void EveryVariantHasTheSamePropagator(CosFrequencies frequencies, CosAmplitudes amplitudes)
    {
        var net = new CosNetwork(1, 2, 1.0, 8.0, frequencies, amplitudes);
        var points = new[] { new[] { 0.0 }, new[] { 0.5 }, new[] { 1.2 } };
        var e = new NetworkEnsemble(net, points, new EnsembleOptions { Networks = 200_000, Blocks = 8 }, 4);
        while (!e.IsComplete) e.Step();
        var pairs = e.Sums.Indices(2);
        for (int p = 0; p < pairs.Count; p++)
        {
            double sum = 0;
            for (int b = 0; b < e.Sums.Blocks; b++) sum += e.Sums.Sums(2, b)[p];
            double mean = sum / e.Sums.Networks;
            double exact = Propagator(points[pairs[p][0]][0] - points[pairs[p][1]][0], 1.0, 8.0);
            // Var(φφ′) ≲ 3G(0)² ≈ 0.7 for Gaussian amplitudes (uniform frequencies: heavier): the error of the mean of
            // 2·10⁵ networks is about 0.002–0.004; a tolerance of 0.015 is ≥ 4σ.
            Assert.True(Math.Abs(mean - exact) < 0.015, $"{frequencies}/{amplitudes}: G2 = {mean}, exact {exact}");
        }
    }
}
