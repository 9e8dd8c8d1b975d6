namespace Hybrid.Sampling;

/// <summary>
/// xoshiro256** (Blackman and Vigna 2018): a small, fast generator of 64-bit words for managed samplers whose inner
/// loops draw one uniform number per bond test, where <see cref="System.Random"/>'s virtual calls would dominate. Its
/// state is four words, so a sampler can write it to a checkpoint and continue the same stream.
/// </summary>
public struct Xoshiro256
{
    private ulong _s0, _s1, _s2, _s3;

    /// <summary>A generator seeded from <paramref name="seed"/> by SplitMix64 (never the all-zero state).</summary>
    public Xoshiro256(long seed)
    {
        ulong z = unchecked((ulong)seed);
        _s0 = SplitMix(ref z);
        _s1 = SplitMix(ref z);
        _s2 = SplitMix(ref z);
        _s3 = SplitMix(ref z);
    }

    /// <summary>The four state words (for checkpoints).</summary>
    public readonly ulong[] State => new[] { _s0, _s1, _s2, _s3 };

    /// <summary>A generator that continues from a state written by <see cref="State"/>.</summary>
    public static Xoshiro256 FromState(ulong[] state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Length != 4 || (state[0] | state[1] | state[2] | state[3]) == 0)
            throw new ArgumentException("a xoshiro256 state is four words, not all zero");
        return new Xoshiro256 { _s0 = state[0], _s1 = state[1], _s2 = state[2], _s3 = state[3] };
    }

    private static ulong SplitMix(ref ulong z)
    {
        ulong r = z += 0x9E3779B97F4A7C15UL;
        r = (r ^ (r >> 30)) * 0xBF58476D1CE4E5B9UL;
        r = (r ^ (r >> 27)) * 0x94D049BB133111EBUL;
        return r ^ (r >> 31);
    }

    /// <summary>The next 64 random bits.</summary>
    public ulong NextUInt64()
    {
        ulong result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>A uniform double in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>A uniform integer in [0, <paramref name="n"/>), 0 &lt; n &lt; 2³¹ (Lemire's multiply-shift, without bias).</summary>
    public int NextInt(int n)
    {
        ulong m = (NextUInt64() >> 32) * (ulong)n;
        if ((uint)m < (uint)n)
        {
            uint threshold = (uint)(-n) % (uint)n;
            while ((uint)m < threshold) m = (NextUInt64() >> 32) * (ulong)n;
        }
        return (int)(m >> 32);
    }
}
