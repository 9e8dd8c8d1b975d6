using System.Globalization;
using Hybrid.IO;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Hybrid.Training;

/// <summary>
/// Gradient training of a model against an <see cref="ITrainingObjective"/>: each step draws a batch, evaluates the
/// loss, backpropagates, passes the gradients through an <see cref="IGradientTransform"/>, clips them and steps the
/// optimiser at the scheduled learning rate; then the objective's hooks run. Every step runs in its own dispose scope,
/// so memory stays flat. A non-finite loss or gradient, or a gradient stuck at exactly zero, stops training with a
/// diagnosis. Snapshots and checkpoints hold model, optimiser, generator and hook state, so that training resumes
/// bit for bit on CPU.
/// </summary>
public sealed class Trainer : IDisposable
{
    private readonly Generator generator;
    private readonly OptimizerHelper optimizer;
    private readonly IReadOnlyList<Parameter> parameters;
    private double lastFiniteLoss = double.NaN;
    private int zeroGradientSteps;
    private string? endReason;

    /// <summary>
    /// Prepares training of <paramref name="model"/> (moved to the options' dtype and to <paramref name="device"/>) with
    /// a generator seeded by <paramref name="seed"/>; attaches the objective's hooks.
    /// </summary>
    public Trainer(nn.Module model, ITrainingObjective objective, TrainerOptions options, long seed, Device? device = null, IGradientTransform? gradientTransform = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(objective);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Model = model;
        Objective = objective;
        Options = options;
        GradientTransform = gradientTransform ?? IdentityGradient.Instance;
        Device = device ?? CPU;
        model.to(options.DType).to(Device);
        parameters = model.parameters().ToList();
        if (parameters.Count == 0) throw new ArgumentException("the model has no parameters to train");
        optimizer = options.Optimizer switch
        {
            OptimizerKind.Adam => new Hybrid.Training.Adam(parameters, options.Schedule.Initial, options.AdamBetas.Beta1, options.AdamBetas.Beta2),
            OptimizerKind.Sgd => optim.SGD(parameters, options.Schedule.Initial),
            _ => throw new ArgumentException($"optimizer {options.Optimizer} is not allowed; use Adam or Sgd"),
        };
        generator = new Generator((ulong)seed, Device);
        foreach (var hook in objective.Hooks) hook.Attach(this);
    }

    /// <summary>The model being trained.</summary>
    public nn.Module Model { get; }

    /// <summary>What is minimised.</summary>
    public ITrainingObjective Objective { get; }

    /// <summary>What acts on the gradients before the optimiser step.</summary>
    public IGradientTransform GradientTransform { get; }

    /// <summary>The settings.</summary>
    public TrainerOptions Options { get; }

    /// <summary>Device of the model and its batches.</summary>
    public Device Device { get; }

    /// <summary>The trainable parameters, in the model's order.</summary>
    public IReadOnlyList<Parameter> Parameters => parameters;

    /// <summary>Optimiser steps taken so far (including those restored from a checkpoint and those a hook undid).</summary>
    public int CompletedSteps { get; private set; }

    /// <summary>A factor on the schedule's rate that hooks may lower (e.g. halved by a solver guard's back-off).</summary>
    public double LearningRateScale { get; set; } = 1;

    /// <summary>The learning rate of the next step.</summary>
    public double LearningRate => Options.Schedule.At(CompletedSteps) * LearningRateScale;

    /// <summary>The loss of the last step whose loss was finite (NaN before the first).</summary>
    public double LastFiniteLoss => lastFiniteLoss;

    /// <summary>Whether a hook has ended training; <see cref="Step"/> then refuses to go on.</summary>
    public bool HasEnded => endReason is not null;

    /// <summary>Why training has ended (null while it has not), for users.</summary>
    public string? EndReason => endReason;

    /// <summary>Ends training with <paramref name="reason"/> (for hooks).</summary>
    public void End(string reason) => endReason = reason ?? throw new ArgumentNullException(nameof(reason));

    /// <summary>One optimiser step on a fresh batch.</summary>
    /// <exception cref="TrainingDivergenceException">The loss or gradient is NaN or infinite, or the gradient stalled at zero.</exception>
    /// <exception cref="InvalidOperationException">A hook has ended training (<see cref="HasEnded"/>).</exception>
    public TrainingRecord Step()
    {
        if (endReason is not null) throw new InvalidOperationException(endReason);
        using var scope = NewDisposeScope();
        int step = CompletedSteps + 1;
        double lr = LearningRate;
        foreach (var group in optimizer.ParamGroups) group.LearningRate = lr;
        optimizer.zero_grad();
        var evaluation = Objective.Evaluate(generator);
        if (!double.IsFinite(evaluation.Value))
            throw new TrainingDivergenceException(Diagnosis(step, FormattableString.Invariant($"the loss {Objective.ValueName} is {evaluation.Value}")));
        evaluation.Loss.backward();
        GradientTransform.Apply(parameters, evaluation);
        double norm = Options.GradientClipNorm > 0
            ? nn.utils.clip_grad_norm_(parameters, Options.GradientClipNorm)
            : GradientNorm();
        if (!double.IsFinite(norm))
            throw new TrainingDivergenceException(Diagnosis(step, FormattableString.Invariant($"the gradient norm is {norm}")));
        // A gradient of exactly zero, step after step, means the model saturated (e.g. outputs where tanh is flat):
        // training can no longer move, and the model it leaves is confident nonsense.
        zeroGradientSteps = norm == 0 ? zeroGradientSteps + 1 : 0;
        if (Options.StalledSteps > 0 && zeroGradientSteps >= Options.StalledSteps)
            throw new TrainingDivergenceException(Diagnosis(step,
                $"the gradient has been exactly 0 for {Options.StalledSteps} steps in a row: the model saturated and training cannot move"));
        optimizer.step();
        lastFiniteLoss = evaluation.Value;
        CompletedSteps = step;
        var record = new TrainingRecord(step, evaluation.Value, evaluation.Error, norm, lr, evaluation.Diagnostics);
        if (Objective.Hooks.Count == 0) return record;
        var diagnostics = evaluation.Diagnostics.ToList();
        foreach (var hook in Objective.Hooks) diagnostics.AddRange(hook.AfterStep(this, record));
        return record with { Diagnostics = diagnostics };
    }

    /// <summary>Model parameters and optimiser state, serialised: what a hook returns to with <see cref="Restore"/>.</summary>
    public byte[] Snapshot()
    {
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            Model.save(writer);
            optimizer.save_state_dict(writer);
        }
        return buffer.ToArray();
    }

    /// <summary>Returns model and optimiser to a <see cref="Snapshot"/> (the step count and generator go on).</summary>
    public void Restore(byte[] snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        using var reader = new BinaryReader(new MemoryStream(snapshot));
        Model.load(reader);
        optimizer.load_state_dict(reader);
    }

    private double GradientNorm()
    {
        using var scope = NewDisposeScope();
        double sum = 0;
        foreach (var p in parameters)
            if (p.grad is not null) sum += p.grad.to(ScalarType.Float64).square().sum().item<double>();
        return Math.Sqrt(sum);
    }

    private string Diagnosis(int step, string what) =>
        FormattableString.Invariant(
            $"training diverged at step {step}: {what} (last finite {Objective.ValueName} = {lastFiniteLoss:G6}). ") +
        FormattableString.Invariant(
            $"Try a smaller learning rate (now {LearningRate:G3}) or gradient clipping (now {(Options.GradientClipNorm > 0 ? Options.GradientClipNorm.ToString("G3", CultureInfo.InvariantCulture) : "off")})") +
        (Options.DType == ScalarType.Float64 ? "." : ", or float64.");

    /// <summary>
    /// Writes <paramref name="header"/>, the trainer's counters, model, optimiser and generator state and each hook's
    /// state to <paramref name="path"/>, atomically and closed by a checksum (<see cref="Checkpoint"/>).
    /// </summary>
    public void SaveCheckpoint(string path, CheckpointHeader header) =>
        Checkpoint.Write(path, header, writer =>
        {
            writer.Write(CompletedSteps);
            writer.Write(lastFiniteLoss);
            writer.Write(LearningRateScale);
            writer.Write(endReason ?? "");
            Model.save(writer);
            optimizer.save_state_dict(writer);
            using var state = generator.get_state();
            var bytes = state.data<byte>().ToArray();
            writer.Write(bytes.Length);
            writer.Write(bytes);
            writer.Write(Objective.Hooks.Count);
            foreach (var hook in Objective.Hooks) hook.Save(writer);
        });

    /// <summary>
    /// Restores everything <see cref="SaveCheckpoint"/> wrote, so that training continues bit for bit (on CPU).
    /// Refuses, before changing anything, a checkpoint whose header differs from <paramref name="expected"/>.
    /// </summary>
    /// <exception cref="InvalidDataException">Not a checkpoint, a damaged one, or one that does not fit (every difference named).</exception>
    public void LoadCheckpoint(string path, CheckpointHeader expected)
    {
        Checkpoint.CheckCompatible(path, expected);
        using var reader = Checkpoint.Open(path, out _);
        CompletedSteps = reader.ReadInt32();
        lastFiniteLoss = reader.ReadDouble();
        LearningRateScale = reader.ReadDouble();
        var reason = reader.ReadString();
        endReason = reason.Length == 0 ? null : reason;
        Model.load(reader);
        optimizer.load_state_dict(reader);
        var bytes = reader.ReadBytes(reader.ReadInt32());
        using (var state = tensor(bytes, dtype: ScalarType.Byte))
            generator.set_state(state);
        int hooks = reader.ReadInt32();
        if (hooks != Objective.Hooks.Count)
            throw new InvalidDataException($"checkpoint '{path}' holds the state of {hooks} training hooks, this run has {Objective.Hooks.Count}");
        foreach (var hook in Objective.Hooks) hook.Load(reader, this);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        optimizer.Dispose();
        generator.Dispose();
        foreach (var hook in Objective.Hooks) (hook as IDisposable)?.Dispose();
    }
}
