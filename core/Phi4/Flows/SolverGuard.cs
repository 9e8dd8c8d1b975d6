using Hybrid.Lattice;
using Hybrid.Sampling;
using Hybrid.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Phi4.Flows;

/// <summary>
/// Keeps reverse-KL training of an ODE flow honest. Reverse KL sees only the solver's log q and, left alone, can learn
/// to exploit the solver's error (the loss falls below −ln Z while the true ESS collapses). Every
/// <see cref="FlowTrainingOptions.SolverCheckInterval"/> steps the guard measures the solver's error on fixed latent
/// fields (<see cref="SolverAccuracy"/>). Within tolerance, that state becomes the one to return to; beyond it,
/// training returns there with half the learning rate, and after <see cref="FlowTrainingOptions.MaxSolverBackoffs"/>
/// halvings the next failed check ends training at the last accurate state, the furthest this solver allows.
/// </summary>
public sealed class SolverGuard : ITrainingHook, IDisposable
{
    private const int ProbeFields = 32;
    private readonly IOdeFlow flow;
    private readonly SquareLattice lattice;
    private readonly FlowTrainingOptions options;
    private readonly ulong seed;
    private Tensor? probe;
    private ulong probeSeed;
    private byte[] lastAccurateState = Array.Empty<byte>();   // empty while the guard is off
    private double lastAccurateTolerance = double.NaN;

    /// <summary>A guard for <paramref name="flow"/> on <paramref name="lattice"/>; its probe fields come from a stream derived from <paramref name="seed"/>.</summary>
    public SolverGuard(IOdeFlow flow, SquareLattice lattice, FlowTrainingOptions options, long seed)
    {
        this.flow = flow ?? throw new ArgumentNullException(nameof(flow));
        this.lattice = lattice ?? throw new ArgumentNullException(nameof(lattice));
        this.options = options ?? throw new ArgumentNullException(nameof(options));
        this.seed = unchecked((ulong)seed ^ 0x9E3779B97F4A7C15UL);
    }

    /// <summary>Whether checks run at all (<see cref="FlowTrainingOptions.SolverCheckInterval"/> &gt; 0).</summary>
    public bool IsActive => options.SolverCheckInterval > 0;

    /// <summary>How often the guard has returned to an earlier state and halved the learning rate.</summary>
    public int Backoffs { get; private set; }

    /// <summary>The step of the last check that passed (0 before the first): the state the guard returns to.</summary>
    public int LastAccurateStep { get; private set; }

    /// <summary>The last check: its step, what it measured, the tolerance it applied and whether it rolled back.</summary>
    public (int Step, SolverAccuracy Accuracy, double Tolerance, bool RolledBack)? LastCheck { get; private set; }

    /// <summary>Names of the guard's diagnostics in a training record (present on check steps only).</summary>
    public const string SolverError = "solver_error", SolverToleranceName = "solver_tolerance", RolledBack = "rolled_back";

    /// <inheritdoc/>
    public void Attach(Trainer trainer)
    {
        if (!IsActive) return;
        MakeProbe(seed, trainer);
        lastAccurateState = trainer.Snapshot();
    }

    /// <summary>Fixed latent fields from their own stream: the guard must not move the training generator.</summary>
    private void MakeProbe(ulong probeSeedValue, Trainer trainer)
    {
        probe?.Dispose();
        probeSeed = probeSeedValue;
        using var probeGenerator = new Generator(probeSeedValue, trainer.Device);
        probe = randn(new long[] { ProbeFields, lattice.Extent, lattice.Extent },
            dtype: trainer.Options.DType, device: trainer.Device, generator: probeGenerator).DetachFromDisposeScope();
    }

    /// <inheritdoc/>
    public IReadOnlyList<KeyValuePair<string, double>> AfterStep(Trainer trainer, TrainingRecord record)
    {
        if (probe is null || record.Step % options.SolverCheckInterval != 0) return Array.Empty<KeyValuePair<string, double>>();
        // The spread σ of the batch's log-weights: its standard error times √N. Early in training σ is large and a
        // solver error far below it cannot be what lowers the loss; near convergence the absolute tolerance governs.
        double spread = record.LossError * Math.Sqrt(options.BatchSize);
        double tolerance = Math.Max(options.SolverTolerance, options.SolverRelativeTolerance * spread);
        var accuracy = SolverAccuracy.Measure(flow, probe);
        bool rolledBack = !accuracy.IsWithin(tolerance);
        if (!rolledBack)
        {
            lastAccurateState = trainer.Snapshot();
            LastAccurateStep = record.Step;
            lastAccurateTolerance = tolerance;
        }
        else
        {
            trainer.Restore(lastAccurateState);
            Backoffs++;
            trainer.LearningRateScale = Math.Pow(0.5, Backoffs);
            if (Backoffs > options.MaxSolverBackoffs) trainer.End(EndReason(record.Step));
        }
        LastCheck = (record.Step, accuracy, tolerance, rolledBack);
        return new[]
        {
            KeyValuePair.Create(SolverError, accuracy.LogQShiftMean),
            KeyValuePair.Create(SolverToleranceName, tolerance),
            KeyValuePair.Create(RolledBack, rolledBack ? 1.0 : 0.0),
        };
    }

    private string EndReason(int step) => FormattableString.Invariant(
        $"the solver guard ended training at step {step}: the ODE solver's error (mean |log q(n) − log q(2n)|) left its tolerance again after {options.MaxSolverBackoffs} halvings of the learning rate, ") +
        FormattableString.Invariant(
        $"so further training would exploit it. The flow is at its state of step {LastAccurateStep} (steps undone by back-offs included), ") +
        (double.IsFinite(lastAccurateTolerance)
            ? FormattableString.Invariant($"the last whose solver error was within the tolerance in force then ({lastAccurateTolerance:G3})")
            : "the initial flow, as no check passed") +
        "; to train further, use more solver steps.";

    /// <inheritdoc/>
    public void Save(BinaryWriter writer)
    {
        writer.Write(Backoffs);
        writer.Write(LastAccurateStep);
        writer.Write(lastAccurateTolerance);
        writer.Write(probeSeed);
        writer.Write(lastAccurateState.Length);
        writer.Write(lastAccurateState);
    }

    /// <inheritdoc/>
    public void Load(BinaryReader reader, Trainer trainer)
    {
        Backoffs = reader.ReadInt32();
        LastAccurateStep = reader.ReadInt32();
        lastAccurateTolerance = reader.ReadDouble();
        ulong savedProbeSeed = reader.ReadUInt64();
        lastAccurateState = reader.ReadBytes(reader.ReadInt32());
        if (probe is null)
            lastAccurateState = Array.Empty<byte>();
        else if (lastAccurateState.Length == 0)
        {
            // Written with the guard off: the loaded state is the one to return to from now on.
            lastAccurateState = trainer.Snapshot();
            LastAccurateStep = trainer.CompletedSteps;
        }
        else
            MakeProbe(savedProbeSeed, trainer);   // the same probe fields as the run that wrote the checkpoint
    }

    /// <inheritdoc/>
    public void Dispose() => probe?.Dispose();
}
