using Hybrid.Phi4.Flows;
using Hybrid.Lattice;
using Hybrid.Phi4;
using Hybrid.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Core.Tests;

/// <summary>Brute-force checks shared by the flow tests.</summary>
internal static class FlowChecks
{
    /// <summary>log|det ∂φ/∂z| of a flow at one configuration, from the full autograd Jacobian.</summary>
    public static double BruteForceLogJacobian(LatticeFlow flow, Tensor z)
    {
        using var scope = NewDisposeScope();
        int v = (int)(z.shape[1] * z.shape[2]);
        var input = z.detach().clone().requires_grad_(true);
        var (phi, _) = flow.forward(input);
        var flat = phi.reshape(-1);
        var rows = new Tensor[v];
        for (int i = 0; i < v; i++)
            rows[i] = autograd.grad(new[] { flat[i] }, new[] { input }, retain_graph: true)[0].reshape(-1);
        return linalg.slogdet(stack(rows)).Item2.item<double>();
    }

    public static Tensor RandomFields(int batch, int l, long seed, double scale = 1.0)
    {
        using var g = new Generator((ulong)seed);
        return randn(new long[] { batch, l, l }, dtype: ScalarType.Float64, generator: g).mul_(scale);
    }
}
