using System.Text;

namespace Hybrid.Sampling;

/// <summary>
/// Seeds derived from one root seed by purpose ("replica 3", "proposals", …): independent streams without a global
/// random state, the same on every machine. SplitMix64 of the root mixed with the FNV-1a hash of the purpose.
/// </summary>
public static class Seeds
{
    /// <summary>A seed in [0, 2⁶³) for <paramref name="purpose"/>, derived from <paramref name="root"/>.</summary>
    public static long Derive(long root, string purpose)
    {
        ArgumentNullException.ThrowIfNull(purpose);
        ulong hash = 14695981039346656037UL;
        foreach (byte b in Encoding.UTF8.GetBytes(purpose))
            hash = (hash ^ b) * 1099511628211UL;
        ulong z = unchecked((ulong)root + 0x9E3779B97F4A7C15UL * (hash | 1));
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (long)(z >> 1);
    }

    /// <summary>The seed of replica <paramref name="replica"/> of a run with root seed <paramref name="root"/>.</summary>
    public static long Replica(long root, int replica) => Derive(root, FormattableString.Invariant($"replica {replica}"));
}
