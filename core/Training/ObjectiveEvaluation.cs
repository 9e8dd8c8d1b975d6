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
public sealed record ObjectiveEvaluation(Tensor Loss, double Value, double Error, IReadOnlyList<KeyValuePair<string, double>> Diagnostics)
{
    /// <summary>
    /// Per-sample derivatives of the model on this batch, [N, P] (for VMC the centred log-derivatives O − ⟨O⟩ of ln ψ,
    /// columns in the model's parameter order), for gradient transforms that precondition with the batch's geometry
    /// (stochastic reconfiguration); null when the objective does not provide them. Valid until the step ends.
    /// </summary>
    public Tensor? PerSampleJacobian { get; init; }

    /// <summary>Per-sample residuals that pair with <see cref="PerSampleJacobian"/>, [N] (for VMC E_loc − E); null when not provided.</summary>
    public Tensor? PerSampleResiduals { get; init; }
}
