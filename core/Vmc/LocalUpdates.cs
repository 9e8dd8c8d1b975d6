using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Vmc;

/// <summary>
/// A wavefunction whose ln|ψ| is a sum of terms of few sites each, so that a move of one site changes only the terms
/// it enters: the change of ln|ψ| comes from quantities cached per configuration, at a fraction of a full evaluation.
/// </summary>
public interface ILocalUpdateWavefunction : IWavefunction
{
    /// <summary>Whether <see cref="CreateSiteCache"/> is available (e.g. not for message-passing networks).</summary>
    bool SupportsLocalUpdates { get; }

    /// <summary>The cached quantities of configurations <paramref name="x"/> [B, sites, …] with the current parameters (copied).</summary>
    ISiteUpdateCache CreateSiteCache(Tensor x);
}

/// <summary>The per-configuration quantities of an <see cref="ILocalUpdateWavefunction"/>, updated move by move.</summary>
public interface ISiteUpdateCache : IDisposable
{
    /// <summary>ln|ψ| of the cached configurations [B], as updated by the accepted moves.</summary>
    Tensor LogAbs { get; }

    /// <summary>
    /// ln|ψ(x′)| − ln|ψ(x)| of each configuration [B], x′ being x with site <paramref name="site"/> [B] replaced by
    /// <paramref name="vector"/> [B, …]; remembered until <see cref="Accept"/>. The result lives in the caller's dispose scope.
    /// </summary>
    Tensor LogAbsChange(Tensor site, Tensor vector);

    /// <summary>Takes the last move where <paramref name="accept"/> [B] is true (in the same dispose scope as the move).</summary>
    void Accept(Tensor accept);
}
