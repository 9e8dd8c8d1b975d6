using Hybrid.Phi4.Flows;
using Hybrid.Lattice;
using Hybrid.Phi4;
using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Core.Tests.Phi4.Flows;

public class EquivariantContinuousFlowTests
{
    private const ScalarType F64 = ScalarType.Float64;

    /// <summary>A smaller architecture for the tests that need many evaluations.</summary>
    private static readonly EquivariantFlowDefinition Small = new()
    {
        Frequencies = 8, FeatureChannels = 5, TimeFrequencies = 2, TimeChannels = 4, SolverSteps = 8,
    };

    /// <summary>A float64 flow whose kernel weights are random (a fresh flow is the identity, which would make most tests vacuous).</summary>
    private static EquivariantContinuousFlow RandomFlow(int l, double scale, EquivariantFlowDefinition? definition = null, long seed = 1)
    {
        var flow = new EquivariantContinuousFlow(new SquareLattice(l), definition ?? new EquivariantFlowDefinition(), seed);
        flow.to(F64);
        using var g = new Generator((ulong)seed + 100);
        using (no_grad())
        using (var w = randn(flow.KernelWeights.shape, dtype: F64, generator: g))
            flow.KernelWeights.copy_(w.mul_(scale));
        return flow;
    }

    private static Tensor Fields(int batch, int l, long seed)
    {
        using var g = new Generator((ulong)seed);
        return randn(new long[] { batch, l, l }, dtype: F64, generator: g);
    }

    private static double MaxAbs(Tensor t) => t.abs().max().to(F64).item<double>();

    private static bool Identical(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    // ---------------------------------------------------------------------------------------------
    // Definition and initialisation

    [Fact]
    public void DefinitionDefaultsAreThoseOfGerdesEtAl()
    {
        var d = new EquivariantFlowDefinition();
        Assert.Equal((50, 20, 10, 20, 50, 21), (d.Frequencies, d.FeatureChannels, d.TimeFrequencies, d.TimeChannels, d.SolverSteps, d.TimeFeatures));
        d.Validate();
    }

    [Theory]
    [InlineData("Frequencies", 1)]
    [InlineData("FeatureChannels", 0)]
    [InlineData("TimeFrequencies", -1)]
    [InlineData("TimeChannels", 0)]
    [InlineData("SolverSteps", 0)]
    public void BadDefinitionIsRefusedWithTheValue(string name, int value)
    {
        var d = name switch
        {
            "Frequencies" => new EquivariantFlowDefinition { Frequencies = value },
            "FeatureChannels" => new EquivariantFlowDefinition { FeatureChannels = value },
            "TimeFrequencies" => new EquivariantFlowDefinition { TimeFrequencies = value },
            "TimeChannels" => new EquivariantFlowDefinition { TimeChannels = value },
            _ => new EquivariantFlowDefinition { SolverSteps = value },
        };
        var e = Assert.Throws<ArgumentException>(d.Validate);
        Assert.Contains($"{name} = {value}", e.Message);
        Assert.Throws<ArgumentException>(() => new EquivariantContinuousFlow(new SquareLattice(4), d, 1));
    }

    [Fact]
    public void InitialisationIsSeededWithOrthogonalMixingAndZeroKernel()
    {
        using var scope = NewDisposeScope();
        var a = new EquivariantContinuousFlow(new SquareLattice(6), new EquivariantFlowDefinition(), 7);
        var b = new EquivariantContinuousFlow(new SquareLattice(6), new EquivariantFlowDefinition(), 7);
        var c = new EquivariantContinuousFlow(new SquareLattice(6), new EquivariantFlowDefinition(), 8);
        Assert.True(Identical(a.FeatureMixing, b.FeatureMixing) && Identical(a.FieldFrequencies, b.FieldFrequencies) && Identical(a.TimeMixing, b.TimeMixing));
        Assert.False(Identical(a.FieldFrequencies, c.FieldFrequencies));
        Assert.Equal(new long[] { 49 }, a.FieldFrequencies.shape);
        Assert.True(a.FieldFrequencies.min().item<float>() >= 0 && a.FieldFrequencies.max().item<float>() < 5);
        // 20 × 50 and 20 × 21: orthonormal rows.
        Assert.True(allclose(a.FeatureMixing.matmul(a.FeatureMixing.t()), eye(20), atol: 1e-5));
        Assert.True(allclose(a.TimeMixing.matmul(a.TimeMixing.t()), eye(20), atol: 1e-5));
        Assert.Equal(new long[] { 10, 20, 20 }, a.KernelWeights.shape);
        Assert.Equal(0.0, MaxAbs(a.KernelWeights));
        Assert.Equal(4, a.parameters().Count());
    }

    [Fact]
    public void FreshFlowIsTheIdentityWithZeroLogJacobian()
    {
        using var scope = NewDisposeScope();
        var flow = new EquivariantContinuousFlow(new SquareLattice(6), new EquivariantFlowDefinition { SolverSteps = 5 }, 1);
        var z = randn(new long[] { 4, 6, 6 }, generator: new Generator(3));
        var (phi, logJ) = flow.forward(z);
        Assert.True(Identical(phi, z));
        Assert.Equal(0.0, MaxAbs(logJ));
        var (back, logJInverse) = flow.Inverse(z);
        Assert.True(Identical(back, z));
        Assert.Equal(0.0, MaxAbs(logJInverse));
    }

    [Fact]
    public void DtypeMustMatchAndToMovesAllParameters()
    {
        using var scope = NewDisposeScope();
        var flow = new EquivariantContinuousFlow(new SquareLattice(4), Small, 1);
        var e = Assert.Throws<ArgumentException>(() => flow.forward(Fields(2, 4, 1)));
        Assert.Contains("flow.to", e.Message);
        Assert.Throws<ArgumentException>(() => flow.forward(zeros(2, 5, 5)));
        flow.to(F64);
        Assert.All(flow.parameters(), p => Assert.Equal(F64, p.dtype));
        Assert.Equal(F64, flow.KernelWeights.dtype);
        var (phi, logJ) = flow.forward(Fields(2, 4, 1));
        Assert.Equal(F64, phi.dtype);
        Assert.Equal(new long[] { 2 }, logJ.shape);
    }

    // ---------------------------------------------------------------------------------------------
    // Orbits

    [Theory]
    [InlineData(2, 3)]
    [InlineData(3, 3)]
    [InlineData(4, 6)]
    [InlineData(5, 6)]
    [InlineData(6, 10)]
    [InlineData(8, 15)]
    [InlineData(12, 28)]
    [InlineData(20, 66)]
    [InlineData(32, 153)]
    public void OrbitCountIsTheTriangularNumber(int l, int expected)
    {
        var orbits = LatticeSymmetry.D4Orbits(l);
        Assert.Equal(expected, orbits.Count);
        Assert.Equal(expected, LatticeSymmetry.D4OrbitCount(l));
        // Orbit 0 is the zero offset and nothing else.
        Assert.Equal(0, orbits.OrbitOf(0, 0));
        Assert.Equal(1, orbits.Index.Count(o => o == 0));
    }

    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(8)]
    public void OrbitMapIsD4AndInversionSymmetricAndEachOrbitIsOneD4Orbit(int l)
    {
        var orbits = LatticeSymmetry.D4Orbits(l);
        var first = new Dictionary<int, (int, int)>();
        for (int d0 = 0; d0 < l; d0++)
        {
            for (int d1 = 0; d1 < l; d1++)
            {
                int o = orbits.OrbitOf(d0, d1);
                Assert.Equal(o, orbits.OrbitOf(-d0, -d1));                      // inversion
                for (int g = 0; g < LatticeSymmetry.D4Order; g++)
                {
                    var (e0, e1) = LatticeSymmetry.Apply(g, d0, d1, l);
                    Assert.Equal(o, orbits.OrbitOf(e0, e1));
                }
                first.TryAdd(o, (d0, d1));
                // Every member is the image of the orbit's first member under some element of D4.
                var (f0, f1) = first[o];
                Assert.Contains(Enumerable.Range(0, 8), g => LatticeSymmetry.Apply(g, f0, f1, l) == (d0, d1));
            }
        }
        Assert.Equal(orbits.Count, first.Count);
        // For even L the offset L/2 is its own negative: (L/2, 0) and (0, L/2) share an orbit.
        if (l % 2 == 0) Assert.Equal(orbits.OrbitOf(l / 2, 0), orbits.OrbitOf(0, l / 2));
    }

    // ---------------------------------------------------------------------------------------------
    // The vector field and its divergence

    [Theory]
    [InlineData(5)]   // odd L, one V×V Hartley product
    [InlineData(6)]
    [InlineData(9)]   // L > KroneckerMaxExtent: one L×L product per direction
    public void VectorFieldIsThePeriodicConvolutionWithTheOrbitKernel(int l)
    {
        // Written out in real space from the parameters: f_x = Σ_y Σ_f W[orb(y − x), f] h_f(φ_y).
        using var scope = NewDisposeScope();
        var flow = RandomFlow(l, 1.0, Small);
        var phi = Fields(2, l, 11);
        double t = 0.3;
        int k = Small.Frequencies;
        var omega = flow.FieldFrequencies;
        var g = cat(new[] { phi.unsqueeze(-1).mul(omega).sin(), phi.unsqueeze(-1) }, -1);    // [B, L, L, K]
        var h = g.matmul(flow.FeatureMixing.t()).div(k);                                      // [B, L, L, F]
        var kernel = flow.Kernel(t);                                                          // [F, L, L]
        Assert.Equal(new long[] { Small.FeatureChannels, l, l }, kernel.shape);
        var expected = zeros_like(phi);
        for (int d0 = 0; d0 < l; d0++)
        {
            for (int d1 = 0; d1 < l; d1++)
            {
                // y = x + d: h at x + d is h rolled by −d.
                var shifted = roll(h, new long[] { -d0, -d1 }, new long[] { 1, 2 });
                expected += shifted.matmul(kernel[.., d0, d1]);
            }
        }
        var f = flow.VectorField(phi, t);
        Assert.True(MaxAbs(f) > 1e-3, "the vector field should not vanish");
        Assert.True(MaxAbs(f - expected) < 1e-12, $"max deviation {MaxAbs(f - expected):E2}");

        // The kernel is constant on orbits: W(t)[orb(d), f].
        for (int d0 = 0; d0 < l; d0++)
            for (int d1 = 0; d1 < l; d1++)
                Assert.True(Identical(kernel[.., d0, d1], kernel[.., (l - d1) % l, d0]));
    }

    [Theory]
    [InlineData(4, 0.37)]
    [InlineData(5, 0.81)]
    public void ClosedFormDivergenceEqualsTheAutogradTrace(int l, double t)
    {
        using var scope = NewDisposeScope();
        var flow = RandomFlow(l, 2.0);
        var phi = Fields(2, l, 5).requires_grad_(true);
        var f = flow.VectorField(phi, t);
        var trace = zeros(2, dtype: F64);
        for (int x0 = 0; x0 < l; x0++)
        {
            for (int x1 = 0; x1 < l; x1++)
            {
                // Configurations are independent, so one backward pass gives ∂f_x/∂φ_x for the whole batch.
                var grad = autograd.grad(new[] { f[.., x0, x1].sum() }, new[] { phi }, retain_graph: true)[0];
                trace += grad[.., x0, x1];
            }
        }
        var divergence = flow.Divergence(phi.detach(), t);
        Assert.True(MaxAbs(trace) > 1e-3, "the divergence should not vanish");
        Assert.True(MaxAbs(divergence - trace) < 1e-10, $"max deviation {MaxAbs(divergence - trace):E2}");
    }

    [Fact]
    public void SecondDerivativesAreExact()
    {
        // The sin/cos node has a hand-written backward; its own derivative must be right too.
        using var scope = NewDisposeScope();
        var flow = RandomFlow(4, 2.0, Small);
        var phi = Fields(1, 4, 8);
        var r = Fields(1, 4, 9);
        var v = Fields(1, 4, 10);
        Tensor Gradient(Tensor p, bool createGraph)
        {
            var x = p.requires_grad ? p : p.detach().requires_grad_(true);
            var y = flow.VectorField(x, 0.6).mul(r).sum();
            return autograd.grad(new[] { y }, new[] { x }, retain_graph: createGraph, create_graph: createGraph)[0];
        }
        var p0 = phi.detach().requires_grad_(true);
        var hv = autograd.grad(new[] { Gradient(p0, true).mul(v).sum() }, new[] { p0 })[0];
        double eps = 1e-5;
        var finite = (Gradient(phi + eps * v, false) - Gradient(phi - eps * v, false)).div(2 * eps);
        Assert.True(MaxAbs(hv) > 1e-3);
        Assert.True(MaxAbs(hv - finite) < 1e-7, $"max deviation {MaxAbs(hv - finite):E2}");
    }

    // ---------------------------------------------------------------------------------------------
    // The flow

    [Fact]
    public void InverseUndoesForwardUpToTheRk4Error()
    {
        using var scope = NewDisposeScope();
        var flow = RandomFlow(6, 1.0);
        var z = Fields(3, 6, 21);
        (double Field, double LogJ) RoundTrip(int steps)
        {
            using var inner = NewDisposeScope();
            var (phi, logJ) = flow.Forward(z, steps);
            var (back, logJInverse) = flow.Inverse(phi, steps);
            Assert.True(MaxAbs(phi - z) > 1e-2, "the flow should move the fields");
            return (MaxAbs(back - z), MaxAbs(logJ + logJInverse));
        }
        var coarse = RoundTrip(10);
        var fine = RoundTrip(40);
        // RK4: error ∝ h⁴, so 4× the steps gains ≈ 256 (h³ would give 64).
        Assert.True(fine.Field < 1e-5 && fine.LogJ < 1e-5, $"40 steps: {fine}");
        Assert.True(coarse.Field / fine.Field > 100, $"field error {coarse.Field:E2} → {fine.Field:E2}");
        Assert.True(coarse.LogJ / fine.LogJ > 100, $"log-Jacobian error {coarse.LogJ:E2} → {fine.LogJ:E2}");
    }

    [Fact]
    public void LogJacobianEqualsTheBruteForceDeterminant()
    {
        using var scope = NewDisposeScope();
        var flow = RandomFlow(4, 8.0);
        var z = Fields(2, 4, 31);
        double Deviation(int steps)
        {
            using var inner = NewDisposeScope();
            var zz = z.detach().requires_grad_(true);
            var (phi, logJ) = flow.Forward(zz, steps);
            var flat = phi.reshape(2, 16);
            var jacobian = zeros(2, 16, 16, dtype: F64);
            for (int i = 0; i < 16; i++)
            {
                var row = autograd.grad(new[] { flat[.., i].sum() }, new[] { zz }, retain_graph: true)[0];
                jacobian[.., i] = row.reshape(2, 16);
            }
            var (sign, logAbsDet) = linalg.slogdet(jacobian);
            Assert.True(sign.min().item<double>() > 0);
            Assert.True(logAbsDet.abs().min().item<double>() > 0.01, $"the log-Jacobian should not vanish: {logAbsDet.abs().min().item<double>()}");
            return MaxAbs(logAbsDet - logJ.detach());
        }
        // The RK4 map's exact log-determinant and the RK4-integrated divergence agree up to the solver error.
        double coarse = Deviation(25), fine = Deviation(100);
        Console.WriteLine($"brute-force log det vs integrated divergence: 25 steps {coarse:E2}, 100 steps {fine:E2}");
        Assert.True(fine < 1e-6, $"100 steps: {fine:E2}");
        Assert.True(coarse / fine > 100, $"{coarse:E2} → {fine:E2}: RK4 should gain ≈ 4⁴ = 256");
    }

    public static TheoryData<int> SymmetrySizes => new() { 5, 6 };

    [Theory]
    [MemberData(nameof(SymmetrySizes))]
    public void FlowCommutesWithTranslationsRotationsReflectionsAndSignFlip(int l)
    {
        using var scope = NewDisposeScope();
        var flow = RandomFlow(l, 3.0, new EquivariantFlowDefinition { SolverSteps = 6 });
        var z = Fields(2, l, 41);
        var (phi, logJ) = flow.forward(z);
        Assert.True(MaxAbs(phi - z) > 0.05, "the flow should move the fields");
        var dims = new long[] { 1, 2 };
        var operations = new List<(string Name, Func<Tensor, Tensor> Apply)>
        {
            ("translation (1, 2)", x => roll(x, new long[] { 1, 2 }, dims)),
            ("translation (3, 0)", x => roll(x, new long[] { 3, 0 }, dims)),
            ("φ → −φ", x => x.neg()),
        };
        for (int g = 0; g < 8; g++)
        {
            int quarter = g % 4;
            bool reflect = g >= 4;
            operations.Add(($"D4 element {g}", x => rot90(reflect ? x.flip(2) : x, quarter, (1, 2))));
        }
        foreach (var (name, apply) in operations)
        {
            var (phiT, logJT) = flow.forward(apply(z));
            Assert.True(MaxAbs(phiT - apply(phi)) < 1e-10, $"{name}: field deviation {MaxAbs(phiT - apply(phi)):E2}");
            Assert.True(MaxAbs(logJT - logJ) < 1e-10, $"{name}: log-Jacobian deviation {MaxAbs(logJT - logJ):E2}");
            var (zT, _) = flow.Inverse(apply(phi));
            var (zBack, _) = flow.Inverse(phi);
            Assert.True(MaxAbs(zT - apply(zBack)) < 1e-10, $"{name}: inverse deviation");
        }
    }

    [Fact]
    public void ParametersGetGradientsAndStepsDoNotLeakTensors()
    {
        var flow = RandomFlow(4, 1.0, Small);
        var z = Fields(8, 4, 51);
        void Step()
        {
            using var scope = NewDisposeScope();
            flow.zero_grad();
            var (phi, logJ) = flow.forward(z);
            var loss = (logJ + phi.square().sum(new long[] { 1, 2 })).mean();
            loss.backward();
        }
        Step();   // builds the constant tables
        foreach (var (name, p) in flow.named_parameters())
        {
            Assert.NotNull(p.grad);
            double norm = p.grad!.norm().item<double>();
            Assert.True(norm > 0 && double.IsFinite(norm), $"parameter {name}: gradient norm {norm}");
        }
        long live = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 3; i++) Step();
        Assert.Equal(live, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void FlowDistributionDensityOfSamplesAgreesWithTheInverse()
    {
        // log q from sampling (forward) and from the inverse agree up to the solver error.
        using var scope = NewDisposeScope();
        var flow = RandomFlow(4, 2.0, Small with { SolverSteps = 40 });
        var model = new FlowDistribution(flow, new SquareLattice(4));
        using var g = new Generator(61);
        var (phi, logQ) = model.Sample(5, g, F64, CPU);
        var logQInverse = model.LogDensity(phi);
        Assert.True(MaxAbs(logQ - logQInverse) < 1e-6, $"max deviation {MaxAbs(logQ - logQInverse):E2}");
    }
}
