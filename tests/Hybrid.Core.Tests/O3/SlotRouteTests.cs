using Hybrid.O3;
using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Core.Tests.O3;

/// <summary>
/// The routes of the forward Laplacian, the fused CPU loop (default; per-site singlets), the sparse placement of the
/// invariants' gradients into the per-site slots and the dense one-hot contraction, give the same ln ψ, gradient,
/// Laplacian and local energy to rounding, for every ansatz of the experiments and both states.
/// </summary>
public class SlotRouteTests
{
    private const double Tolerance = 1e-12;

    // The ansätze as the scripts build them (AnsatzSpec): jastrow, mlp and mp read the star to L/2, window the star
    // together with the Gram matrix of min(L, 6) sites; mp2 has two sites' range of messages, gram a Gram matrix alone.
    private static IRotorWavefunction Build(string ansatz, string state, int sites)
    {
        PairFeatures features = ansatz switch
        {
            "window" => PairFeatures.StarAndWindow(RotorChain.InvariantRange(sites), Math.Min(sites, 6)),
            "gram" => PairFeatures.Window(Math.Min(sites, 4)),   // the window's Gram matrix alone: every slot shared
            _ => RotorChain.StarFeatures(sites),
        };
        int[] hidden = ansatz switch
        {
            "jastrow" => Array.Empty<int>(),
            "mp" or "mp2" => new[] { 5, 4, 3 },
            _ => new[] { 6, 5 },
        };
        int messages = ansatz switch { "mp" => 1, "mp2" => 2, _ => 0 };
        IRotorWavefunction psi = state == "singlet"
            ? new SingletWavefunction(sites, hidden, 3, features, messages)
            : new IsovectorWavefunction(sites, hidden, 3, features, state == "moving" ? 1 : 0, messages);
        using var g = new Generator(19);
        using var _ = no_grad();
        foreach (var p in ((nn.Module)psi).parameters()) p.copy_(randn(p.shape, dtype: p.dtype, generator: g).mul(0.3));
        return psi;
    }

    private static void SetRoute(IRotorWavefunction psi, SlotRoute route)
    {
        if (psi is SingletWavefunction singlet) singlet.SlotRoute = route;
        else ((IsovectorWavefunction)psi).SlotRoute = route;
    }

    private static void AssertClose(Tensor actual, Tensor expected, string what)
    {
        Assert.Equal(expected.shape, actual.shape);
        double scale = expected.abs().max().item<double>();
        double difference = (actual - expected).abs().max().item<double>();
        Assert.True(difference <= Tolerance * Math.Max(scale, 1e-300), $"{what}: the routes differ by {difference:E2} (scale {scale:E2})");
    }

    public static TheoryData<string, string, int> Cases()
    {
        var data = new TheoryData<string, string, int>();
        foreach (var ansatz in new[] { "jastrow", "mlp", "window", "mp", "mp2" })
            foreach (var state in new[] { "singlet", "isovector" })
                foreach (int sites in new[] { 3, 8, 16 })
                    data.Add(ansatz, state, sites);
        data.Add("gram", "singlet", 8);
        data.Add("gram", "isovector", 3);
        data.Add("window", "moving", 8);
        data.Add("mp", "moving", 16);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void RoutesAgreeWithDense(string ansatz, string state, int sites)
    {
        using var scope = NewDisposeScope();
        var psi = Build(ansatz, state, sites);
        using var g = new Generator(23);
        var n = RotorChain.Uniform(11, sites, g);
        // Chunks of 4: the last one is short.
        var h = new RotorChainHamiltonian(sites, 0.8, LaplacianRoute.Forward, chunk: 4);

        SetRoute(psi, SlotRoute.Dense);
        var dense = psi.Derivatives(n);
        var denseEnergy = h.LocalValues(psi, n);
        SetRoute(psi, SlotRoute.Sparse);
        var sparse = psi.Derivatives(n);
        var sparseEnergy = h.LocalValues(psi, n);
        SetRoute(psi, SlotRoute.Fused);
        WavefunctionDerivatives fused;
        // As the Hamiltonian calls it: the fused loop tapes no gradient, so it runs only without one.
        using (no_grad()) fused = psi.Derivatives(n);
        var fusedEnergy = h.LocalValues(psi, n);

        foreach (var (route, d, e) in new[] { ("sparse", sparse, sparseEnergy), ("fused", fused, fusedEnergy) })
        {
            AssertClose(d.LogAbs, dense.LogAbs, $"{route}: ln ψ");
            AssertClose(d.Gradient, dense.Gradient, $"{route}: gradient");
            AssertClose(d.Laplacian, dense.Laplacian, $"{route}: Laplacian");
            AssertClose(e, denseEnergy, $"{route}: local energy");
            // The forward pass agrees with ln ψ evaluated on its own.
            AssertClose(d.LogAbs, psi.LogAbs(n), $"{route}: ln ψ against LogAbs");
        }
    }

    [Theory]
    [InlineData("jastrow", 8)]
    [InlineData("mlp", 16)]
    [InlineData("window", 16)]
    [InlineData("gram", 8)]
    public void FusedRouteAgreesWithAutodiff(string ansatz, int sites)
    {
        using var scope = NewDisposeScope();
        var psi = (SingletWavefunction)Build(ansatz, "singlet", sites);
        using var g = new Generator(31);
        var n = RotorChain.Uniform(9, sites, g);
        Assert.Equal(SlotRoute.Fused, psi.SlotRoute);
        using (no_grad()) Assert.NotNull(psi.Network.FusedDerivatives(n));
        var forward = new RotorChainHamiltonian(sites, 1.3, LaplacianRoute.Forward, chunk: 4).LocalValues(psi, n);
        var autodiff = new RotorChainHamiltonian(sites, 1.3, LaplacianRoute.Autodiff, chunk: 4).LocalValues(psi, n);
        AssertClose(forward, autodiff, "fused local energy against autodiff");
    }

    [Fact]
    public void FusedRouteTapesNoGradientSoItStepsAside()
    {
        using var scope = NewDisposeScope();
        var psi = (SingletWavefunction)Build("window", "singlet", 8);
        using var g = new Generator(37);
        var n = RotorChain.Uniform(3, 8, g);
        // With gradients taped the tensor route runs, and its ln ψ reaches the parameters.
        var taped = psi.Derivatives(n);
        Assert.True(taped.LogAbs.requires_grad);
        using (no_grad()) Assert.Null(psi.Network.FusedDerivatives(n.to(ScalarType.Float32)));
    }

    [Theory]
    [InlineData("mlp", 3)]
    [InlineData("window", 8)]
    [InlineData("window", 16)]
    [InlineData("mp", 16)]
    [InlineData("mp2", 8)]
    [InlineData("gram", 8)]
    public void SiteJetsAgreeSlotBySlot(string ansatz, int sites)
    {
        using var scope = NewDisposeScope();
        var psi = (SingletWavefunction)Build(ansatz, "singlet", sites);
        using var g = new Generator(29);
        var n = RotorChain.Uniform(7, sites, g);
        var (c, atFirst, atSecond) = RotorChain.PairInvariants(n, psi.Network.Features);
        psi.SlotRoute = SlotRoute.Dense;
        var dense = psi.Network.SiteJets(c, atFirst, atSecond);
        psi.SlotRoute = SlotRoute.Sparse;
        Assert.Equal(SlotRoute.Sparse, psi.Network.SlotRoute);
        var sparse = psi.Network.SiteJets(c, atFirst, atSecond);
        Assert.Equal(dense.Origin, sparse.Origin);
        AssertClose(sparse.Value, dense.Value, "site values");
        AssertClose(sparse.Gradient, dense.Gradient, "site gradients");
        AssertClose(sparse.Laplacian, dense.Laplacian, "site Laplacians");
    }

    [Fact]
    public void FusedIsTheDefault()
    {
        var singlet = new SingletWavefunction(4, new[] { 3 }, 1);
        var isovector = new IsovectorWavefunction(4, new[] { 3 }, 1);
        Assert.Equal(SlotRoute.Fused, singlet.SlotRoute);
        Assert.Equal(SlotRoute.Fused, isovector.SlotRoute);
        isovector.SlotRoute = SlotRoute.Dense;
        Assert.Equal(SlotRoute.Dense, isovector.SlotRoute);
    }
}
