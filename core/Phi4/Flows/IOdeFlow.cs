using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Phi4.Flows;

/// <summary>
/// A flow whose map and log-Jacobian come from a fixed-step ODE solver, and are therefore exact only up to the
/// solver's error (<see cref="EquivariantContinuousFlow"/>).
/// </summary>
public interface IOdeFlow
{
    /// <summary>The number of solver steps the flow uses by default.</summary>
    int SolverSteps { get; }

    /// <summary>z → (φ, log|det ∂φ/∂z|) with <paramref name="solverSteps"/> steps.</summary>
    (Tensor Phi, Tensor LogJacobian) Forward(Tensor z, int solverSteps);
}
