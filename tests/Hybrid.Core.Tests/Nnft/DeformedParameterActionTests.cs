using Hybrid.Nnft;
using static TorchSharp.torch;

namespace Hybrid.Core.Tests.Nnft;

public class DeformedParameterActionTests
{
    private static readonly SingleLayerNetwork Net = new(NetworkActivation.Erf, 1, 3, 1.5, 0.2);

    private static DeformedParameterAction Action(double lambda) =>
        new(Net, new QuarticDeformation(lambda, new[] { new[] { -0.5 }, new[] { 0.0 }, new[] { 0.5 } }, new[] { 0.3, 0.4, 0.3 }));

    [Fact]
    public void WithoutCouplingTheActionIsTheStandardNormal()
    {
        using var z = randn(4, Net.ParameterCount, dtype: ScalarType.Float64, generator: new TorchSharp.torch.Generator(1));
        var expected = z.square().sum(new long[] { 1 }).mul(0.5).data<double>().ToArray();
        Assert.Equal(expected, Action(0).Action(z).data<double>().ToArray());
        Assert.Equal(z.data<double>().ToArray(), Action(0).Gradient(z).data<double>().ToArray());
    }

    [Fact]
    public void GradientMatchesFiniteDifferences()
    {
        var action = Action(2.0);
        using var z = randn(2, Net.ParameterCount, dtype: ScalarType.Float64, generator: new TorchSharp.torch.Generator(2));
        var g = action.Gradient(z).data<double>().ToArray();
        var values = z.data<double>().ToArray();
        const double h = 1e-6;
        for (int k = 0; k < values.Length; k += 3)
        {
            var plus = (double[])values.Clone();
            var minus = (double[])values.Clone();
            plus[k] += h;
            minus[k] -= h;
            using var zp = tensor(plus, z.shape, dtype: ScalarType.Float64);
            using var zm = tensor(minus, z.shape, dtype: ScalarType.Float64);
            var sp = action.Action(zp).data<double>().ToArray();
            var sm = action.Action(zm).data<double>().ToArray();
            double numeric = (sp[k / Net.ParameterCount] - sm[k / Net.ParameterCount]) / (2 * h);
            Assert.Equal(numeric, g[k], 6);
        }
    }

    [Fact]
    public void StandardisedEvaluationIsTheSameNetworkAsItsParameters()
    {
        // z = (W0, b0, W1, b1) standardised: a hand-built network gives the same φ.
        var z = new double[Net.ParameterCount];
        var rng = new Random(3);
        for (int i = 0; i < z.Length; i++) z[i] = rng.NextDouble() * 2 - 1;
        using var zt = tensor(z, new long[] { 1, z.Length }, dtype: ScalarType.Float64);
        using var x = tensor(new[] { 0.7 }, new long[] { 1, 1 }, dtype: ScalarType.Float64);
        double phi = Net.EvaluateStandardised(zt, x).item<double>();
        double expected = 0.2 * z[9];
        for (int n = 0; n < 3; n++)
        {
            double pre = 1.5 * z[n] * 0.7 + 0.2 * z[3 + n];
            expected += 1.5 / Math.Sqrt(3) * z[6 + n] * Erf(pre);
        }
        Assert.Equal(expected, phi, 10);
    }

    private static double Erf(double x) => MathNet.Numerics.SpecialFunctions.Erf(x);
}
