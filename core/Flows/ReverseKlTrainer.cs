using System.Text.Json;
using Hybrid.Lattice;
using Hybrid.IO;
using Hybrid.Sampling;
using Hybrid.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Hybrid.Flows;

/// <summary>Settings of <see cref="ReverseKlTrainer"/>.</summary>
public sealed record FlowTrainingOptions
{
    /// <summary>Batch size of each optimizer step.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Adam learning rate at step 0.</summary>
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>Steps at which the learning rate is multiplied by <see cref="LearningRateDecay"/> (a step schedule).</summary>
    public IReadOnlyList<int> DecaySteps { get; init; } = Array.Empty<int>();

    /// <summary>Factor applied at each of <see cref="DecaySteps"/>.</summary>
    public double LearningRateDecay { get; init; } = 0.1;

    /// <summary>Adam's decay rates (β₁, β₂) of the first and second moment estimates.</summary>
    public (double Beta1, double Beta2) AdamBetas { get; init; } = (0.9, 0.999);

    /// <summary>Maximal gradient norm (clipping); 0 switches clipping off.</summary>
    public double GradientClipNorm { get; init; } = 100;

    /// <summary>Floating-point type of the flow and its samples.</summary>
    public ScalarType DType { get; init; } = ScalarType.Float32;

    /// <summary>
    /// For flows with an ODE solver (<see cref="IOdeFlow"/>): every this many steps the trainer measures the solver's
    /// error on fixed latent fields (<see cref="SolverAccuracy"/>); 0 switches the guard off. Reverse KL sees only the
    /// solver's log q and, left alone, can learn to exploit the solver's error (the loss falls below −ln Z while the
    /// true ESS collapses). When the error exceeds the tolerance (<see cref="SolverTolerance"/>,
    /// <see cref="SolverRelativeTolerance"/>), training returns to the state of the
    /// last check that passed and continues with half the learning rate; after <see cref="MaxSolverBackoffs"/> halvings
    /// the next failed check ends training there, the furthest this solver allows.
    /// </summary>
    public int SolverCheckInterval { get; init; } = 50;

    /// <summary>The guard's absolute tolerance on the mean |log q(n) − log q(2n)|: near convergence it governs.</summary>
    public double SolverTolerance { get; init; } = SolverAccuracy.DefaultTolerance;

    /// <summary>
    /// The guard's tolerance relative to the spread σ of the training batch's log-weights −S − log q: a check passes
    /// while the mean shift is at most max(<see cref="SolverTolerance"/>, this · σ). Early in training, when log w
    /// spreads over tens to thousands, a solver error far below that spread cannot be what lowers the loss, and the
    /// flow must be free to move far; as the flow converges σ falls below one and the absolute tolerance takes over.
    /// </summary>
    public double SolverRelativeTolerance { get; init; } = 0.1;

    /// <summary>How often the guard may halve the learning rate; the next failed check ends training (<see cref="ReverseKlTrainer.HasEnded"/>) at the last accurate state.</summary>
    public int MaxSolverBackoffs { get; init; } = 4;

    /// <summary>
    /// These settings with another flow's optimiser (learning rate and Adam's betas, e.g. from
    /// <see cref="IFlowDefinition.RecommendedTraining"/>) and a step schedule for <paramref name="steps"/> steps:
    /// the rate decays by <see cref="LearningRateDecay"/> at 80% and 95% of the steps.
    /// </summary>
    public FlowTrainingOptions WithOptimizer(FlowTrainingOptions optimizer, int steps)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        return this with { LearningRate = optimizer.LearningRate, AdamBetas = optimizer.AdamBetas, DecaySteps = new[] { steps * 4 / 5, steps * 19 / 20 } };
    }

    /// <summary>The learning rate in effect at <paramref name="step"/>.</summary>
    public double LearningRateAt(int step) => Schedule.At(step);

    /// <summary>The learning-rate schedule these settings describe.</summary>
    public LearningRateSchedule Schedule => new(LearningRate, DecaySteps, LearningRateDecay);

    /// <summary>The settings of the generic <see cref="Trainer"/>: Adam, this schedule, clipping and dtype.</summary>
    public TrainerOptions ToTrainerOptions() => new()
    {
        Schedule = Schedule,
        Optimizer = OptimizerKind.Adam,
        AdamBetas = AdamBetas,
        GradientClipNorm = GradientClipNorm,
        DType = DType,
        StalledSteps = ReverseKlTrainer.StalledSteps,
    };

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first bad value.</summary>
    public void Validate()
    {
        if (BatchSize < 2) throw new ArgumentException($"batch size {BatchSize} is not allowed; it must be ≥ 2");
        if (!(LearningRate > 0) || !double.IsFinite(LearningRate)) throw new ArgumentException($"learning rate {LearningRate} is not allowed; it must be a finite number > 0");
        if (!(LearningRateDecay > 0) || LearningRateDecay > 1) throw new ArgumentException($"learning-rate decay {LearningRateDecay} is not allowed; it must lie in (0, 1]");
        if (!(GradientClipNorm >= 0) || !double.IsFinite(GradientClipNorm)) throw new ArgumentException($"gradient clip norm {GradientClipNorm} is not allowed; it must be a finite number ≥ 0 (0: off)");
        if (!(AdamBetas.Beta1 >= 0 && AdamBetas.Beta1 < 1 && AdamBetas.Beta2 >= 0 && AdamBetas.Beta2 < 1))
            throw new ArgumentException($"Adam betas ({AdamBetas.Beta1}, {AdamBetas.Beta2}) are not allowed; each must lie in [0, 1)");
        if (DType is not (ScalarType.Float32 or ScalarType.Float64)) throw new ArgumentException($"dtype {DType} is not allowed; use Float32 or Float64");
        if (SolverCheckInterval < 0) throw new ArgumentException($"solver check interval {SolverCheckInterval} is not allowed; it must be ≥ 0 (0: off)");
        if (!(SolverTolerance > 0) || !double.IsFinite(SolverTolerance)) throw new ArgumentException($"solver tolerance {SolverTolerance} is not allowed; it must be a finite number > 0");
        if (!(SolverRelativeTolerance >= 0) || !double.IsFinite(SolverRelativeTolerance)) throw new ArgumentException($"relative solver tolerance {SolverRelativeTolerance} is not allowed; it must be a finite number ≥ 0");
        if (MaxSolverBackoffs < 0) throw new ArgumentException($"maximal solver back-offs {MaxSolverBackoffs} is not allowed; it must be ≥ 0");
    }
}

/// <summary>What one optimizer step saw (on its own training batch).</summary>
/// <param name="Step">1-based index of the step just taken.</param>
/// <param name="FreeEnergy">F_q = mean(S + log q) of the batch: the loss (it omits ln Z).</param>
/// <param name="FreeEnergyError">Standard error of <paramref name="FreeEnergy"/>.</param>
/// <param name="EffectiveSampleSize">ESS/N of the batch.</param>
/// <param name="GradientNorm">Gradient norm before clipping.</param>
/// <param name="LearningRate">Learning rate used.</param>
/// <param name="Solver">The solver-accuracy check made after this step (ODE flows, every <see cref="FlowTrainingOptions.SolverCheckInterval"/> steps), else null.</param>
/// <param name="RolledBack">The check failed and training returned to the state of the last check that passed.</param>
/// <param name="SolverTolerance">The tolerance the check applied (0 without a check).</param>
public sealed record TrainingStep(int Step, double FreeEnergy, double FreeEnergyError, double EffectiveSampleSize, double GradientNorm, double LearningRate,
    SolverAccuracy? Solver = null, bool RolledBack = false, double SolverTolerance = 0);

/// <summary>
/// Reverse-KL training of a lattice flow towards p ∝ e^{−S}: the generic <see cref="Trainer"/> with a
/// <see cref="ReverseKlObjective"/> (and, for ODE flows, its <see cref="SolverGuard"/>), Adam and the step schedule of
/// <see cref="FlowTrainingOptions"/>, reporting each step as a <see cref="TrainingStep"/>. Deterministic on CPU for a
/// given seed, including across <see cref="SaveCheckpoint"/>/<see cref="LoadCheckpoint"/>.
/// </summary>
public sealed class ReverseKlTrainer : IDisposable
{
    private readonly Trainer trainer;
    private readonly ReverseKlObjective objective;

    /// <summary>Consecutive steps with a gradient of exactly zero after which training stops with a diagnosis.</summary>
    public const int StalledSteps = 20;

    /// <summary>Prepares training of <paramref name="model"/> towards e^{−S} of <paramref name="action"/>; moves the flow to the dtype and device.</summary>
    public ReverseKlTrainer(FlowDistribution model, ILatticeAction action, FlowTrainingOptions options, long seed, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(action);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        var dev = device ?? CPU;
        var guard = model.Flow is IOdeFlow ode ? new SolverGuard(ode, model.Lattice, options, seed) : null;
        objective = new ReverseKlObjective(model, action, options.BatchSize, options.DType, dev, guard);
        trainer = new Trainer(model.Flow, objective, options.ToTrainerOptions(), seed, dev);
    }

    /// <summary>The header a checkpoint of flow <paramref name="kind"/> with <paramref name="definitionJson"/> towards <paramref name="target"/> carries.</summary>
    public static CheckpointHeader CheckpointHeaderFor(string kind, string definitionJson, IAction target, ScalarType dtype)
    {
        ArgumentNullException.ThrowIfNull(target);
        return new CheckpointHeader(kind, definitionJson, target.Describe(), dtype.ToString());
    }

    /// <summary>The training settings.</summary>
    public FlowTrainingOptions Options { get; }

    /// <summary>Device of the flow and its samples.</summary>
    public Device Device => trainer.Device;

    /// <summary>Optimizer steps taken so far (including those restored from a checkpoint and those undone by the solver guard).</summary>
    public int CompletedSteps => trainer.CompletedSteps;

    /// <summary>How often the solver guard has returned to an earlier state and halved the learning rate.</summary>
    public int SolverBackoffs => objective.Guard?.Backoffs ?? 0;

    /// <summary>The learning rate of the next step: the schedule's, halved once per solver back-off.</summary>
    public double LearningRate => trainer.LearningRate;

    /// <summary>Whether the solver guard has ended training; <see cref="Step"/> then refuses to go on.</summary>
    public bool HasEnded => trainer.HasEnded;

    /// <summary>The step of the last solver check that passed (0 before the first): the state the guard returns to.</summary>
    public int LastAccurateStep => objective.Guard?.LastAccurateStep ?? 0;

    /// <summary>Why training has ended (null while it has not), for users.</summary>
    public string? EndReason => trainer.EndReason;

    /// <summary>One optimizer step on a fresh batch.</summary>
    /// <exception cref="TrainingDivergenceException">The loss or gradient is NaN or infinite.</exception>
    /// <exception cref="InvalidOperationException">The solver guard has ended training (<see cref="HasEnded"/>).</exception>
    public TrainingStep Step()
    {
        var r = trainer.Step();
        var step = new TrainingStep(r.Step, r.Loss, r.LossError, r[ReverseKlObjective.EffectiveSampleSize], r.GradientNorm, r.LearningRate);
        return objective.Guard?.LastCheck is { } check && check.Step == r.Step
            ? step with { Solver = check.Accuracy, RolledBack = check.RolledBack, SolverTolerance = check.Tolerance }
            : step;
    }

    /// <summary>Writes flow, optimizer, generator and guard state with <paramref name="header"/> (see <see cref="Checkpoint"/>).</summary>
    public void SaveCheckpoint(string path, CheckpointHeader header) => trainer.SaveCheckpoint(path, header);

    /// <summary>Restores a checkpoint, so that training continues bit for bit (on CPU); refuses one that does not fit.</summary>
    /// <exception cref="InvalidDataException">Not a checkpoint, or one that does not fit this model and target.</exception>
    public void LoadCheckpoint(string path, CheckpointHeader expected) => trainer.LoadCheckpoint(path, expected);

    /// <inheritdoc/>
    public void Dispose() => trainer.Dispose();
}
