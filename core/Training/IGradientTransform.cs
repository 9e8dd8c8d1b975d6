using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Hybrid.Training;

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
