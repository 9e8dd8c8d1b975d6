using Hybrid.Lattice;
using Hybrid.Phi4;
using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Core.Tests.Phi4;

public class Phi4ParametersTests
{
    [Fact]
    public void TutorialPointHasHalfLambdaTildeAndKappaOneOverRootTwoLambda()
    {
        var p = Phi4Parameters.FromMass(-4, 8);
        Assert.Equal(0.5, p.LambdaTilde, 14);
        Assert.Equal(1 / Math.Sqrt(16), p.Kappa, 14);
    }

    [Theory]
    [InlineData(-4.0, 8.0)]
    [InlineData(-4.0, 5.276)]
    [InlineData(0.5, 0.0)]
    [InlineData(1.3, 0.7)]
    [InlineData(-2.5, 0.1)]
    public void HoppingConversionRoundTrips(double m2, double lambda)
    {
        var p = Phi4Parameters.FromMass(m2, lambda);
        // (2d + m²) κ = 1 − 2λ̃ and λ̃ = λκ²: the defining relations hold.
        Assert.Equal(1 - 2 * p.LambdaTilde, (4 + m2) * p.Kappa, 12);
        var q = Phi4Parameters.FromHopping(p.Kappa, p.LambdaTilde);
        Assert.Equal(m2, q.MassSquared, 10);
        Assert.Equal(lambda, q.Lambda, 10);
    }

    [Theory]
    [InlineData(-4.0, -1.0, "λ = -1")]
    [InlineData(double.NaN, 1.0, "m² = NaN")]
    [InlineData(-1.0, 0.0, "m² = -1")]
    [InlineData(1.0, double.PositiveInfinity, "λ = Infinity")]
    public void BadCouplingsAreRefusedWithTheValue(double m2, double lambda, string named)
    {
        var e = Assert.Throws<ArgumentException>(() => Phi4Parameters.FromMass(m2, lambda));
        Assert.Contains(named, e.Message);
    }

    [Fact]
    public void BadLatticeSizeIsRefused()
    {
        Assert.Contains("L = 1", Assert.Throws<ArgumentException>(() => new SquareLattice(1)).Message);
        Assert.Contains("even", Assert.Throws<ArgumentException>(() => new SquareLattice(7, requireEven: true)).Message);
    }
}
