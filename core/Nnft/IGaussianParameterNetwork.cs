using static TorchSharp.torch;

namespace Hybrid.Nnft;

/// <summary>
/// An architecture whose parameters are all Gaussian, θ = s ⊙ z with z ~ N(0, 1): its ensemble can be deformed and
/// then sampled in parameter space by HMC on z (<see cref="DeformedParameterAction"/>), where reweighting fails.
/// </summary>
public interface IGaussianParameterNetwork : INetworkArchitecture
{
    /// <summary>The number of parameters of one network.</summary>
    int ParameterCount { get; }

    /// <summary>φ at <paramref name="inputs"/> [P, d] of the networks with standardised parameters <paramref name="z"/> [B, ParameterCount]: [B, P], differentiable in z.</summary>
    Tensor EvaluateStandardised(Tensor z, Tensor inputs);
}
