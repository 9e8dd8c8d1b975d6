using Hybrid.Vmc;
using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.O3;

/// <summary>
/// ln|ψ| of each configuration with its sphere gradient and Laplace–Beltrami operator summed over the sites:
/// LogAbs [B], Gradient [B, L, 3] (tangent to each sphere), Laplacian [B] = Σ_i Δ_i ln|ψ|.
/// </summary>
public sealed record WavefunctionDerivatives(Tensor LogAbs, Tensor Gradient, Tensor Laplacian);

/// <summary>How a local energy gets the Laplacian of ln|ψ|.</summary>
public enum LaplacianRoute
{
    /// <summary>
    /// Value, gradient and Laplacian carried through the network together in one forward pass (the "forward Laplacian",
    /// Li et al., arXiv:2307.08214), using that each site's output depends on its own few neighbours.
    /// </summary>
    Forward,
    /// <summary>Automatic differentiation of ln|ψ(v/|v|)|: one backward pass per coordinate, 3L in all (the test oracle).</summary>
    Autodiff,
}

/// <summary>A wavefunction of the rotor chain, [B, L, 3] → ln|ψ|, whose derivatives on the spheres come without a Hessian.</summary>
public interface IRotorWavefunction : IWavefunction
{
    /// <summary>Sites L of the chain.</summary>
    int Sites { get; }

    /// <summary>ln|ψ| with its sphere gradient and Laplacian, by the forward Laplacian (no autograd).</summary>
    WavefunctionDerivatives Derivatives(Tensor n);
}

/// <summary>Derivatives by automatic differentiation: the oracle that the forward Laplacian is tested against.</summary>
public static class AutodiffDerivatives
{
    /// <summary>
    /// ln|ψ|, its gradient and its Laplacian by autograd through the degree-0 extension n = v/|v|: on |v| = 1 the ℝ³
    /// gradient is tangent to the sphere and the ℝ³ Laplacian is the Laplace–Beltrami operator (the radial terms
    /// vanish for a function constant along rays). The Laplacian costs one backward pass per coordinate (3L in all).
    /// </summary>
    public static WavefunctionDerivatives Of(IWavefunction wavefunction, Tensor n)
    {
        ArgumentNullException.ThrowIfNull(wavefunction);
        using var scope = NewDisposeScope();
        using var _ = enable_grad();
        long batch = n.shape[0];
        var v = n.detach().clone().requires_grad_(true);
        var logAbs = wavefunction.LogAbs(v / v.norm(-1, keepdim: true));
        var gradient = autograd.grad(new[] { logAbs.sum() }, new[] { v }, retain_graph: true, create_graph: true)[0];
        var flat = gradient.reshape(batch, -1);
        long coordinates = flat.shape[1];
        var laplacian = zeros(new[] { batch }, dtype: n.dtype, device: n.device);
        for (long j = 0; j < coordinates; j++)
        {
            var second = autograd.grad(new[] { flat.select(1, j).sum() }, new[] { v }, retain_graph: true)[0];
            laplacian = laplacian + second.reshape(batch, -1).select(1, j).detach();
        }
        var result = new WavefunctionDerivatives(logAbs.detach(), gradient.detach(), laplacian);
        result.LogAbs.MoveToOuterDisposeScope();
        result.Gradient.MoveToOuterDisposeScope();
        result.Laplacian.MoveToOuterDisposeScope();
        return result;
    }
}
