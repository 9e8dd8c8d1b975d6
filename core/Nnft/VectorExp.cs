using System.Runtime.Intrinsics;

namespace Hybrid.Nnft;

/// <summary>
/// The exponential of the fused kernel, 16 or 8 lanes at a time. In float32 a float32 evaluation of its own: .NET's
/// <see cref="Vector512.Exp(Vector512{float})"/> widens to float64 and evaluates two float64 vectors per float32
/// vector, about three times the work that float32 precision needs. In float64 .NET's own.
/// </summary>
public static class VectorExp
{
    /// <summary>
    /// e^x in float32 within 2 ulp over the normal range (a test holds the bound): n = round(x/ln 2), r = x − n·ln 2 in
    /// two parts (|r| ≤ ln 2 / 2), Cephes' degree-6 polynomial 1 + r + r²P(r), times 2ⁿ as two exact powers of two so
    /// that results below 2⁻¹²⁶ round once to subnormals and above the largest float to +∞. x is clamped to
    /// [−104, 89], beyond which e^x is 0 or +∞ in float32 anyway. Only +, ×, FMA, integer and bit operations, so
    /// the same bits on 512-bit and on split 256-bit hardware.
    /// </summary>
    public static Vector512<float> Exp(Vector512<float> x)
    {
        x = Vector512.MinNative(Vector512.MaxNative(x, Vector512.Create(-104f)), Vector512.Create(89f));
        var magic = Vector512.Create(12582912f);   // 1.5·2²³: adding it rounds to an integer held in the low mantissa bits
        var t = Vector512.FusedMultiplyAdd(x, Vector512.Create(1.44269504088896341f), magic);
        var n = t - magic;
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-0.693359375f), x);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(2.12194440e-4f), r);
        var p = Vector512.FusedMultiplyAdd(Vector512.Create(1.9875691500e-4f), r, Vector512.Create(1.3981999507e-3f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(8.3334519073e-3f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(4.1665795894e-2f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.6666665459e-1f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(5.0000001201e-1f));
        var y = Vector512.FusedMultiplyAdd(p, r * r, r) + Vector512<float>.One;
        var k = t.AsInt32() - magic.AsInt32();   // n as an integer, in [−150, 129]
        var half = k >> 1;
        var low = ((half + Vector512.Create(127)) << 23).AsSingle();
        var high = ((k - half + Vector512.Create(127)) << 23).AsSingle();
        return y * low * high;
    }

    /// <summary>e^x in float64 (.NET's vector exponential, within 1 ulp).</summary>
    public static Vector512<double> Exp(Vector512<double> x) => Vector512.Exp(x);
}
