using Hybrid.Phi4.Flows;
using Hybrid.Lattice;
using Hybrid.Phi4;
using Hybrid.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Core.Tests.Phi4.Flows;

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
