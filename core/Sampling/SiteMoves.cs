using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Sampling;

/// <summary>How a <see cref="MetropolisHastings"/> sampler evaluates the action of a proposed move.</summary>
public enum MoveEvaluation
{
    /// <summary>The action of the whole proposed configuration, every step: any target, any proposal. The reference route.</summary>
    Full,
    /// <summary>
    /// Only the change of the action under a move of one site, from quantities the target caches per chain and
    /// updates on acceptance (an <see cref="ILocalAction"/> with a <see cref="ISiteProposal"/>). The cache is rebuilt
    /// from the configurations every <see cref="MetropolisHastings.RefreshInterval"/> steps, so rounding never builds up.
    /// </summary>
    Local,
}

/// <summary>A proposal that moves one site of each chain, symmetrically (no Hastings correction).</summary>
public interface ISiteProposal : IProposal
{
    /// <summary>Whether each move changes one site only (the <see cref="ProposeSite"/> form is available).</summary>
    bool MovesOneSite { get; }

    /// <summary>
    /// The moved site of each chain of <paramref name="x"/> ([B], int64) and its new value ([B, ..site shape]), drawing
    /// the same random numbers as <see cref="IProposal.Propose"/> does for the same move.
    /// </summary>
    (Tensor Site, Tensor Vector) ProposeSite(Tensor x, Generator generator);
}

/// <summary>An action whose change under a move of one site can be computed from per-chain cached quantities.</summary>
public interface ILocalAction : IAction
{
    /// <summary>Whether <see cref="CreateSiteCache"/> is available for this target.</summary>
    bool SupportsLocalMoves { get; }

    /// <summary>The cached quantities of the configurations <paramref name="x"/> [B, sites, …] (copied; owned by the caller).</summary>
    ISiteMoveCache CreateSiteCache(Tensor x);
}

/// <summary>Per-chain cached quantities of an <see cref="ILocalAction"/>, updated move by move.</summary>
public interface ISiteMoveCache : IDisposable
{
    /// <summary>
    /// S(x′) − S(x) of each chain [B], x′ being x with site <paramref name="site"/> [B] replaced by
    /// <paramref name="vector"/> [B, …]. The move is remembered until <see cref="Accept"/>; the result lives in the
    /// caller's dispose scope.
    /// </summary>
    Tensor ActionChange(Tensor site, Tensor vector);

    /// <summary>Takes the last move of the chains where <paramref name="accept"/> [B] is true, in the same dispose scope as the move.</summary>
    void Accept(Tensor accept);
}
