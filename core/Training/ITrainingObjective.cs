using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Hybrid.Training;

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

