using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Hybrid.Training;

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
