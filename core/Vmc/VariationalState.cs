using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Vmc;

/// <summary>Derivatives of a wavefunction with respect to its parameters.</summary>
public static class VariationalState
{
    /// <summary>
    /// The log-derivatives O_k(x) = ∂ ln|ψ_θ(x)| / ∂θ_k of every configuration, [B, ..shape] → [B, P], in one forward and
    /// one backward pass: each configuration gets its own copy of the parameters (a leaf of shape [B, ..]), so the
    /// gradient of Σ_b ln|ψ(x_b)| with respect to the copies is the per-sample Jacobian. Memory is B·P numbers, the size
    /// of the Jacobian itself; there is never a loop over samples.
    /// </summary>
    public static Tensor LogDerivatives(IWavefunction wavefunction, Tensor x)
    {
        ArgumentNullException.ThrowIfNull(wavefunction);
        long batch = x.shape[0];
        using var scope = NewDisposeScope();
        var copies = wavefunction.Parameters
            .Select(p => p.detach().unsqueeze(0).expand(new[] { batch }.Concat(p.shape).ToArray()).clone().requires_grad_(true))
            .ToList();
        Tensor[] grads;
        using (enable_grad())
        {
            var logAbs = wavefunction.LogAbs(x.detach(), copies);
            grads = autograd.grad(new[] { logAbs.sum() }, copies, allow_unused: true).ToArray();
        }
        var columns = grads.Select((g, i) => (g is null ? zeros_like(copies[i]) : g).reshape(batch, -1)).ToArray();
        return cat(columns, 1).detach().MoveToOuterDisposeScope();
    }

    /// <summary>The number of variational parameters.</summary>
    public static long ParameterCount(IWavefunction wavefunction) => wavefunction.Parameters.Sum(p => p.numel());
}
