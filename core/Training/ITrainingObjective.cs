using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Hybrid.Training;

/// <summary>
/// One evaluation of an objective on a fresh batch: the differentiable loss, its value as an estimate with a standard
/// error (what progress lines and divergence checks read), and named diagnostics (e.g. "ess").
/// </summary>
/// <param name="Loss">A scalar tensor with the graph back to the parameters; the trainer calls backward on it.</param>
/// <param name="Value">The loss as a number (may differ from <paramref name="Loss"/> by a constant, e.g. a baseline).</param>
/// <param name="Error">Standard error of <paramref name="Value"/> over the batch (NaN when not known).</param>
/// <param name="Diagnostics">Named numbers measured on the same batch, in a fixed order.</param>
public sealed record ObjectiveEvaluation(Tensor Loss, double Value, double Error, IReadOnlyList<KeyValuePair<string, double>> Diagnostics);

/// <summary>
/// What is minimised: reverse KL of a flow, the variational energy of a wavefunction, a regression loss. The trainer
/// owns the optimiser, schedule, clipping, divergence diagnosis and checkpoints; the objective only says how to get a
/// loss from a batch, with which generator.
/// </summary>
public interface ITrainingObjective
{
    /// <summary>A short name, e.g. "reverse-kl", used in diagnoses.</summary>
    string Name { get; }

    /// <summary>The symbol of the loss's value in diagnoses, e.g. "F_q" or "E".</summary>
    string ValueName { get; }

    /// <summary>Draws a batch with <paramref name="generator"/> and evaluates the loss, inside the trainer's dispose scope.</summary>
    ObjectiveEvaluation Evaluate(Generator generator);

    /// <summary>Hooks run after each optimiser step (e.g. a flow's ODE solver guard); empty for most objectives.</summary>
    IReadOnlyList<ITrainingHook> Hooks { get; }
}

/// <summary>
/// Acts on the gradients between backward and the optimiser step: the identity for plain training, stochastic
/// reconfiguration (S⁻¹ g) for VMC, any preconditioner. It replaces each parameter's <c>grad</c> in place.
/// </summary>
public interface IGradientTransform
{
    /// <summary>Transforms the gradients of <paramref name="parameters"/> after backward of <paramref name="evaluation"/>'s loss.</summary>
    void Apply(IReadOnlyList<Parameter> parameters, ObjectiveEvaluation evaluation);
}

/// <summary>The gradient as it is.</summary>
public sealed class IdentityGradient : IGradientTransform
{
    /// <summary>The one instance.</summary>
    public static IdentityGradient Instance { get; } = new();

    private IdentityGradient() { }

    /// <inheritdoc/>
    public void Apply(IReadOnlyList<Parameter> parameters, ObjectiveEvaluation evaluation) { }
}

/// <summary>
/// Runs after each optimiser step with the trainer in hand: may add diagnostics to the step's record, return the model
/// and optimiser to a snapshot, scale the learning rate, or end training. Its own state goes into checkpoints.
/// </summary>
public interface ITrainingHook
{
    /// <summary>Called once when the trainer is built, after the model has its dtype and device.</summary>
    void Attach(Trainer trainer);

    /// <summary>Called after the optimiser step of <paramref name="record"/>; returns diagnostics to add to the record (may be empty).</summary>
    IReadOnlyList<KeyValuePair<string, double>> AfterStep(Trainer trainer, TrainingRecord record);

    /// <summary>Writes the hook's state into a checkpoint.</summary>
    void Save(BinaryWriter writer);

    /// <summary>Restores the state <see cref="Save"/> wrote, after the trainer restored model, optimiser and generator.</summary>
    void Load(BinaryReader reader, Trainer trainer);
}

/// <summary>What one optimiser step saw.</summary>
/// <param name="Step">1-based index of the step just taken.</param>
/// <param name="Loss">The objective's value on the step's batch.</param>
/// <param name="LossError">Its standard error.</param>
/// <param name="GradientNorm">Norm of the transformed gradient before clipping.</param>
/// <param name="LearningRate">Learning rate used.</param>
/// <param name="Diagnostics">The objective's and the hooks' named numbers.</param>
public sealed record TrainingRecord(int Step, double Loss, double LossError, double GradientNorm, double LearningRate,
    IReadOnlyList<KeyValuePair<string, double>> Diagnostics)
{
    /// <summary>The diagnostic called <paramref name="name"/>, or NaN.</summary>
    public double this[string name] => Diagnostics.FirstOrDefault(d => d.Key == name, new(name, double.NaN)).Value;
}

/// <summary>Training stopped because the loss or the gradient left finite values, or the gradient stalled at zero.</summary>
public sealed class TrainingDivergenceException(string message) : Hybrid.Diagnostics.RunStoppedException(message);
