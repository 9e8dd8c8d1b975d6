using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Hybrid.Training;

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
