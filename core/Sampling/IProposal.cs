using Hybrid.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Sampling;

/// <summary>
/// How a Metropolis–Hastings step proposes: a move x → x′ for every chain of a batch, with the Hastings correction
/// log[q(x | x′) / q(x′ | x)] (zero for symmetric moves). Samplers adapt <see cref="Scale"/> during thermalisation.
/// </summary>
public interface IProposal
{
    /// <summary>The move's size (its meaning is the proposal's: a step length, an angle, …); &gt; 0.</summary>
    double Scale { get; set; }

    /// <summary>Proposes x′ for every chain of <paramref name="x"/> ([B, ..shape]); returns x′ and the correction [B].</summary>
    (Tensor Proposed, Tensor LogCorrection) Propose(Tensor x, Generator generator);
}
