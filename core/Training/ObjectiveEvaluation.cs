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
