using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Hybrid.Vmc;

/// <summary>
/// A real variational wavefunction ψ_θ(x) on a configuration space of one shape: what samplers (through
/// <see cref="BornDensity"/>), local operators and optimisers need. Its amplitude is given as ln|ψ| (the sign, where
/// ψ has nodes, never enters |ψ|² sampling nor the local energy's derivatives of ln|ψ|).
/// </summary>
public interface IWavefunction
{
    /// <summary>The shape of one configuration, without the batch dimension.</summary>
    IReadOnlyList<long> ConfigurationShape { get; }

    /// <summary>The variational parameters θ, in the order of the columns of <see cref="VariationalState.LogDerivatives"/>.</summary>
    IReadOnlyList<Parameter> Parameters { get; }

    /// <summary>
    /// ln|ψ(x)| of each configuration, [B, ..shape] → [B]. With <paramref name="weights"/> null the parameters are the
    /// wavefunction's own; otherwise one tensor per parameter, either of the parameter's shape or with a leading batch
    /// dimension B (a separate copy for each configuration, which is how per-sample derivatives come out of one
    /// backward pass).
    /// </summary>
    Tensor LogAbs(Tensor x, IReadOnlyList<Tensor>? weights = null);

    /// <summary>The wavefunction as a JSON object (its kind and shape), recorded with runs and checkpoints.</summary>
    string Describe();
}

/// <summary>
/// A local operator: for a Hamiltonian H, the local energy E_loc(x) = (Hψ)(x)/ψ(x), whose |ψ|²-average is the
/// variational energy.
/// </summary>
public interface ILocalOperator
{
    /// <summary>The operator as a JSON object.</summary>
    string Describe();

    /// <summary>The local values of each configuration [B, ..shape] → [B], without gradients.</summary>
    Tensor LocalValues(IWavefunction wavefunction, Tensor x);
}
