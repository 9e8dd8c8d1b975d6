using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Sampling;

/// <summary>
/// One Euler–Maruyama step of the Langevin diffusion dX = −½∇S dt + dW as a Metropolis–Hastings proposal:
/// x′ = x − (h/2)∇S(x) + √h ξ with h = <see cref="Scale"/> the time step. With the Hastings correction the chain keeps
/// e^{−S} exactly (MALA), whatever h; the dynamics, not the invariant measure, carry the O(h) discretisation error.
/// </summary>
public sealed class LangevinProposal : IProposal
{
    private readonly IAction action;

    /// <summary>A proposal for the diffusion whose invariant density is e^{−S} of <paramref name="action"/>.</summary>
    public LangevinProposal(IAction action, double step)
    {
        ArgumentNullException.ThrowIfNull(action);
        if (!(step > 0) || !double.IsFinite(step)) throw new ArgumentException($"time step {step} is not allowed; it must be a finite number > 0", nameof(step));
        this.action = action;
        Scale = step;
    }

    /// <summary>The time step h.</summary>
    public double Scale { get; set; }

    /// <inheritdoc/>
    public (Tensor Proposed, Tensor LogCorrection) Propose(Tensor x, Generator generator)
    {
        using var scope = NewDisposeScope();
        double h = Scale;
        var forwardMean = x - action.Gradient(x).mul(h / 2);
        var proposed = forwardMean + randn(x.shape, dtype: x.dtype, device: x.device, generator: generator).mul_(Math.Sqrt(h));
        // A proposal where S is not finite (outside the support) gets a NaN-free gradient of zero; Metropolis rejects it.
        var backGradient = action.Gradient(proposed).nan_to_num(0, 0, 0);
        var backwardMean = proposed - backGradient.mul(h / 2);
        var dims = Enumerable.Range(1, (int)x.dim() - 1).Select(d => (long)d).ToArray();
        Tensor SquaredNorm(Tensor v) => dims.Length == 0 ? v.square() : v.square().sum(dims);
        // log q(x | x′) − log q(x′ | x) with q(b | a) ∝ exp(−|b − a + (h/2)∇S(a)|²/(2h)).
        var correction = SquaredNorm(proposed - forwardMean).sub(SquaredNorm(x - backwardMean)).div(2 * h);
        return (proposed.MoveToOuterDisposeScope(), correction.MoveToOuterDisposeScope());
    }
}
