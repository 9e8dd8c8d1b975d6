using Hybrid.Phi4.Flows;
using Hybrid.IO;
using Hybrid.Training;
using Hybrid.Lattice;
using Hybrid.Phi4;
using Hybrid.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Core.Tests.Phi4.Flows;

public class ReverseKlTrainerTests
{
    private static readonly RealNvpDefinition Small = new() { Couplings = 4, HiddenChannels = new[] { 8, 8 } };

    private static CheckpointHeader Header(SquareLattice lattice, Phi4Parameters p) =>
        ReverseKlTrainer.CheckpointHeaderFor("realnvp", System.Text.Json.JsonSerializer.Serialize(Small), new Phi4Action(lattice, p), ScalarType.Float64);

    private static (FlowDistribution Model, ReverseKlTrainer Trainer) Make(SquareLattice lattice, ILatticeAction action, long seed, FlowTrainingOptions? options = null)
    {
        var model = new FlowDistribution(Small.Build(lattice, seed), lattice);
        return (model, new ReverseKlTrainer(model, action, options ?? new FlowTrainingOptions { DType = ScalarType.Float64, LearningRate = 3e-3 }, seed));
    }

    [Fact]
    public void FreeFieldTrainingApproachesTheExactFreeEnergyFromAbove()
    {
        var lattice = new SquareLattice(4);
        var theory = new FreeFieldTheory(lattice, 1.0);
        var action = new Phi4Action(lattice, Phi4Parameters.FromMass(1.0, 0));
        var (model, trainer) = Make(lattice, action, 1, new FlowTrainingOptions { DType = ScalarType.Float64, LearningRate = 1e-2, BatchSize = 64 });
        using var _ = trainer;
        var first = trainer.Step();
        TrainingStep last = first;
        for (int i = 0; i < 200; i++) last = trainer.Step();
        using var g = new Generator(77);
        var logW = model.Propose(action, 4096, 512, g, ScalarType.Float64, CPU, _ => { });
        var (f, df) = ImportanceWeights.VariationalFreeEnergy(logW);
        double ess = ImportanceWeights.EffectiveSampleSizeFraction(logW);
        Console.WriteLine($"free field L = 4: F_q = {f} ± {df}, −ln Z = {theory.FreeEnergy}, ESS = {ess}");
        // F_q ≥ −ln Z holds exactly; the estimate may dip below only by its statistical error.
        Assert.True(f > theory.FreeEnergy - 4 * df, $"F_q = {f} ± {df} below −ln Z = {theory.FreeEnergy}");
        Assert.True(f < first.FreeEnergy - 1.0, $"training did not lower F_q: {first.FreeEnergy} → {f}");
        // Checkerboard affine couplings with tanh-bounded shifts cannot represent the Gaussian exactly:
        // the KL stays finite, but must be small.
        Assert.True(f - theory.FreeEnergy < 0.3, $"KL = F_q + ln Z = {f - theory.FreeEnergy} after 200 steps");
        Assert.True(ess > 0.6, $"ESS = {ess} after 200 steps on the free field");
    }

    [Fact]
    public void ResumingFromACheckpointIsBitForBit()
    {
        var lattice = new SquareLattice(4);
        var p = Phi4Parameters.FromMass(-4, 8);
        var action = new Phi4Action(lattice, p);
        var path = Path.Combine(Path.GetTempPath(), $"hybrid-ckpt-{Guid.NewGuid():N}.bin");

        var (straight, t1) = Make(lattice, action, 5);
        using (t1) for (int i = 0; i < 6; i++) t1.Step();

        var (firstHalf, t2) = Make(lattice, action, 5);
        using (t2)
        {
            for (int i = 0; i < 3; i++) t2.Step();
            t2.SaveCheckpoint(path, Header(lattice, p));
        }
        var (resumed, t3) = Make(lattice, action, 999); // different seed: everything must come from the checkpoint
        using (t3)
        {
            t3.LoadCheckpoint(path, Header(lattice, p));
            Assert.Equal(3, t3.CompletedSteps);
            for (int i = 0; i < 3; i++) t3.Step();
        }
        File.Delete(path);
        var a = straight.Flow.parameters().ToList();
        var b = resumed.Flow.parameters().ToList();
        Assert.Equal(a.Count, b.Count);
        for (int i = 0; i < a.Count; i++)
            Assert.True(a[i].to(ScalarType.Float64).sub(b[i].to(ScalarType.Float64)).abs().max().item<double>() == 0, $"parameter {i} differs after resuming");
    }

    [Fact]
    public void CheckpointOfAnotherTheoryIsRefusedNamingTheDifference()
    {
        var lattice = new SquareLattice(4);
        var p = Phi4Parameters.FromMass(-4, 8);
        var action = new Phi4Action(lattice, p);
        var path = Path.Combine(Path.GetTempPath(), $"hybrid-ckpt-{Guid.NewGuid():N}.bin");
        var (_, trainer) = Make(lattice, action, 5);
        using (trainer)
        {
            trainer.Step();
            trainer.SaveCheckpoint(path, Header(lattice, p));
            var other = Header(lattice, Phi4Parameters.FromMass(-4, 6));
            var e = Assert.Throws<InvalidDataException>(() => trainer.LoadCheckpoint(path, other));
            Assert.Contains("target lambda: checkpoint has 8, this run has 6", e.Message);
        }
        File.Delete(path);
        Assert.Throws<InvalidDataException>(() => Checkpoint.ReadHeader(typeof(ReverseKlTrainerTests).Assembly.Location));
    }

    [Fact]
    public void TruncatedOrDamagedCheckpointsAreRefusedBeforeLoading()
    {
        var lattice = new SquareLattice(4);
        var p = Phi4Parameters.FromMass(-4, 8);
        var path = Path.Combine(Path.GetTempPath(), $"hybrid-ckpt-{Guid.NewGuid():N}.bin");
        var (_, trainer) = Make(lattice, new Phi4Action(lattice, p), 5);
        using (trainer)
        {
            trainer.Step();
            trainer.SaveCheckpoint(path, Header(lattice, p));
        }
        var whole = File.ReadAllBytes(path);
        Checkpoint.CheckCompatible(path, Header(lattice, p));   // the whole file passes

        File.WriteAllBytes(path, whole[..(whole.Length / 2)]);
        var truncated = Assert.Throws<InvalidDataException>(() => Checkpoint.CheckCompatible(path, Header(lattice, p)));
        Assert.Contains("truncated or damaged", truncated.Message);

        var damaged = (byte[])whole.Clone();
        damaged[whole.Length / 2] ^= 0x40;
        File.WriteAllBytes(path, damaged);
        Assert.Throws<InvalidDataException>(() => Checkpoint.CheckCompatible(path, Header(lattice, p)));
        File.Delete(path);
    }

    private sealed class ActionThatBreaks(SquareLattice lattice, int breakAt) : ILatticeAction
    {
        private int calls;
        private readonly Phi4Action inner = new(lattice, Phi4Parameters.FromMass(-4, 8));
        public SquareLattice Lattice => lattice;
        public Tensor Action(Tensor phi) => ++calls >= breakAt ? inner.Action(phi) * double.NaN : inner.Action(phi);
        public Tensor Gradient(Tensor phi) => inner.Gradient(phi);
        public IReadOnlyList<long> ConfigurationShape => inner.ConfigurationShape;
        public string Describe() => inner.Describe();
    }

    [Fact]
    public void NonFiniteLossStopsTrainingWithADiagnosis()
    {
        var lattice = new SquareLattice(4);
        var (_, trainer) = Make(lattice, new ActionThatBreaks(lattice, 3), 5);
        using (trainer)
        {
            trainer.Step();
            trainer.Step();
            var e = Assert.Throws<TrainingDivergenceException>(() => trainer.Step());
            Assert.Contains("step 3", e.Message);
            Assert.Contains("last finite F_q", e.Message);
            Assert.Contains("learning rate", e.Message);
            Assert.Equal(2, trainer.CompletedSteps);
        }
    }
    // A one-step RK4 solver and a large learning rate make the solver's error grow at once, so that a tiny tolerance
    // trips the guard deterministically.
    private static readonly EquivariantFlowDefinition CoarseCnf = new() { Frequencies = 4, FeatureChannels = 3, TimeFrequencies = 1, TimeChannels = 3, SolverSteps = 1 };

    private static (FlowDistribution Model, ReverseKlTrainer Trainer) MakeCnf(SquareLattice lattice, long seed, double tolerance, int maxBackoffs, double relative = 0)
    {
        var model = new FlowDistribution(new EquivariantContinuousFlow(lattice, CoarseCnf, seed), lattice);
        var options = new FlowTrainingOptions
        {
            DType = ScalarType.Float64, LearningRate = 0.05, SolverCheckInterval = 2, SolverTolerance = tolerance, SolverRelativeTolerance = relative, MaxSolverBackoffs = maxBackoffs,
        };
        return (model, new ReverseKlTrainer(model, new Phi4Action(lattice, Phi4Parameters.FromMass(-4, 8)), options, seed));
    }

    private static double[][] Snapshot(LatticeFlow flow) =>
        flow.parameters().Select(p => p.to(ScalarType.Float64).data<double>().ToArray()).ToArray();

    [Fact]
    public void SolverGuardReturnsToTheLastAccurateStateWithHalfTheLearningRateThenEndsTraining()
    {
        var lattice = new SquareLattice(4);
        var (model, trainer) = MakeCnf(lattice, 3, tolerance: 1e-15, maxBackoffs: 1);
        using var _ = trainer;
        var initial = Snapshot(model.Flow);

        var first = trainer.Step();
        Assert.Null(first.Solver);                       // checks only every SolverCheckInterval steps
        var second = trainer.Step();
        Assert.NotNull(second.Solver);
        Assert.True(second.Solver!.LogQShiftMean > 1e-15, $"shift {second.Solver.LogQShiftMean}");
        Assert.True(second.RolledBack);
        Assert.Equal(1, trainer.SolverBackoffs);
        Assert.Equal(0.025, trainer.LearningRate, 15);
        Assert.Equal(initial, Snapshot(model.Flow));     // back at the only accurate state: the identity flow

        Assert.False(trainer.HasEnded);
        trainer.Step();
        var fourth = trainer.Step();
        Assert.True(fourth.RolledBack);
        Assert.True(trainer.HasEnded);
        Assert.Contains("step 4", trainer.EndReason);
        Assert.Contains("state of step 0", trainer.EndReason);
        Assert.Equal(initial, Snapshot(model.Flow));
        var e = Assert.Throws<InvalidOperationException>(() => trainer.Step());
        Assert.Contains("solver guard ended training", e.Message);
        Assert.Equal(4, trainer.CompletedSteps);
    }

    [Fact]
    public void SolverGuardWithinToleranceLeavesTrainingAlone()
    {
        var lattice = new SquareLattice(4);
        var (model, trainer) = MakeCnf(lattice, 3, tolerance: 1e6, maxBackoffs: 0);
        using var _ = trainer;
        var initial = Snapshot(model.Flow);
        TrainingStep last = trainer.Step();
        for (int i = 0; i < 3; i++) last = trainer.Step();
        Assert.NotNull(last.Solver);
        Assert.False(last.RolledBack);
        Assert.Equal(0, trainer.SolverBackoffs);
        Assert.NotEqual(initial, Snapshot(model.Flow));
    }

    [Fact]
    public void SolverToleranceGrowsWithTheSpreadOfTheLogWeights()
    {
        // Absolute tolerance 1e-15 alone would fail; relative to σ(log w) of the batch (large for a fresh flow) it passes.
        var (_, trainer) = MakeCnf(new SquareLattice(4), 3, tolerance: 1e-15, maxBackoffs: 0, relative: 0.1);
        using var _ = trainer;
        trainer.Step();
        var checkedStep = trainer.Step();
        double sigma = checkedStep.FreeEnergyError * Math.Sqrt(64);
        Assert.Equal(0.1 * sigma, checkedStep.SolverTolerance, 12);
        Assert.True(checkedStep.Solver!.LogQShiftMean < checkedStep.SolverTolerance, $"shift {checkedStep.Solver.LogQShiftMean}, σ = {sigma}");
        Assert.False(checkedStep.RolledBack);
    }

    [Fact]
    public void ResumingWithTheGuardFromAnUnguardedCheckpointReturnsToTheLoadedState()
    {
        var lattice = new SquareLattice(4);
        var p = Phi4Parameters.FromMass(-4, 8);
        var header = ReverseKlTrainer.CheckpointHeaderFor("cnf", System.Text.Json.JsonSerializer.Serialize(CoarseCnf), new Phi4Action(lattice, p), ScalarType.Float64);
        var path = Path.Combine(Path.GetTempPath(), $"hybrid-ckpt-{Guid.NewGuid():N}.bin");
        var unguarded = new FlowDistribution(new EquivariantContinuousFlow(lattice, CoarseCnf, 5), lattice);
        using (var t = new ReverseKlTrainer(unguarded, new Phi4Action(lattice, p),
                   new FlowTrainingOptions { DType = ScalarType.Float64, LearningRate = 0.05, SolverCheckInterval = 0 }, 5))
        {
            for (int i = 0; i < 3; i++) t.Step();
            t.SaveCheckpoint(path, header);
        }
        var loadedState = Snapshot(unguarded.Flow);
        var (model, guarded) = MakeCnf(lattice, 5, 1e-15, 10);
        using (guarded)
        {
            guarded.LoadCheckpoint(path, header);
            Assert.Equal(loadedState, Snapshot(model.Flow));
            var fourth = guarded.Step();                  // the first check fails: back to step 3, not to an untrained flow
            Assert.True(fourth.RolledBack);
            Assert.Equal(3, guarded.LastAccurateStep);
            Assert.Equal(loadedState, Snapshot(model.Flow));
        }
        File.Delete(path);
    }

    [Fact]
    public void ResumingThroughSolverBackoffsIsBitForBit()
    {
        // Back-offs at steps 2, 4 and 6; the checkpoint at step 3 must carry the back-off count and the state to return to.
        var lattice = new SquareLattice(4);
        var p = Phi4Parameters.FromMass(-4, 8);
        var header = ReverseKlTrainer.CheckpointHeaderFor("cnf", System.Text.Json.JsonSerializer.Serialize(CoarseCnf), new Phi4Action(lattice, p), ScalarType.Float64);
        var path = Path.Combine(Path.GetTempPath(), $"hybrid-ckpt-{Guid.NewGuid():N}.bin");
        var (straight, t1) = MakeCnf(lattice, 5, 1e-15, 10);
        using (t1) for (int i = 0; i < 7; i++) t1.Step();
        var (_, t2) = MakeCnf(lattice, 5, 1e-15, 10);
        using (t2)
        {
            for (int i = 0; i < 3; i++) t2.Step();
            t2.SaveCheckpoint(path, header);
        }
        var (resumed, t3) = MakeCnf(lattice, 999, 1e-15, 10);
        using (t3)
        {
            t3.LoadCheckpoint(path, header);
            Assert.Equal(1, t3.SolverBackoffs);
            for (int i = 0; i < 4; i++) t3.Step();
            Assert.Equal(3, t3.SolverBackoffs);
        }
        File.Delete(path);
        Assert.Equal(Snapshot(straight.Flow), Snapshot(resumed.Flow));
    }
}
