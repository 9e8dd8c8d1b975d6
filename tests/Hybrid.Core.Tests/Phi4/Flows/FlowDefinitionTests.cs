using Hybrid.Phi4.Flows;
using Hybrid.Lattice;
using Hybrid.Phi4;
using Hybrid.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Core.Tests.Phi4.Flows;

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
