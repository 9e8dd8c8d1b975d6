using Hybrid.Lattice;
using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Phi4.Flows;

/// <summary>
/// A normalizing-flow layer: a bijection φ = f(z) of batches of lattice fields [B, L, L] with its
/// log-Jacobian. <c>forward</c> maps latent to physical fields and returns log|det ∂φ/∂z| per
/// configuration; <see cref="Inverse"/> maps back and returns log|det ∂z/∂φ|. Both directions must agree:
/// Inverse(forward(z)) = z, and the two log-Jacobians are negatives of each other.
/// </summary>
public abstract class LatticeFlow : nn.Module<Tensor, (Tensor Phi, Tensor LogJacobian)>
{
    /// <summary>Creates the layer; <paramref name="name"/> is the TorchSharp module name.</summary>
    /// <remarks>The base constructor already calls into libtorch, so the native libraries (patched where the
    /// system's libstdc++ is too old) must be loaded before it runs, whichever flow is the first object a process makes.</remarks>
    protected LatticeFlow(string name) : base(LoadRuntime(name)) { }

    private static string LoadRuntime(string name)
    {
        Hybrid.Runtime.TorchRuntime.EnsureLoaded();
        return name;
    }

    /// <summary>φ → (z, log|det ∂z/∂φ|) per configuration.</summary>
    public abstract (Tensor Z, Tensor LogJacobian) Inverse(Tensor phi);
}

/// <summary>Flows applied one after another; log-Jacobians add.</summary>
public sealed class FlowComposition : LatticeFlow
{
    private readonly TorchSharp.Modules.ModuleList<LatticeFlow> layers;

    /// <summary>Composes <paramref name="flows"/>: the first is applied first in the forward direction.</summary>
    public FlowComposition(IEnumerable<LatticeFlow> flows) : base(nameof(FlowComposition))
    {
        layers = nn.ModuleList(flows.ToArray());
        if (layers.Count == 0) throw new ArgumentException("a composition needs at least one flow");
        RegisterComponents();
    }

    /// <summary>The layers in forward order.</summary>
    public IReadOnlyList<LatticeFlow> Layers => layers.ToList();

    /// <inheritdoc/>
    public override (Tensor Phi, Tensor LogJacobian) forward(Tensor z)
    {
        using var scope = NewDisposeScope();
        var x = z;
        Tensor? logJ = null;
        foreach (var layer in layers)
        {
            var (y, lj) = layer.forward(x);
            x = y;
            logJ = logJ is null ? lj : logJ + lj;
        }
        return (x.MoveToOuterDisposeScope(), logJ!.MoveToOuterDisposeScope());
    }

    /// <inheritdoc/>
    public override (Tensor Z, Tensor LogJacobian) Inverse(Tensor phi)
    {
        using var scope = NewDisposeScope();
        var x = phi;
        Tensor? logJ = null;
        for (int i = layers.Count - 1; i >= 0; i--)
        {
            var (y, lj) = layers[i].Inverse(x);
            x = y;
            logJ = logJ is null ? lj : logJ + lj;
        }
        return (x.MoveToOuterDisposeScope(), logJ!.MoveToOuterDisposeScope());
    }
}

