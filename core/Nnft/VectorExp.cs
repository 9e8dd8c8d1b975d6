using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Hybrid.Nnft;

/// <summary>
/// The exponential of the fused kernel, 16 or 8 lanes at a time. In float32 a float32 evaluation of its own: .NET's
/// <see cref="Vector512.Exp(Vector512{float})"/> widens to float64 and evaluates two float64 vectors per float32
/// vector, about three times the work that float32 precision needs. Both are inlined into the kernel.
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
    [MethodImpl(MethodImplOptions.AggressiveInlining)]   // in the kernel's unit loop a call would spill its live vectors
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

    /// <summary>
    /// e^x in float64 within 2 ulp of the float64 exponential (a test holds the bound): n = round(x/ln 2), r = x − n·ln 2
    /// with fdlibm's two-part ln 2 (n·ln 2_hi exact), e^r by its Taylor polynomial to degree 13 (truncation below
    /// 10⁻¹⁷ on |r| ≤ ln 2 / 2) in FMA Horner form, times 2ⁿ as two exact powers of two (subnormals rounded once,
    /// +∞ above the largest double). x is clamped to [−746, 710]. Inlined, unlike .NET's vector exponential, whose
    /// call in the kernel's unit loop spills the loop's live vectors; only +, ×, FMA, integer and bit operations, so
    /// the same bits on 512-bit and on split 256-bit hardware.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<double> Exp(Vector512<double> x)
    {
        x = Vector512.MinNative(Vector512.MaxNative(x, Vector512.Create(-746.0)), Vector512.Create(710.0));
        var magic = Vector512.Create(6755399441055744.0);   // 1.5·2⁵²: adding it rounds to an integer held in the low mantissa bits
        var t = Vector512.FusedMultiplyAdd(x, Vector512.Create(1.4426950408889634), magic);
        var n = t - magic;
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-6.93147180369123816490e-01), x);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-1.90821492927058770002e-10), r);
        var p = Vector512.FusedMultiplyAdd(Vector512.Create(1.0 / 6227020800), r, Vector512.Create(1.0 / 479001600));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.0 / 39916800));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.0 / 3628800));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.0 / 362880));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.0 / 40320));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.0 / 5040));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.0 / 720));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.0 / 120));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.0 / 24));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.0 / 6));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(0.5));
        var y = Vector512.FusedMultiplyAdd(p, r * r, r) + Vector512<double>.One;
        var k = t.AsInt64() - magic.AsInt64();   // n as an integer, in [−1077, 1025]
        var half = k >> 1;
        var low = ((half + Vector512.Create(1023L)) << 52).AsDouble();
        var high = ((k - half + Vector512.Create(1023L)) << 52).AsDouble();
        return y * low * high;
    }
}
