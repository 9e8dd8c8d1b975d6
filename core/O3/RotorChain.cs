using Hybrid.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.O3;

/// <summary>
/// The configuration space of the O(3) rotor chain: L unit vectors n_i ∈ S² on a periodic chain, batched as [B, L, 3].
/// Holds the geometry every wavefunction and the Hamiltonian share: uniform configurations, the bonds, and the pair
/// invariants n_i·n_{i+r} with their derivatives on the spheres.
/// </summary>
public static class RotorChain
{
    /// <summary>Throws an <see cref="ArgumentException"/> unless <paramref name="sites"/> ≥ 2.</summary>
    public static void CheckSites(int sites)
    {
        if (sites < 2) throw new ArgumentException($"chain length L = {sites} is not allowed; it must be ≥ 2");
    }

    /// <summary>Throws an <see cref="ArgumentException"/> unless <paramref name="n"/> is [batch, sites, 3].</summary>
    public static void CheckConfigurations(Tensor n, int sites)
    {
        if (n.dim() != 3 || n.shape[1] != sites || n.shape[2] != 3)
            throw new ArgumentException($"configurations of shape [{string.Join(", ", n.shape)}] do not fit; expected [batch, {sites}, 3]");
    }

    /// <summary>The range of the pair invariants of a chain of <paramref name="sites"/>: r = 1 … ⌊L/2⌋ reaches every pair once.</summary>
    public static int InvariantRange(int sites) => sites / 2;

    /// <summary>The star of each site out to ⌊L/2⌋ (the Jastrow and per-site MLP features).</summary>
    public static PairFeatures StarFeatures(int sites) => PairFeatures.Star(InvariantRange(sites));

    /// <summary><paramref name="batch"/> configurations of independent uniform unit vectors (the strong-coupling ground state's density).</summary>
    public static Tensor Uniform(long batch, int sites, Generator generator, Device? device = null)
    {
        CheckSites(sites);
        TorchRuntime.EnsureLoaded();
        // Drawn where the generator lives, then moved: a CPU generator can seed chains on any device.
        var v = randn(new[] { batch, sites, 3L }, dtype: ScalarType.Float64, device: generator.device, generator: generator);
        if (device is not null && device.type != v.device.type) v = v.to(device);
        return v / v.norm(-1, keepdim: true);
    }

    /// <summary>
    /// Σ_bonds n_i·n_{i+1} of each configuration, [B, L, 3] → [B]: L bonds on a periodic chain of L ≥ 3, one bond for
    /// L = 2 (two sites share a single link; a periodic sum would count it twice).
    /// </summary>
    public static Tensor BondSum(Tensor n)
    {
        if (n.shape[1] == 2) return (n.select(1, 0) * n.select(1, 1)).sum(-1);
        return (n * n.roll(-1, 1)).sum(new long[] { 1, 2 });
    }

    /// <summary>
    /// The pair invariants of every site with their sphere derivatives, for the forward Laplacian: for feature k of
    /// pair (a, b), c[b', i, k] = n_{i+a}·n_{i+b}; its gradient with respect to n_{i+a} is the tangent projection
    /// n_{i+b} − c n_{i+a}, with respect to n_{i+b} it is n_{i+a} − c n_{i+b}. Its Laplacian is −2c on each of the two
    /// spheres (n·u is an l = 1 harmonic), −4c in all, which the caller forms from c.
    /// </summary>
    public static (Tensor Invariants, Tensor GradientAtFirst, Tensor GradientAtSecond) PairInvariants(Tensor n, PairFeatures features)
    {
        var (first, second) = Partners(n, features);                      // [B, L, K, 3] each
        var c = (first * second).sum(-1);                                 // [B, L, K]
        return (c, second - c.unsqueeze(-1) * first, first - c.unsqueeze(-1) * second);
    }

    /// <summary>The pair invariants alone, [B, L, K].</summary>
    public static Tensor Invariants(Tensor n, PairFeatures features)
    {
        var (first, second) = Partners(n, features);
        return (first * second).sum(-1);
    }

    /// <summary>n_{i+a} and n_{i+b} of every feature: [B, L, K, 3] each.</summary>
    private static (Tensor First, Tensor Second) Partners(Tensor n, PairFeatures features)
    {
        var shifted = Enumerable.Range(0, features.Offsets).Select(d => d == 0 ? n : n.roll(-d, 1)).ToArray();
        return (stack(features.Pairs.Select(p => shifted[p.A]).ToArray(), 2), stack(features.Pairs.Select(p => shifted[p.B]).ToArray(), 2));
    }

    /// <summary>
    /// Gathers per-site gradients given at offsets, g[b, i, d, :] = ∂f_i/∂n_{i+origin+d} ([B, L, D, 3]), into the
    /// gradient of Σ_i f_i with respect to each site, [B, L, 3].
    /// </summary>
    public static Tensor GatherOffsets(Tensor offsetGradient, int origin = 0)
    {
        long offsets = offsetGradient.shape[2];
        Tensor? total = null;
        for (long d = 0; d < offsets; d++)
        {
            var slot = offsetGradient.select(2, d);
            var moved = d + origin == 0 ? slot : slot.roll(d + origin, 1);
            total = total is null ? moved : total + moved;
        }
        return total!;
    }
}
