using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Hybrid.Training;

/// <summary>Training stopped because the loss or the gradient left finite values, or the gradient stalled at zero.</summary>
public sealed class TrainingDivergenceException(string message) : Hybrid.Diagnostics.RunStoppedException(message);
