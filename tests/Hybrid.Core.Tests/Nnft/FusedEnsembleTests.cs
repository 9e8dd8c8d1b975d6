using System.Runtime.Intrinsics;
using Hybrid.Nnft;
using static TorchSharp.torch;

namespace Hybrid.Core.Tests.Nnft;

public class FusedEnsembleTests
{
    private static readonly double[][] Points = { new[] { -0.3 }, new[] { 0.0 }, new[] { 0.2 }, new[] { 0.5 } };

    private static NetworkEnsemble Run(SingleLayerNetwork net, EnsembleEngine engine, long networks, long seed, ScalarType dtype = ScalarType.Float64, int chunk = 0, int blocks = 16)
    {
        var e = new NetworkEnsemble(net, Points, new EnsembleOptions { Networks = networks, Blocks = blocks, ChunkSize = chunk, DType = dtype, Engine = engine }, seed);
        while (!e.IsComplete) e.Step();
        return e;
    }

    /// <summary>The mean over networks of multiset <paramref name="combo"/> and its standard error from the spread of the block means.</summary>
    private static (double Mean, double Error) Estimate(CorrelatorSums s, int order, int combo)
    {
        var means = Enumerable.Range(0, s.Blocks).Select(b => s.Sums(order, b)[combo] / s.Counts[b]).ToArray();
        double mean = Enumerable.Range(0, s.Blocks).Sum(b => s.Sums(order, b)[combo]) / s.Networks;
        double spread = means.Sum(m => (m - means.Average()) * (m - means.Average())) / (s.Blocks - 1);
        return (mean, Math.Sqrt(spread / s.Blocks));
    }

    [Theory]
    [InlineData(NetworkActivation.Gauss, ScalarType.Float64)]
    [InlineData(NetworkActivation.Gauss, ScalarType.Float32)]
    [InlineData(NetworkActivation.Relu, ScalarType.Float64)]
    [InlineData(NetworkActivation.Exp, ScalarType.Float32)]
    public void FusedNetworksHaveTheTensorRoutesTwoAndFourPointFunctions(NetworkActivation activation, ScalarType dtype)
    {
        // Width 3, where G₄ is far from Gaussian: the fused and the tensor ensembles (independent streams) must agree
        // in every G₂ and G₄ multiset within 5 standard errors of the difference, from 32 block means each.
        var net = new SingleLayerNetwork(activation, 1, 3, 0.6, 0.3);
        var fused = Run(net, EnsembleEngine.Fused, 200_000, 11, dtype, blocks: 32);
        var tensor = Run(net, EnsembleEngine.Tensor, 200_000, 12, dtype, blocks: 32);
        Assert.Equal(EnsembleEngine.Fused, fused.Engine);
        Assert.Equal(EnsembleEngine.Tensor, tensor.Engine);
        foreach (int order in new[] { 1, 2, 4 })
            for (int c = 0; c < fused.Sums.Indices(order).Count; c++)
            {
                var (f, fe) = Estimate(fused.Sums, order, c);
                var (t, te) = Estimate(tensor.Sums, order, c);
                double sigma = Math.Sqrt(fe * fe + te * te);
                Assert.True(Math.Abs(f - t) < 5 * sigma, $"order {order} multiset {string.Join("", fused.Sums.Indices(order)[c])}: fused {f} ± {fe}, tensor {t} ± {te}");
            }
    }

    [Fact]
    public void FusedGaussNetTwoPointFunctionIsTheGaussianKernelInFloat32()
    {
        // K = σ_b² + σ_W² exp(−σ_W²|x − x′|²/(2d)) at every width; the error bound from the blocks, 5σ.
        var e = Run(new SingleLayerNetwork(NetworkActivation.Gauss, 1, 4, 0.6, 0.3), EnsembleEngine.Auto, 200_000, 5, ScalarType.Float32);
        Assert.Equal(EnsembleEngine.Fused, e.Engine);
        var pairs = e.Sums.Indices(2);
        for (int p = 0; p < pairs.Count; p++)
        {
            double dx = Points[pairs[p][0]][0] - Points[pairs[p][1]][0];
            double exact = 0.09 + 0.36 * Math.Exp(-0.18 * dx * dx);
            var (mean, error) = Estimate(e.Sums, 2, p);
            Assert.True(Math.Abs(mean - exact) < 5 * error, $"G2{pairs[p][0]}{pairs[p][1]} = {mean} ± {error}, exact {exact}");
        }
    }

    [Theory]
    [InlineData(ScalarType.Float64)]
    [InlineData(ScalarType.Float32)]
    public void FusedRunIsDeterministicAndTheSameAcrossACheckpoint(ScalarType dtype)
    {
        var net = new SingleLayerNetwork(NetworkActivation.Gauss, 1, 5, 0.6, 0.3);
        NetworkEnsemble Make() => new(net, Points, new EnsembleOptions { Networks = 1000, ChunkSize = 96, Blocks = 8, DType = dtype, Engine = EnsembleEngine.Fused }, 7);
        var straight = Make();
        while (!straight.IsComplete) straight.Step();
        var again = Make();
        while (!again.IsComplete) again.Step();
        var path = Path.Combine(Path.GetTempPath(), $"hybrid-nnft-fused-{Guid.NewGuid():N}.bin");
        var first = Make();
        for (int i = 0; i < 5; i++) first.Step();
        first.SaveCheckpoint(path);
        var resumed = Make();
        resumed.LoadCheckpoint(path);
        File.Delete(path);
        while (!resumed.IsComplete) resumed.Step();
        foreach (var other in new[] { again, resumed })
        {
            Assert.Equal(straight.Sums.Counts, other.Sums.Counts);
            foreach (int order in new[] { 1, 2, 4 })
                for (int b = 0; b < 8; b++)
                    Assert.Equal(straight.Sums.Sums(order, b), other.Sums.Sums(order, b));   // bit for bit
        }
        Assert.Equal(1000, resumed.Sums.Networks);
    }

    [Theory]
    [InlineData(ScalarType.Float64, "d6dd98d18c944f35")]
    [InlineData(ScalarType.Float32, "52224f351d01656c")]
    public void FusedStreamIsTheSameOnEveryMachine(ScalarType dtype, string pinned)
    {
        // The fused route's sums for one seed, to the last bit, as written on an AVX-512 machine: the same with
        // DOTNET_EnableAVX512=0 (two 256-bit halves) and on any x64 with FMA; a change of the stream shows here.
        var net = new SingleLayerNetwork(NetworkActivation.Gauss, 1, 5, 0.6, 0.3);
        var e = Run(net, EnsembleEngine.Fused, 1000, 17, dtype, chunk: 96, blocks: 8);
        var bits = new[] { 1, 2, 4 }.SelectMany(order => Enumerable.Range(0, 8).SelectMany(b => e.Sums.Sums(order, b)))
            .Aggregate(14695981039346656037UL, (h, v) => (h ^ (ulong)BitConverter.DoubleToInt64Bits(v)) * 1099511628211UL);
        Assert.Equal(pinned, bits.ToString("x16"));
    }

    [Theory]
    [InlineData(NetworkActivation.Gauss)]
    [InlineData(NetworkActivation.Exp)]
    [InlineData(NetworkActivation.Relu)]
    public void FusedEvaluationOfGivenParametersIsTheTensorEvaluation(NetworkActivation activation)
    {
        // 11 networks (a full group of 8 lanes and a partial one), d = 2, width 7, in float64.
        var net = new SingleLayerNetwork(activation, 2, 7, 0.8, 0.4);
        var inputs = new[] { new[] { -0.5, 0.3 }, new[] { 0.0, 0.0 }, new[] { 1.2, -0.7 } };
        var rng = new Random(3);
        var z = Enumerable.Range(0, 11 * net.ParameterCount).Select(_ => 2 * rng.NextDouble() - 1).ToArray();
        var fused = FusedSingleLayerEnsemble.EvaluateStandardised(net, z, inputs);
        using var zt = tensor(z, new long[] { 11, net.ParameterCount }, dtype: ScalarType.Float64);
        using var x = tensor(inputs.SelectMany(p => p).ToArray(), new long[] { 3, 2 }, dtype: ScalarType.Float64);
        using var phi = net.EvaluateStandardised(zt, x);
        var expected = phi.data<double>().ToArray();
        Assert.Equal(expected.Length, fused.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(fused[i] - expected[i]) <= 1e-12 * Math.Max(1, Math.Abs(expected[i])), $"φ[{i}] fused {fused[i]}, tensor {expected[i]}");
    }

    [Fact]
    public void GaussianLanesHaveTheMomentsOfTheStandardNormal()
    {
        // 2²¹ normals in each precision: standard errors of mean, variance, skewness and kurtosis are 1/√n, √(2/n),
        // √(6/n), √(24/n); 5σ each. Neighbouring lanes must be uncorrelated (|r| < 5/√n).
        const int vectors = 1 << 18;
        var doubles = new Vector512<double>[vectors];
        new GaussianLanes(1).Fill(doubles);
        var singles = new Vector512<float>[vectors / 2];
        new GaussianLanes(2).Fill(singles);
        foreach (var (name, values, lanes) in new[]
                 {
                     ("float64", doubles.SelectMany(v => Enumerable.Range(0, 8).Select(l => v[l])).ToArray(), 8),
                     ("float32", singles.SelectMany(v => Enumerable.Range(0, 16).Select(l => (double)v[l])).ToArray(), 16),
                 })
        {
            int n = values.Length;
            double mean = values.Average();
            double m2 = values.Sum(v => (v - mean) * (v - mean)) / n;
            double m3 = values.Sum(v => Math.Pow(v - mean, 3)) / n;
            double m4 = values.Sum(v => Math.Pow(v - mean, 4)) / n;
            Assert.True(Math.Abs(mean) < 5 / Math.Sqrt(n), $"{name}: mean {mean}");
            Assert.True(Math.Abs(m2 - 1) < 5 * Math.Sqrt(2.0 / n), $"{name}: variance {m2}");
            Assert.True(Math.Abs(m3 / Math.Pow(m2, 1.5)) < 5 * Math.Sqrt(6.0 / n), $"{name}: skewness {m3}");
            Assert.True(Math.Abs(m4 / (m2 * m2) - 3) < 5 * Math.Sqrt(24.0 / n), $"{name}: kurtosis {m4 / (m2 * m2)}");
            double r = 0;
            for (int i = 0; i + 1 < n; i += lanes) r += values[i] * values[i + 1];
            r /= n / lanes;
            Assert.True(Math.Abs(r) < 5 / Math.Sqrt(n / lanes), $"{name}: lanes 0 and 1 correlate, r = {r}");
        }
    }

    [Fact]
    public void QuadrantSineAndCosineAreWithinAnUlpOrTwo()
    {
        // qπ/2 + t for t across [−π/4, π/4] and every quadrant, against Math.Sin and Math.Cos (≤ 2.3·10⁻¹⁶ absolute).
        var rng = new Random(4);
        for (int i = 0; i < 20_000; i++)
        {
            var t = Enumerable.Range(0, 8).Select(_ => (rng.NextDouble() - 0.5) * Math.PI / 2).ToArray();
            var q = Enumerable.Range(0, 8).Select(l => (ulong)((i + l) % 4)).ToArray();
            var (sin, cos) = GaussianLanes.QuadrantSinCos(Vector512.Create(t), Vector512.Create(q));
            for (int l = 0; l < 8; l++)
            {
                // Math.Sin of qπ/2 + t carries the rounding of the argument (≤ 4.4·10⁻¹⁶ at |θ| ≤ 7π/4); compare with
                // the exact rotation of sin t and cos t instead.
                double s = Math.Sin(t[l]), c = Math.Cos(t[l]);
                var (es, ec) = q[l] switch { 0 => (s, c), 1 => (c, -s), 2 => (-s, -c), _ => (-c, s) };
                Assert.True(Math.Abs(sin[l] - es) <= 2.3e-16 && Math.Abs(cos[l] - ec) <= 2.3e-16, $"q {q[l]}, t {t[l]}: sin {sin[l]} against {es}, cos {cos[l]} against {ec}");
            }
        }
    }

    [Theory]
    [InlineData(16, 4, false)]
    [InlineData(16, 4, true)]
    [InlineData(5, 6, false)]
    [InlineData(7, 6, true)]
    public void TiledHostSumsAreTheDirectPerNetworkSums(int points, int maxOrder, bool weighted)
    {
        // Fixed fields of 1003 networks in 4 blocks (251 or 250 a block: padded vectors), accumulated in two calls by
        // the register-tiled dot products; every multiset against the direct per-network sum of its products, to
        // 1e-12 of the sum of their magnitudes.
        var rng = new Random(29);
        const int networks = 1003, blocks = 4;
        var phi = Enumerable.Range(0, networks * points).Select(_ => 2 * rng.NextDouble() - 0.7).ToArray();
        var w = weighted ? Enumerable.Range(0, networks).Select(_ => 0.5 + rng.NextDouble()).ToArray() : null;
        var sums = new CorrelatorSums(points, blocks, maxOrder);
        int split = 400 * points;   // a multiple of the blocks in networks
        sums.Add(phi.AsSpan(0, split), 0, w is null ? default : w.AsSpan(0, 400));
        sums.Add(phi.AsSpan(split), 400, w is null ? default : w.AsSpan(400));
        foreach (int order in sums.Orders)
        {
            var sets = sums.Indices(order);
            for (int b = 0; b < blocks; b++)
                for (int c = 0; c < sets.Count; c++)
                {
                    double direct = 0, magnitude = 0;
                    for (int r = b; r < networks; r += blocks)
                    {
                        double product = w?[r] ?? 1;
                        foreach (int i in sets[c]) product *= phi[r * points + i];
                        direct += product;
                        magnitude += Math.Abs(product);
                    }
                    Assert.True(Math.Abs(sums.Sums(order, b)[c] - direct) <= 1e-12 * magnitude, $"order {order} block {b} multiset {string.Join(",", sets[c])}: tiled {sums.Sums(order, b)[c]}, direct {direct}");
                }
        }
    }

    [Fact]
    public void Float32VectorExponentialIsWithinTwoUlp()
    {
        // Every 997th float from e^x = 2⁻¹²⁶ to the largest float, and its ends: error in units of the last place of
        // float32 against the float64 exponential; beyond the range 0 and +∞.
        var xs = new List<float>();
        float lo = -87.33654f, hi = 88.72283f;
        for (int i = BitConverter.SingleToInt32Bits(lo); i > int.MinValue + 100 && BitConverter.Int32BitsToSingle(i) < 0; i -= 997) xs.Add(BitConverter.Int32BitsToSingle(i));
        for (int i = 0; BitConverter.Int32BitsToSingle(i) <= hi; i += 997) xs.Add(BitConverter.Int32BitsToSingle(i));
        xs.AddRange(new[] { lo, hi, 0f, -0f, 1f, -1f, 0.34657359f, -0.34657359f });
        xs.RemoveAll(x => x < lo || x > hi);
        double worst = 0;
        for (int k = 0; k < xs.Count; k += 16)
        {
            var lanes = Enumerable.Range(0, 16).Select(l => xs[Math.Min(k + l, xs.Count - 1)]).ToArray();
            var y = VectorExp.Exp(Vector512.Create(lanes));
            for (int l = 0; l < 16; l++)
            {
                double exact = Math.Exp(lanes[l]);
                double ulp = Math.Max(MathF.BitIncrement((float)exact) - (float)exact, float.Epsilon);
                worst = Math.Max(worst, Math.Abs(y.GetElement(l) - exact) / ulp);
            }
        }
        Assert.True(worst <= 2, $"worst error {worst} ulp");
        var ends = VectorExp.Exp(Vector512.Create(-110f, -104f, 89f, 200f, float.PositiveInfinity, float.NegativeInfinity, 88.8f, -88f, 0, 0, 0, 0, 0, 0, 0, 0));
        Assert.Equal(0f, ends.GetElement(0));
        Assert.Equal(0f, ends.GetElement(1));
        Assert.Equal(float.PositiveInfinity, ends.GetElement(2));
        Assert.Equal(float.PositiveInfinity, ends.GetElement(3));
        Assert.Equal(float.PositiveInfinity, ends.GetElement(4));
        Assert.Equal(0f, ends.GetElement(5));
        Assert.Equal(float.PositiveInfinity, ends.GetElement(6));
        Assert.True(Math.Abs(ends.GetElement(7) - Math.Exp(-88)) <= 2 * float.Epsilon, "e^−88 is a subnormal within two of its steps");
    }

    [Fact]
    public void Float64VectorExponentialIsWithinTwoUlp()
    {
        // 400 000 arguments spread over the normal range of e^x (2⁻¹⁰²² to the largest double) and its ends: error in
        // units of the last place against Math.Exp; beyond the range 0 and +∞.
        double lo = -708.3964, hi = 709.7827;
        var xs = Enumerable.Range(0, 400_000).Select(i => lo + (hi - lo) * ((i * 0.6180339887498949) % 1.0))
            .Concat(new[] { lo, hi, 0, -0.0, 1, -1, 0.34657359027997264, -0.34657359027997264, 1e-300, -1e-17 }).ToList();
        double worst = 0;
        for (int k = 0; k < xs.Count; k += 8)
        {
            var lanes = Enumerable.Range(0, 8).Select(l => xs[Math.Min(k + l, xs.Count - 1)]).ToArray();
            var y = VectorExp.Exp(Vector512.Create(lanes));
            for (int l = 0; l < 8; l++)
            {
                double exact = Math.Exp(lanes[l]);
                worst = Math.Max(worst, Math.Abs(y.GetElement(l) - exact) / (Math.BitIncrement(exact) - exact));
            }
        }
        Assert.True(worst <= 2, $"worst error {worst} ulp");
        var ends = VectorExp.Exp(Vector512.Create(-800, -746, 710, double.PositiveInfinity, double.NegativeInfinity, 709.8, -740, 0));
        Assert.Equal(0.0, ends.GetElement(0));
        Assert.Equal(0.0, ends.GetElement(1));
        Assert.Equal(double.PositiveInfinity, ends.GetElement(2));
        Assert.Equal(double.PositiveInfinity, ends.GetElement(3));
        Assert.Equal(0.0, ends.GetElement(4));
        Assert.Equal(double.PositiveInfinity, ends.GetElement(5));
        Assert.True(Math.Abs(ends.GetElement(6) - Math.Exp(-740)) <= 2 * double.Epsilon, "e^−740 is a subnormal within two of its steps");
        Assert.Equal(1.0, ends.GetElement(7));
    }

    [Fact]
    public void RoutesRefuseEachOthersCheckpoints()
    {
        var net = new SingleLayerNetwork(NetworkActivation.Gauss, 1, 4, 0.6, 0.3);
        NetworkEnsemble Make(EnsembleEngine engine) => new(net, Points, new EnsembleOptions { Networks = 1000, ChunkSize = 96, Blocks = 8, Engine = engine }, 3);
        foreach (var (write, read) in new[] { (EnsembleEngine.Fused, EnsembleEngine.Tensor), (EnsembleEngine.Tensor, EnsembleEngine.Fused) })
        {
            var path = Path.Combine(Path.GetTempPath(), $"hybrid-nnft-route-{Guid.NewGuid():N}.bin");
            var writer = Make(write);
            writer.Step();
            writer.SaveCheckpoint(path);
            var message = Assert.Throws<InvalidDataException>(() => Make(read).LoadCheckpoint(path)).Message;
            File.Delete(path);
            Assert.Contains("engine", message);
            Assert.DoesNotContain('\n', message);
        }
    }

    [Fact]
    public void AutoChoosesTheTensorRouteWhereTheKernelDoesNotReach()
    {
        var erf = new SingleLayerNetwork(NetworkActivation.Erf, 1, 4, 1, 0.1);
        Assert.Equal(EnsembleEngine.Tensor, new NetworkEnsemble(erf, Points, new EnsembleOptions { Networks = 100 }, 1).Engine);
        Assert.Contains("erf", Assert.Throws<ArgumentException>(() => new NetworkEnsemble(erf, Points, new EnsembleOptions { Networks = 100, Engine = EnsembleEngine.Fused }, 1)).Message);
        var gauss = new SingleLayerNetwork(NetworkActivation.Gauss, 1, 4, 0.6, 0.3);
        var projection = Points.Select(_ => new[] { 1.0 }).ToArray();
        Assert.Equal(EnsembleEngine.Tensor, new NetworkEnsemble(gauss, Points, new EnsembleOptions { Networks = 100, Projection = projection }, 1).Engine);
        Assert.Equal(EnsembleEngine.Tensor, new NetworkEnsemble(new DeepNetwork(NetworkActivation.Relu, 1, new[] { 4, 4 }, 1, 0.1), Points, new EnsembleOptions { Networks = 100 }, 1).Engine);
        Assert.Equal(EnsembleEngine.Fused, new NetworkEnsemble(gauss, Points, new EnsembleOptions { Networks = 100 }, 1).Engine);
    }
}
