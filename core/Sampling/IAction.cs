using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Sampling;

/// <summary>
/// A target density e^{−S(x)} over batches of configurations of one fixed shape: what HMC and Metropolis samplers
/// need, whatever the configuration space is (lattice fields [L, L], O(3) chains [L, 3], network parameters [P],
/// paths [T]).
/// </summary>
public interface IAction
{
    /// <summary>The shape of one configuration, without the batch dimension.</summary>
    IReadOnlyList<long> ConfigurationShape { get; }

    /// <summary>S(x) of each configuration: [B, ..shape] → [B].</summary>
    Tensor Action(Tensor x);

    /// <summary>∂S/∂x: [B, ..shape] → [B, ..shape].</summary>
    Tensor Gradient(Tensor x);

    /// <summary>The target as a JSON object (its kind and parameters), recorded with runs and checkpoints.</summary>
    string Describe();
}

/// <summary>Helpers shared by the samplers of <see cref="IAction"/> targets.</summary>
public static class ActionShapes
{
    /// <summary>[batch, ..shape] of <paramref name="action"/>.</summary>
    public static long[] Batched(IAction action, long batch) => new[] { batch }.Concat(action.ConfigurationShape).ToArray();

    /// <summary>
    /// A per-chain tensor [B] viewed as [B, 1, …, 1] with the dimensions of <paramref name="configurations"/>, so that
    /// one decision per chain (accept or keep) broadcasts over every coordinate of that chain's configuration.
    /// </summary>
    public static Tensor PerChain(Tensor perChain, Tensor configurations) =>
        perChain.view(new[] { perChain.shape[0] }.Concat(Enumerable.Repeat(1L, (int)configurations.dim() - 1)).ToArray());

    /// <summary>Throws an <see cref="ArgumentException"/> unless <paramref name="x"/> is [batch, ..shape] with <paramref name="batch"/> rows (any batch when null).</summary>
    public static void Check(IAction action, Tensor x, long? batch = null)
    {
        var shape = action.ConfigurationShape;
        bool fits = x.dim() == shape.Count + 1 && (batch is null || x.shape[0] == batch) && shape.Select((s, i) => x.shape[i + 1] == s).All(b => b);
        if (!fits)
            throw new ArgumentException(
                $"configurations of shape [{string.Join(", ", x.shape)}] do not fit; expected [{(batch is null ? "batch" : batch.ToString())}, {string.Join(", ", shape)}]", nameof(x));
    }
}
