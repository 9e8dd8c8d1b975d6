using Hybrid.O3;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Hybrid.Core.Tests.O3;

/// <summary>
/// The managed site-jet kernel (float64 on the CPU, <see cref="SlotRoute.Fused"/>) gives the
/// dense tensor route's site values, gradient slots and Laplacians, and through them the isovector's ln ψ, gradient,
/// Laplacian and local energy, to 1e-12 relative; it stands aside for message passing, float32 and taped gradients.
/// </summary>
public class SiteJetKernelTests
{
    private const double Tolerance = 1e-12;
    private readonly ITestOutputHelper output;

    public SiteJetKernelTests(ITestOutputHelper output) => this.output = output;

    private static IRotorWavefunction Build(string ansatz, string state, int sites)
    {
        PairFeatures features = ansatz switch
        {
            "window" => PairFeatures.StarAndWindow(RotorChain.InvariantRange(sites), Math.Min(sites, 6)),
            "gram" => PairFeatures.Window(Math.Min(sites, 4)),
            _ => RotorChain.StarFeatures(sites),
        };
        int[] hidden = ansatz switch
        {
            "jastrow" => Array.Empty<int>(),
            "deep" => new[] { 9, 17, 3 },      // widths across vector boundaries, three layers
            "wide" => new[] { 16, 16 },        // the experiments' widths
            "mp" or "mp2" => new[] { 5, 4, 3 },
            "mp-wide" => new[] { 16, 16, 16 },   // the experiments' mp ansatz
            _ => new[] { 6, 5 },
        };
        int messages = ansatz switch { "mp" or "mp-wide" => 1, "mp2" => 2, _ => 0 };
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

    private double AssertClose(Tensor actual, Tensor expected, string what)
    {
        Assert.Equal(expected.shape, actual.shape);
        double scale = expected.abs().max().item<double>();
        double difference = (actual - expected).abs().max().item<double>();
        double relative = difference / Math.Max(scale, 1e-300);
        output.WriteLine($"{what}: relative deviation {relative:E2}");
        Assert.True(relative <= Tolerance, $"{what}: the routes differ by {difference:E2} (scale {scale:E2})");
        return relative;
    }

    public static TheoryData<string, int> JetCases()
    {
        var data = new TheoryData<string, int>();
        foreach (var ansatz in new[] { "jastrow", "mlp", "window", "gram", "deep", "wide", "mp", "mp2", "mp-wide" })
            foreach (int sites in new[] { 3, 8, 16 })
                data.Add(ansatz, sites);
        data.Add("wide", 32);
        data.Add("mp-wide", 32);
        return data;
    }

    [Theory]
    [MemberData(nameof(JetCases))]
    public void ManagedSiteJetsAgreeWithTheDenseRouteSlotBySlot(string ansatz, int sites)
    {
        using var scope = NewDisposeScope();
        var psi = (SingletWavefunction)Build(ansatz, "singlet", sites);
        using var g = new Generator(29);
        var n = RotorChain.Uniform(7, sites, g);
        using var _ = no_grad();
        psi.SlotRoute = SlotRoute.Dense;
        var (c, atFirst, atSecond) = RotorChain.PairInvariants(n, psi.Network.Features);
        var dense = psi.Network.SiteJets(c, atFirst, atSecond);
        psi.SlotRoute = SlotRoute.Fused;
        Assert.True(psi.Network.UsesManagedKernel(n));
        var managed = psi.Network.SiteJets(n);
        Assert.Equal(dense.Origin, managed.Origin);
        AssertClose(managed.Value, dense.Value, "site values");
        AssertClose(managed.Gradient, dense.Gradient, "site gradients");
        AssertClose(managed.Laplacian, dense.Laplacian, "site Laplacians");
        AssertClose(managed.Value, psi.Network.SiteValues(RotorChain.Invariants(n, psi.Network.Features)), "site values against SiteValues");
    }

    public static TheoryData<string, string, int> StateCases()
    {
        var data = new TheoryData<string, string, int>();
        foreach (var ansatz in new[] { "jastrow", "mlp", "window", "deep", "mp", "mp2" })
            foreach (int sites in new[] { 3, 8, 16 })
                data.Add(ansatz, "isovector", sites);
        data.Add("window", "moving", 8);
        data.Add("wide", "moving", 16);
        data.Add("gram", "isovector", 8);
        data.Add("mp", "moving", 16);
        return data;
    }

    [Theory]
    [MemberData(nameof(StateCases))]
    public void IsovectorDerivativesAgreeWithTheDenseRoute(string ansatz, string state, int sites)
    {
        using var scope = NewDisposeScope();
        var psi = Build(ansatz, state, sites);
        using var g = new Generator(23);
        var n = RotorChain.Uniform(11, sites, g);
        // Chunks of 4: the last one is short.
        var h = new RotorChainHamiltonian(sites, 0.8, LaplacianRoute.Forward, chunk: 4);
        SetRoute(psi, SlotRoute.Dense);
        WavefunctionDerivatives dense;
        using (no_grad()) dense = psi.Derivatives(n);
        var denseEnergy = h.LocalValues(psi, n);
        SetRoute(psi, SlotRoute.Fused);
        WavefunctionDerivatives managed;
        using (no_grad()) managed = psi.Derivatives(n);
        var managedEnergy = h.LocalValues(psi, n);
        AssertClose(managed.LogAbs, dense.LogAbs, "ln ψ");
        AssertClose(managed.Gradient, dense.Gradient, "gradient");
        AssertClose(managed.Laplacian, dense.Laplacian, "Laplacian");
        AssertClose(managedEnergy, denseEnergy, "local energy");
    }

    [Fact]
    public void TheKernelStandsAsideWhereItDoesNotApply()
    {
        using var scope = NewDisposeScope();
        using var g = new Generator(31);
        var n = RotorChain.Uniform(3, 8, g);
        var mlp = (SingletWavefunction)Build("mlp", "singlet", 8);
        Assert.False(mlp.Network.UsesManagedKernel(n.to_type(ScalarType.Float32)));
        // Parameters that require gradients, with autograd on: the kernel's results would carry no graph.
        using (enable_grad()) Assert.False(mlp.Network.UsesManagedKernel(n));
        using (no_grad()) Assert.True(mlp.Network.UsesManagedKernel(n));
        mlp.SlotRoute = SlotRoute.Sparse;
        using (no_grad()) Assert.False(mlp.Network.UsesManagedKernel(n));
    }
}
