using System.Runtime.Intrinsics;
using Hybrid.Sampling;

namespace Hybrid.Nnft;

/// <summary>
/// Standard normal numbers drawn eight streams at a time: eight xoshiro256** generators, each seeded by
/// <see cref="Seeds.Derive"/>(seed, "lane k"), stepped together in one 512-bit vector, and turned into normals by
/// Box–Muller, r = √(−2 ln u₁), (r cos 2πu₂, r sin 2πu₂). The code uses only <see cref="Vector512{T}"/> operations
/// whose results IEEE 754 fixes (integer arithmetic, conversions, +, ×, √), .NET's vector log (and, in float32, its
/// sin/cos), whose multiply-adds are fused where the CPU has FMA, and in float64 a sine and cosine of its own (a
/// random quadrant and fdlibm's kernels on [−π/4, π/4]), because .NET's float64 vector sin/cos gave other last bits
/// with AVX-512 off. The numbers therefore do not depend on whether the machine runs 512-bit vectors natively or as
/// two 256-bit halves, on any x64 with FMA; a pinned checksum test holds them.
/// </summary>
/// <remarks>
/// u₁ lies in (0, 1] (31 random bits and half a step in float32, 53 bits in float64), so the radius is finite and
/// the tails reach 6.7σ (float32) or 8.6σ (float64); beyond them lies a probability of 3·10⁻¹¹ (float32), which no
/// ensemble resolves.
/// </remarks>
public sealed class GaussianLanes
{
    /// <summary>Independent xoshiro256** streams stepped together.</summary>
    public const int Streams = 8;

    private Vector512<ulong> s0, s1, s2, s3;

    /// <summary>Eight streams derived from <paramref name="seed"/>.</summary>
    public GaussianLanes(long seed)
    {
        var words = new ulong[4][];
        for (int w = 0; w < 4; w++) words[w] = new ulong[Streams];
        for (int k = 0; k < Streams; k++)
        {
            var state = new Xoshiro256(Seeds.Derive(seed, FormattableString.Invariant($"lane {k}"))).State;
            for (int w = 0; w < 4; w++) words[w][k] = state[w];
        }
        s0 = Vector512.Create(words[0]);
        s1 = Vector512.Create(words[1]);
        s2 = Vector512.Create(words[2]);
        s3 = Vector512.Create(words[3]);
    }

    /// <summary>The next 64 bits of each stream (xoshiro256**, with ×5 and ×9 as shifts and adds).</summary>
    private Vector512<ulong> NextBits()
    {
        var five = (s1 << 2) + s1;
        var rotated = (five << 7) | (five >>> 57);
        var result = (rotated << 3) + rotated;
        var t = s1 << 17;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = (s3 << 45) | (s3 >>> 19);
        return result;
    }

    /// <summary>Fills <paramref name="into"/> (an even number of vectors) with float32 normals, 16 a vector.</summary>
    public void Fill(Span<Vector512<float>> into)
    {
        if (into.Length % 2 != 0) throw new ArgumentException($"{into.Length} vectors is not allowed; Box–Muller fills pairs");
        var step = Vector512.Create(1f / 2147483648f);                 // 2⁻³¹
        var half = Vector512.Create(1f / 4294967296f);                  // 2⁻³²: u₁ > 0
        var angle = Vector512.Create((float)(2 * Math.PI / 16777216));  // 2π · 2⁻²⁴
        var centre = Vector512.Create(1 << 23);
        var minusTwo = Vector512.Create(-2f);
        for (int i = 0; i < into.Length; i += 2)
        {
            var a = NextBits().AsUInt32();
            var b = NextBits().AsUInt32();
            var u1 = Vector512.ConvertToSingle((a >>> 1).AsInt32()) * step + half;
            var r = Vector512.Sqrt(Vector512.Log(u1) * minusTwo);
            // θ ∈ [−π, π): the vector sine and cosine are most accurate near 0.
            var theta = Vector512.ConvertToSingle((b >>> 8).AsInt32() - centre) * angle;
            var (sin, cos) = Vector512.SinCos(theta);
            into[i] = r * cos;
            into[i + 1] = r * sin;
        }
    }

    /// <summary>Fills <paramref name="into"/> (an even number of vectors) with float64 normals, 8 a vector.</summary>
    public void Fill(Span<Vector512<double>> into)
    {
        if (into.Length % 2 != 0) throw new ArgumentException($"{into.Length} vectors is not allowed; Box–Muller fills pairs");
        var step = Vector512.Create(1.0 / 9007199254740992.0);               // 2⁻⁵³
        var half = Vector512.Create(1.0 / 18014398509481984.0);              // 2⁻⁵⁴: u₁ > 0
        var angle = Vector512.Create(Math.PI / 2 / 9007199254740992.0);      // π/2 · 2⁻⁵³
        var centre = Vector512.Create(1L << 52);
        var minusTwo = Vector512.Create(-2.0);
        for (int i = 0; i < into.Length; i += 2)
        {
            var a = NextBits();
            var b = NextBits();
            var u1 = Vector512.ConvertToDouble((a >>> 11).AsInt64()) * step + half;
            var r = Vector512.Sqrt(Vector512.Log(u1) * minusTwo);
            // θ = qπ/2 + t, the quadrant q from the two low bits and t ∈ [−π/4, π/4) from the top 53: uniform on the
            // circle, with sine and cosine from polynomials on |t| ≤ π/4 alone (.NET's float64 vector sine differs
            // in the last bit between 512- and 256-bit hardware; these operations do not).
            var t = Vector512.ConvertToDouble((b >>> 11).AsInt64() - centre) * angle;
            var (sin, cos) = QuadrantSinCos(t, b & Vector512.Create(3UL));
            into[i] = r * cos;
            into[i + 1] = r * sin;
        }
    }

    /// <summary>sin and cos of qπ/2 + t for |t| ≤ π/4 (fdlibm's kernels, below 1 ulp), rotated exactly by the quadrant q.</summary>
    public static (Vector512<double> Sin, Vector512<double> Cos) QuadrantSinCos(Vector512<double> t, Vector512<ulong> quadrant)
    {
        var z = t * t;
        var s = Vector512.Create(2.75573137070700676789e-06) + z * (Vector512.Create(-2.50507602534068634195e-08) + z * Vector512.Create(1.58969099521155010221e-10));
        s = Vector512.Create(8.33333333332248946124e-03) + z * (Vector512.Create(-1.98412698298579493134e-04) + z * s);
        var sin = t + z * t * (Vector512.Create(-1.66666666666666324348e-01) + z * s);
        var c = Vector512.Create(-2.75573143513906633035e-07) + z * (Vector512.Create(2.08757232129817482790e-09) + z * Vector512.Create(-1.13596475577881948265e-11));
        c = z * (Vector512.Create(4.16666666666666019037e-02) + z * (Vector512.Create(-1.38888888888741095749e-03) + z * (Vector512.Create(2.48015872894767294178e-05) + z * c)));
        var hz = z * Vector512.Create(0.5);
        var w = Vector512.Create(1.0) - hz;
        var cos = w + (((Vector512.Create(1.0) - w) - hz) + z * c);
        // q odd: swap; sin negative for q = 2, 3; cos negative for q = 1, 2.
        var swap = Vector512.Equals(quadrant & Vector512.Create(1UL), Vector512.Create(1UL)).AsDouble();
        var x = Vector512.ConditionalSelect(swap, cos, sin);
        var y = Vector512.ConditionalSelect(swap, sin, cos);
        var sinSign = ((quadrant >>> 1) << 63).AsDouble();
        var cosSign = (((quadrant ^ (quadrant >>> 1)) & Vector512.Create(1UL)) << 63).AsDouble();
        return (x ^ sinSign, y ^ cosSign);
    }
}
