using Hybrid.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Sampling;

/// <summary>A symmetric random walk x′ = x + Scale · ξ with ξ standard normal on every coordinate.</summary>
public sealed class GaussianRandomWalk(double scale = 0.5) : IProposal
{
    /// <inheritdoc/>
    public double Scale { get; set; } = scale;

    /// <inheritdoc/>
    public (Tensor Proposed, Tensor LogCorrection) Propose(Tensor x, Generator generator)
    {
        using var scope = NewDisposeScope();
        var proposed = x + randn(x.shape, dtype: x.dtype, device: x.device, generator: generator).mul_(Scale);
        return (proposed.MoveToOuterDisposeScope(), zeros(x.shape[0], dtype: x.dtype, device: x.device).MoveToOuterDisposeScope());
    }
}
