using System.Text.Json;
using Hybrid.Lattice;
using Hybrid.IO;
using Hybrid.Sampling;
using Hybrid.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Hybrid.Phi4.Flows;

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
