using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Phi4.Flows;

/// <summary>
/// How much a flow's log q and φ move when its ODE solver takes twice as many steps, on the same latent fields.
/// </summary>
/// <remarks>
/// Flow-MCMC and reweighting are exact only if log q is the density of the samples, so the shift in log q is the
/// error that matters: importance weights move by about that factor. Reverse-KL training sees only the solver's
/// log q and can lower its loss by driving the vector field into a regime where the solver is wrong (the loss then
/// falls below −ln Z while the true ESS collapses); a growing shift is the symptom.
/// </remarks>
/// <param name="Steps">n, the solver steps under test (compared with 2n).</param>
/// <param name="LogQShiftMean">Mean |log q(n) − log q(2n)| over the fields.</param>
/// <param name="LogQShiftMax">Largest |log q(n) − log q(2n)|.</param>
/// <param name="FieldShiftMax">Largest |φ(n) − φ(2n)| over fields and sites.</param>
public sealed record SolverAccuracy(int Steps, double LogQShiftMean, double LogQShiftMax, double FieldShiftMax)
{
    /// <summary>
    /// The default tolerance on <see cref="LogQShiftMean"/>: importance weights moving by about 5 %, small against
    /// the statistical errors of a typical flow-MCMC run.
    /// </summary>
    public const double DefaultTolerance = 0.05;

    /// <summary>Whether the mean shift of log q is within <paramref name="tolerance"/> (false for NaN).</summary>
    public bool IsWithin(double tolerance) => LogQShiftMean <= tolerance;

    /// <summary>Integrates the latent fields <paramref name="z"/> [B, L, L] with n and 2n steps, without gradients.</summary>
    /// <param name="flow">The flow.</param>
    /// <param name="z">Latent fields of the flow's dtype and device.</param>
    /// <param name="steps">n; default the flow's own <see cref="IOdeFlow.SolverSteps"/>.</param>
    public static SolverAccuracy Measure(IOdeFlow flow, Tensor z, int? steps = null)
    {
        ArgumentNullException.ThrowIfNull(flow);
        ArgumentNullException.ThrowIfNull(z);
        int n = steps ?? flow.SolverSteps;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        return Compare(n, flow.Forward(z, n), flow.Forward(z, 2 * n));
    }

    /// <summary>The accuracy from integrations of the same latent fields already made with n and 2n steps.</summary>
    public static SolverAccuracy Compare(int steps, (Tensor Phi, Tensor LogJacobian) withN, (Tensor Phi, Tensor LogJacobian) with2N)
    {
        using var scope = NewDisposeScope();
        // log q = log r(z) − log J: the prior term cancels in the difference.
        var shift = withN.LogJacobian.sub(with2N.LogJacobian).abs().to(ScalarType.Float64);
        return new SolverAccuracy(
            steps,
            shift.mean().item<double>(),
            shift.max().item<double>(),
            withN.Phi.sub(with2N.Phi).abs().max().to(ScalarType.Float64).item<double>());
    }
}
