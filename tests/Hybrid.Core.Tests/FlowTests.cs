using Hybrid.Flows;
using Hybrid.Lattice;
using Hybrid.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Core.Tests;

/// <summary>Brute-force checks shared by the flow tests.</summary>
internal static class FlowChecks
{
    /// <summary>log|det ∂φ/∂z| of a flow at one configuration, from the full autograd Jacobian.</summary>
    public static double BruteForceLogJacobian(LatticeFlow flow, Tensor z)
    {
        using var scope = NewDisposeScope();
        int v = (int)(z.shape[1] * z.shape[2]);
        var input = z.detach().clone().requires_grad_(true);
        var (phi, _) = flow.forward(input);
        var flat = phi.reshape(-1);
        var rows = new Tensor[v];
        for (int i = 0; i < v; i++)
            rows[i] = autograd.grad(new[] { flat[i] }, new[] { input }, retain_graph: true)[0].reshape(-1);
        return linalg.slogdet(stack(rows)).Item2.item<double>();
    }

    public static Tensor RandomFields(int batch, int l, long seed, double scale = 1.0)
    {
        using var g = new Generator((ulong)seed);
        return randn(new long[] { batch, l, l }, dtype: ScalarType.Float64, generator: g).mul_(scale);
    }
}

public class RealNvpTests
{
    private static FlowComposition Flow(int l = 4) =>
        (FlowComposition)new RealNvpDefinition { Couplings = 4, HiddenChannels = new[] { 4, 4 } }.Build(new SquareLattice(l), seed: 3).to(ScalarType.Float64);

    [Fact]
    public void InverseUndoesForwardAndLogJacobiansCancel()
    {
        var flow = Flow();
        using var scope = NewDisposeScope();
        var z = FlowChecks.RandomFields(5, 4, 1);
        var (phi, logJ) = flow.forward(z);
        var (back, logJInverse) = flow.Inverse(phi);
        Assert.True((back - z).abs().max().item<double>() < 1e-12);
        Assert.True((logJ + logJInverse).abs().max().item<double>() < 1e-12);
        Assert.True((phi - z).abs().max().item<double>() > 1e-3, "an untrained realNVP is not the identity");
    }

    /// <summary>
    /// The float32 kernels of a tutorial-size coupling stack: forward and backward on fixed inputs, repeated, must give
    /// the same bits every time, finite values, and the float64 result within float32 rounding. A kernel that reads
    /// memory it never wrote (the float32 realNVP NaNs of issue 7, seen on AMD EPYC hosts with oneDNN convolutions)
    /// fails the first or second check.
    /// </summary>
    [Fact]
    public void Float32CouplingsAreReproducibleBitForBitAndMatchFloat64()
    {
        var lattice = new SquareLattice(8);
        var definition = new RealNvpDefinition { Couplings = 4 };   // the tutorial's channels [8, 8] and kernel 3
        using var scope = NewDisposeScope();
        var z = FlowChecks.RandomFields(64, 8, 7);

        (float[] Phi, float[] LogJ, float[] Grads) Pass(LatticeFlow flow, ScalarType dtype)
        {
            using var inner = NewDisposeScope();
            flow.zero_grad();
            var (phi, logJ) = flow.forward(z.to(dtype));
            (phi.square().mean() + logJ.mean()).backward();
            var grads = cat(flow.parameters().Select(p => p.grad!.reshape(-1)).ToArray());
            float[] Floats(Tensor t) => t.detach().to(ScalarType.Float32).data<float>().ToArray();
            return (Floats(phi), Floats(logJ), Floats(grads));
        }

        var flow32 = definition.Build(lattice, seed: 5);
        var reference = Pass(flow32, ScalarType.Float32);
        Assert.All(reference.Grads, g => Assert.True(float.IsFinite(g), "finite gradients"));
        for (int repeat = 0; repeat < 100; repeat++)
        {
            var again = Pass(flow32, ScalarType.Float32);
            Assert.True(reference.Phi.SequenceEqual(again.Phi) && reference.LogJ.SequenceEqual(again.LogJ) && reference.Grads.SequenceEqual(again.Grads),
                $"pass {repeat + 2} differs from the first in some bit");
        }

        // The same parameters in float64, copied rather than rebuilt, so that the comparison is of arithmetic alone.
        var flow64 = definition.Build(lattice, seed: 5);
        flow64.to(ScalarType.Float64);
        using (no_grad())
            foreach (var (p64, p32) in flow64.parameters().Zip(flow32.parameters()))
                p64.copy_(p32);
        var exact = Pass(flow64, ScalarType.Float64);
        double Deviation(float[] a, float[] b) => a.Zip(b, (x, y) => Math.Abs(x - y) / (1 + Math.Abs(y))).Max();
        Assert.True(Deviation(reference.Phi, exact.Phi) < 1e-5, "φ agrees with float64");
        Assert.True(Deviation(reference.LogJ, exact.LogJ) < 1e-4, "log J agrees with float64");
        Assert.True(Deviation(reference.Grads, exact.Grads) < 1e-3, "gradients agree with float64");
    }

    [Fact]
    public void AFlowIsAFunctionOfItsSeedAlone()
    {
        // Build draws from the flow's own generator (not libtorch's global one, which other code, or a test running
        // in parallel, may reseed or draw from at any time): one seed gives one flow, another seed another.
        var lattice = new SquareLattice(8);
        using var a = new RealNvpDefinition().Build(lattice, seed: 11);
        torch.random.manual_seed(12345);   // the global generator's state must not matter
        using var b = new RealNvpDefinition().Build(lattice, seed: 11);
        using var c = new RealNvpDefinition().Build(lattice, seed: 12);
        var pa = a.parameters().ToList();
        Assert.All(pa.Zip(b.parameters()), pair => Assert.True(pair.First.eq(pair.Second).all().item<bool>(), "same seed, same parameters"));
        Assert.Contains(pa.Zip(c.parameters()), pair => !pair.First.eq(pair.Second).all().item<bool>());
    }

    [Fact]
    public void LogJacobianEqualsBruteForceDeterminant()
    {
        var flow = Flow();
        using var scope = NewDisposeScope();
        var z = FlowChecks.RandomFields(2, 4, 2);
        var (_, logJ) = flow.forward(z);
        for (int b = 0; b < 2; b++)
            Assert.Equal(FlowChecks.BruteForceLogJacobian(flow, z[b..(b + 1)]), logJ[b].item<double>(), 10);
    }

    [Fact]
    public void CouplingLeavesItsFrozenParityUnchanged()
    {
        var coupling = new AffineCoupling(new SquareLattice(4), 0, new RealNvpDefinition()).to(ScalarType.Float64);
        using var scope = NewDisposeScope();
        var z = FlowChecks.RandomFields(1, 4, 3);
        var (phi, _) = ((AffineCoupling)coupling).forward(z);
        for (int t = 0; t < 4; t++)
            for (int x = 0; x < 4; x++)
                if ((t + x) % 2 == 0) Assert.Equal(z[0, t, x].item<double>(), phi[0, t, x].item<double>());
    }

    [Fact]
    public void OddLatticeIsRefused() =>
        Assert.Contains("even", Assert.Throws<ArgumentException>(() => new RealNvpDefinition().Build(new SquareLattice(5), 1)).Message);

    [Fact]
    public void DensityOfASampleMatchesTheSamplingDensity()
    {
        var lattice = new SquareLattice(4);
        var model = new FlowDistribution(Flow(), lattice);
        using var scope = NewDisposeScope();
        using var g = new Generator(9);
        var (phi, logQ) = model.Sample(6, g, ScalarType.Float64, CPU);
        Assert.True((model.LogDensity(phi) - logQ).abs().max().item<double>() < 1e-10);
    }
}

public class FreeFieldFlowTests
{
    [Fact]
    public void ExactFlowHasConstantWeightsUnitEssAndTheExactFreeEnergy()
    {
        var lattice = new SquareLattice(6);
        var theory = new FreeFieldTheory(lattice, 0.7);
        var action = new Phi4Action(lattice, Phi4Parameters.FromMass(0.7, 0));
        var model = new FlowDistribution(new FreeFieldFlow(theory), lattice);
        using var g = new Generator(4);
        var logW = model.Propose(action, 256, 64, g, ScalarType.Float64, CPU, _ => { });
        // log w = −S − log q = ln Z exactly for every sample.
        Assert.All(logW, w => Assert.Equal(-theory.FreeEnergy, w, 9));
        Assert.Equal(1.0, ImportanceWeights.EffectiveSampleSizeFraction(logW), 12);
        var (f, df) = ImportanceWeights.VariationalFreeEnergy(logW);
        Assert.Equal(theory.FreeEnergy, f, 9);
        Assert.True(df < 1e-9);
        var uniforms = Enumerable.Range(0, 256).Select(i => (i + 0.5) / 256).ToArray();
        Assert.Equal(1.0, IndependenceMetropolis.Run(logW, uniforms).AcceptanceRate);
    }

    [Fact]
    public void SamplesHaveTheExactPropagator()
    {
        var lattice = new SquareLattice(4);
        var theory = new FreeFieldTheory(lattice, 1.0);
        var flow = new FreeFieldFlow(theory);
        using var scope = NewDisposeScope();
        var (phi, _) = flow.forward(FlowChecks.RandomFields(20000, 4, 5));
        // ⟨φ_0 φ_(1,0)⟩ over 20000 × 16 correlated pairs: error ≈ 0.0015; test at 5σ.
        double g10 = (phi * roll(phi, -1, 1)).mean().item<double>();
        Assert.Equal(theory.Propagator(1, 0), g10, 0.008);
        double g00 = phi.square().mean().item<double>();
        Assert.Equal(theory.Propagator(0, 0), g00, 0.008);
    }
}

public class IndependenceMetropolisTests
{
    [Fact]
    public void EqualWeightsAcceptEverything()
    {
        var chain = IndependenceMetropolis.Run(new double[10], Enumerable.Repeat(0.999, 10).ToArray());
        Assert.Equal(Enumerable.Range(0, 10), chain.State);
        Assert.Equal(1.0, chain.AcceptanceRate);
    }

    [Fact]
    public void AcceptsWithTheWeightRatio()
    {
        // From a state of weight 1, a proposal of weight ½ is accepted iff u < ½; NaN is never accepted.
        var logW = new[] { 0.0, Math.Log(0.5), Math.Log(0.5), double.NaN, 5.0 };
        var chain = IndependenceMetropolis.Run(logW, new[] { 0.0, 0.6, 0.4, 0.0, 0.99 });
        Assert.Equal(new[] { 0, 0, 2, 2, 4 }, chain.State);
        Assert.Equal(new[] { true, false, true, false, true }, chain.Accepted);
    }

    [Fact]
    public void ChainSamplesTheTargetOfADiscreteToy()
    {
        // Proposals uniform on {0, 1}, target p = (0.2, 0.8): the chain's occupation converges to p.
        var rng = new Random(1);
        int n = 200000;
        var values = Enumerable.Range(0, n).Select(_ => rng.Next(2)).ToArray();
        var logW = values.Select(v => Math.Log(v == 0 ? 0.2 : 0.8)).ToArray();
        var uniforms = Enumerable.Range(0, n).Select(_ => rng.NextDouble()).ToArray();
        var chain = IndependenceMetropolis.Run(logW, uniforms);
        double p1 = chain.State.Average(i => (double)values[i]);
        Assert.Equal(0.8, p1, 0.005); // binomial error ≈ 0.001 with τ_int ≈ 1.5
    }
}

public class FlowDefinitionTests
{
    [Fact]
    public void EachKindCarriesItsNamesAndItsPapersOptimiser()
    {
        Assert.Equal(new[] { "realnvp", "cnf" }, FlowDefinitions.Kinds);
        var realNvp = FlowDefinitions.Default("realnvp");
        var cnf = FlowDefinitions.Default("cnf");
        Assert.Equal(("realnvp", "realNVP", 1e-3, (0.9, 0.999)), (realNvp.Kind, realNvp.DisplayName, realNvp.RecommendedTraining.LearningRate, realNvp.RecommendedTraining.AdamBetas));
        Assert.Equal(("cnf", "CNF", 5e-3, (0.8, 0.9)), (cnf.Kind, cnf.DisplayName, cnf.RecommendedTraining.LearningRate, cnf.RecommendedTraining.AdamBetas));
        var e = Assert.Throws<ArgumentException>(() => FlowDefinitions.Default("maf"));
        Assert.Contains("realnvp, cnf", e.Message);
    }

    [Fact]
    public void DefinitionsBuildAndValidateThroughTheInterface()
    {
        var lattice = new SquareLattice(4);
        foreach (var kind in FlowDefinitions.Kinds)
        {
            var definition = FlowDefinitions.Default(kind);
            definition.Validate(lattice);
            using var flow = definition.Build(lattice, 1);
            Assert.NotEmpty(flow.parameters());
        }
        Assert.Throws<ArgumentException>(() => FlowDefinitions.Default("realnvp").Validate(new SquareLattice(5)));
    }

    [Fact]
    public void DefinitionJsonIsWhatCheckpointsRecordedBefore()
    {
        // Checkpoints compare definitions as JSON: the interface's properties must not enter it.
        var json = System.Text.Json.JsonSerializer.Serialize(new RealNvpDefinition());
        Assert.Equal("{\"Couplings\":16,\"HiddenChannels\":[8,8],\"KernelSize\":3,\"Activation\":0,\"TanhOutput\":true}", json);
        Assert.DoesNotContain("Kind", System.Text.Json.JsonSerializer.Serialize(new EquivariantFlowDefinition()));
    }

    [Fact]
    public void WithMethodsChangeOneSettingAndKeepTheRest()
    {
        var realNvp = new RealNvpDefinition { Couplings = 6, KernelSize = 5 }.WithHiddenChannels(new[] { 4 });
        Assert.Equal((6, 5), (realNvp.Couplings, realNvp.KernelSize));
        Assert.Equal(new[] { 4 }, realNvp.HiddenChannels);
        var cnf = new EquivariantFlowDefinition { Frequencies = 8, TimeChannels = 7 }.WithSolverSteps(12);
        Assert.Equal((8, 7, 12), (cnf.Frequencies, cnf.TimeChannels, cnf.SolverSteps));
    }
}
