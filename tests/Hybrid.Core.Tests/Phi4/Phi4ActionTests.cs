using Hybrid.Lattice;
using Hybrid.Phi4;
using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Core.Tests.Phi4;

public class Phi4ActionTests
{
    private static Tensor RandomFields(int batch, int l, long seed)
    {
        using var g = new Generator((ulong)seed);
        return randn(new long[] { batch, l, l }, dtype: ScalarType.Float64, generator: g);
    }

    [Fact]
    public void MatchesTheHoppingFormOfTheAction()
    {
        // S in the hopping form, written out independently with ϕ = φ/√κ, equals S in the mass form.
        var p = Phi4Parameters.FromMass(-4, 6.975);
        var action = new Phi4Action(new SquareLattice(6), p);
        using var scope = NewDisposeScope();
        var phi = RandomFields(3, 6, 1);
        var varphi = phi / Math.Sqrt(p.Kappa);
        var hop = varphi * (roll(varphi, 1, 1) + roll(varphi, 1, 2));
        var hopping = (-2 * p.Kappa * hop + (1 - 2 * p.LambdaTilde) * varphi.square() + p.LambdaTilde * varphi.pow(4)).sum(new long[] { 1, 2 });
        Assert.True(allclose(hopping, action.Action(phi), rtol: 1e-12, atol: 1e-10));
    }

    [Fact]
    public void ConstantFieldHasOnlyPotentialEnergy()
    {
        var action = new Phi4Action(new SquareLattice(4), Phi4Parameters.FromMass(-4, 8));
        using var scope = NewDisposeScope();
        var phi = full(new long[] { 1, 4, 4 }, 0.5, dtype: ScalarType.Float64);
        Assert.Equal(16 * (-4 * 0.25 + 8 * 0.0625), action.Action(phi).item<double>(), 12);
    }

    [Theory]
    [InlineData(-4.0, 8.0)]
    [InlineData(0.7, 0.0)]
    public void AnalyticGradientEqualsAutograd(double m2, double lambda)
    {
        var action = new Phi4Action(new SquareLattice(5), Phi4Parameters.FromMass(m2, lambda));
        using var scope = NewDisposeScope();
        var phi = RandomFields(4, 5, 2).requires_grad_(true);
        var s = action.Action(phi).sum();
        var auto = autograd.grad(new[] { s }, new[] { phi })[0];
        Assert.True(allclose(auto, action.Gradient(phi.detach()), rtol: 1e-12, atol: 1e-12));
    }

    [Fact]
    public void WrongShapeIsRefused()
    {
        var action = new Phi4Action(new SquareLattice(4), Phi4Parameters.FromMass(-4, 8));
        using var phi = zeros(2, 5, 5, dtype: ScalarType.Float64);
        Assert.Contains("[batch, 4, 4]", Assert.Throws<ArgumentException>(() => action.Action(phi)).Message);
    }
}
