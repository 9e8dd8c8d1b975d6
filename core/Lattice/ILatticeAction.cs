using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Lattice;

/// <summary>
/// A Euclidean action of real fields on a square lattice: configurations [L, L], so that
/// <see cref="Hybrid.Sampling.IAction.Action"/> maps [B, L, L] → [B] and <see cref="Hybrid.Sampling.IAction.Gradient"/>
/// [B, L, L] → [B, L, L]. Lattice flows and their trainer need the lattice on top of what every sampler needs.
/// </summary>
public interface ILatticeAction : Hybrid.Sampling.IAction
{
    /// <summary>The lattice the action lives on.</summary>
    SquareLattice Lattice { get; }
}
