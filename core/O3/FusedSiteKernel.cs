using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Hybrid.O3;

/// <summary>
/// The forward-Laplacian derivatives of ln ψ = Σ_i f(x_i) for a per-site network (message range 0) in float64 on the
/// CPU, one configuration and one site at a time, in plain vectorised loops. The tensor routes spend their time in
/// libtorch's per-operation overhead and in page faults on fresh [B, L, D, 3, H] intermediates; here a site's jet lives
/// in a few kilobytes that stay in the L1 cache, reused for every site of every configuration, so memory does not
/// grow with the batch and the time goes into the one real matrix product, the second layer's gradient rows.
/// <para>
/// Per site: the invariants and their tangent gradients; the values through every layer (tanh, σ', σ'');
/// the first layer's gradient rows, [3D, H], each feature's W column added into the slots of its two sites; then
/// layer by layer G ← G·(σ' ⊙ W)ᵀ with Σ_rows G² accumulated on the way for tanh's σ''|∇z|² term; the output's gradient
/// rows (w_out ⊙ σ')·G and the skip's, gathered into the sites they belong to.
/// </para>
/// </summary>
internal sealed class FusedSiteKernel
{
    private static readonly int Lane = Vector512<double>.Count;

    private readonly int sites, features, offsets, rows;
    private readonly int[] first, second;      // each feature's offsets a, b
    private readonly int[] widths;             // padded to whole vectors: the padding stays zero throughout
    private readonly double[] skip;            // [K]
    private readonly double[][] weightsT;      // layer 0: [K][P0]; layer l: [P(l-1)][P(l)], W transposed
    private readonly double[][] biases;        // [P(l)]
    private readonly double[] output;          // [P(last)]

    /// <param name="sites">L.</param>
    /// <param name="network">A per-site network (message range 0).</param>
    /// <param name="weights">Its parameters in <see cref="InvariantNetwork.Ordered"/> order, as flat row-major arrays.</param>
    public FusedSiteKernel(int sites, InvariantNetwork network, IReadOnlyList<double[]> weights)
    {
        this.sites = sites;
        features = network.Features.Count;
        offsets = network.Features.Offsets;
        // Gradient rows (slot, coordinate), padded to a multiple of 4 for the 4-row product; padded rows stay zero.
        rows = (3 * offsets + 3) / 4 * 4;
        first = network.Features.Pairs.Select(p => p.A).ToArray();
        second = network.Features.Pairs.Select(p => p.B).ToArray();
        var hidden = network.Hidden;
        widths = hidden.Select(h => (h + Lane - 1) / Lane * Lane).ToArray();
        skip = weights[0];
        weightsT = new double[hidden.Count][];
        biases = new double[hidden.Count][];
        int fanIn = features, paddedIn = features;
        for (int l = 0; l < hidden.Count; l++)
        {
            var w = weights[1 + 2 * l];   // [h, fanIn]
            var t = new double[paddedIn * widths[l]];
            for (int h = 0; h < hidden[l]; h++)
                for (int j = 0; j < fanIn; j++) t[j * widths[l] + h] = w[h * fanIn + j];
            weightsT[l] = t;
            var b = new double[widths[l]];
            Array.Copy(weights[2 + 2 * l], b, hidden[l]);
            biases[l] = b;
            fanIn = hidden[l];
            paddedIn = widths[l];
        }
        output = new double[hidden.Count > 0 ? widths[^1] : 0];
        if (hidden.Count > 0) Array.Copy(weights[^1], output, hidden[^1]);
    }

    /// <summary>
    /// ln ψ, Σ_i Δ_i ln ψ and ∇ ln ψ ([L·3] per configuration) of <paramref name="count"/> configurations
    /// <paramref name="n"/> ([count·L·3], row-major).
    /// </summary>
    public void Evaluate(ReadOnlySpan<double> n, int count, Span<double> logAbs, Span<double> laplacian, Span<double> gradient)
    {
        int layers = widths.Length;
        int widest = layers > 0 ? widths.Max() : 0;
        var c = new double[features];
        var g1 = new double[3 * features];
        var g2 = new double[3 * features];
        var values = widths.Select(p => new double[p]).ToArray();    // a = tanh z
        var slope = widths.Select(p => new double[p]).ToArray();     // σ'
        var bend = widths.Select(p => new double[p]).ToArray();      // σ''
        var lap = new double[widest];
        var lapNext = new double[widest];
        var squares = new double[widest];
        var scaled = new double[weightsT.Length > 1 ? weightsT.Skip(1).Max(t => t.Length) : 0];
        var jet = new double[rows * widest];
        var jetNext = new double[rows * widest];
        var rowGradient = new double[rows];
        var weightsOut = new double[widest];
        for (int b = 0; b < count; b++)
        {
            var config = n.Slice(b * sites * 3, sites * 3);
            var grad = gradient.Slice(b * sites * 3, sites * 3);
            grad.Clear();
            double value = 0, laplace = 0;
            for (int i = 0; i < sites; i++)
            {
                // Invariants c = n_{i+a}·n_{i+b} and their tangent gradients on the two spheres.
                double linear = 0;
                for (int k = 0; k < features; k++)
                {
                    int u = (i + first[k]) % sites * 3, v = (i + second[k]) % sites * 3;
                    double ux = config[u], uy = config[u + 1], uz = config[u + 2];
                    double vx = config[v], vy = config[v + 1], vz = config[v + 2];
                    double ck = ux * vx + uy * vy + uz * vz;
                    c[k] = ck;
                    g1[3 * k] = vx - ck * ux; g1[3 * k + 1] = vy - ck * uy; g1[3 * k + 2] = vz - ck * uz;
                    g2[3 * k] = ux - ck * vx; g2[3 * k + 1] = uy - ck * vy; g2[3 * k + 2] = uz - ck * vz;
                    linear += skip[k] * ck;
                    // The skip's gradient goes straight to the two sites.
                    double s = skip[k];
                    grad[u] += s * g1[3 * k]; grad[u + 1] += s * g1[3 * k + 1]; grad[u + 2] += s * g1[3 * k + 2];
                    grad[v] += s * g2[3 * k]; grad[v + 1] += s * g2[3 * k + 1]; grad[v + 2] += s * g2[3 * k + 2];
                }
                value += linear;
                laplace += -4 * linear;
                if (layers == 0) continue;

                // Values: z0 = W0 c + b0, and −4 W0 c is z0's Laplacian (each invariant's is −4c).
                int p0 = widths[0];
                var z = lapNext.AsSpan(0, p0);
                z.Clear();
                for (int k = 0; k < features; k++) Axpy(c[k], weightsT[0].AsSpan(k * p0, p0), z);
                for (int h = 0; h < p0; h++) lap[h] = -4 * z[h];
                Activate(z, biases[0], values[0], slope[0], bend[0]);
                for (int l = 1; l < layers; l++)
                {
                    var zl = lapNext.AsSpan(0, widths[l]);
                    zl.Clear();
                    for (int j = 0; j < widths[l - 1]; j++) Axpy(values[l - 1][j], weightsT[l].AsSpan(j * widths[l], widths[l]), zl);
                    Activate(zl, biases[l], values[l], slope[l], bend[l]);
                }
                value += Dot(output, values[^1]);

                // First layer's gradient rows: feature k's column into the rows of its slots a and b.
                var g = jet.AsSpan(0, rows * p0);
                g.Clear();
                for (int k = 0; k < features; k++)
                {
                    var column = weightsT[0].AsSpan(k * p0, p0);
                    int ra = 3 * first[k] * p0, rb = 3 * second[k] * p0;
                    for (int x = 0; x < 3; x++)
                    {
                        Axpy(g1[3 * k + x], column, g.Slice(ra + x * p0, p0));
                        Axpy(g2[3 * k + x], column, g.Slice(rb + x * p0, p0));
                    }
                }
                var sq = squares.AsSpan(0, p0);
                sq.Clear();
                for (int r = 0; r < 3 * offsets; r++) SquareAdd(g.Slice(r * p0, p0), sq);
                for (int h = 0; h < p0; h++) lap[h] = slope[0][h] * lap[h] + bend[0][h] * sq[h];

                for (int l = 1; l < layers; l++)
                {
                    int pin = widths[l - 1], pout = widths[l];
                    // (σ' ⊙ W)ᵀ: row j of the transposed weights times σ'_j of the layer below.
                    var w = scaled.AsSpan(0, pin * pout);
                    for (int j = 0; j < pin; j++) Scale(slope[l - 1][j], weightsT[l].AsSpan(j * pout, pout), w.Slice(j * pout, pout));
                    var next = jetNext.AsSpan(0, rows * pout);
                    sq = squares.AsSpan(0, pout);
                    sq.Clear();
                    Product(jet.AsSpan(0, rows * pin), w, next, pin, pout, sq);
                    var lz = lapNext.AsSpan(0, pout);
                    lz.Clear();
                    for (int j = 0; j < pin; j++) Axpy(lap[j], weightsT[l].AsSpan(j * pout, pout), lz);
                    for (int h = 0; h < pout; h++) lap[h] = slope[l][h] * lz[h] + bend[l][h] * sq[h];
                    (jet, jetNext) = (jetNext, jet);
                }
                int last = widths[^1];
                laplace += Dot(output, lap.AsSpan(0, last));
                for (int h = 0; h < last; h++) weightsOut[h] = output[h] * slope[^1][h];
                var top = jet.AsSpan(0, rows * last);
                var wo = weightsOut.AsSpan(0, last);
                for (int d = 0; d < offsets; d++)
                {
                    int s = (i + d) % sites * 3;
                    for (int x = 0; x < 3; x++) grad[s + x] += Dot(wo, top.Slice((3 * d + x) * last, last));
                }
            }
            logAbs[b] = value;
            laplacian[b] = laplace;
        }
    }

    /// <summary>a = tanh(z + bias), σ' = 1 − a², σ'' = −2aσ'.</summary>
    private static void Activate(Span<double> z, double[] bias, double[] a, double[] first, double[] second)
    {
        for (int h = 0; h < z.Length; h++)
        {
            double t = Math.Tanh(z[h] + bias[h]);
            double s = 1 - t * t;
            a[h] = t;
            first[h] = s;
            second[h] = -2 * t * s;
        }
    }

    /// <summary>y += α x (lengths whole vectors).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Axpy(double alpha, ReadOnlySpan<double> x, Span<double> y)
    {
        var a = Vector512.Create(alpha);
        ref double xr = ref MemoryMarshal.GetReference(x);
        ref double yr = ref MemoryMarshal.GetReference(y);
        for (int h = 0; h < x.Length; h += Lane)
        {
            var v = Vector512.FusedMultiplyAdd(a, Vector512.LoadUnsafe(ref xr, (nuint)h), Vector512.LoadUnsafe(ref yr, (nuint)h));
            v.StoreUnsafe(ref yr, (nuint)h);
        }
    }

    /// <summary>y = α x.</summary>
    private static void Scale(double alpha, ReadOnlySpan<double> x, Span<double> y)
    {
        var a = Vector512.Create(alpha);
        ref double xr = ref MemoryMarshal.GetReference(x);
        ref double yr = ref MemoryMarshal.GetReference(y);
        for (int h = 0; h < x.Length; h += Lane) (a * Vector512.LoadUnsafe(ref xr, (nuint)h)).StoreUnsafe(ref yr, (nuint)h);
    }

    /// <summary>s += x ⊙ x.</summary>
    private static void SquareAdd(ReadOnlySpan<double> x, Span<double> s)
    {
        ref double xr = ref MemoryMarshal.GetReference(x);
        ref double sr = ref MemoryMarshal.GetReference(s);
        for (int h = 0; h < x.Length; h += Lane)
        {
            var v = Vector512.LoadUnsafe(ref xr, (nuint)h);
            Vector512.FusedMultiplyAdd(v, v, Vector512.LoadUnsafe(ref sr, (nuint)h)).StoreUnsafe(ref sr, (nuint)h);
        }
    }

    private static double Dot(ReadOnlySpan<double> x, ReadOnlySpan<double> y)
    {
        ref double xr = ref MemoryMarshal.GetReference(x);
        ref double yr = ref MemoryMarshal.GetReference(y);
        var acc = Vector512<double>.Zero;
        for (int h = 0; h < x.Length; h += Lane)
            acc = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref xr, (nuint)h), Vector512.LoadUnsafe(ref yr, (nuint)h), acc);
        return Vector512.Sum(acc);
    }

    /// <summary>
    /// y = x·w for x [R, pin] (R a multiple of 4), w [pin, pout], y [R, pout], with s += Σ_rows y ⊙ y: a block of four
    /// rows by two vectors of outputs at a time, so eight independent multiply-adds hide the FMA latency and each
    /// loaded vector of w feeds four of them.
    /// </summary>
    private static void Product(ReadOnlySpan<double> x, ReadOnlySpan<double> w, Span<double> y, int pin, int pout, Span<double> s)
    {
        ref double xr = ref MemoryMarshal.GetReference(x);
        ref double wr = ref MemoryMarshal.GetReference(w);
        ref double yr = ref MemoryMarshal.GetReference(y);
        ref double sr = ref MemoryMarshal.GetReference(s);
        int count = x.Length / pin;
        int h = 0;
        for (; h + 2 * Lane <= pout; h += 2 * Lane)
        {
            var s0 = Vector512.LoadUnsafe(ref sr, (nuint)h);
            var s1 = Vector512.LoadUnsafe(ref sr, (nuint)(h + Lane));
            for (int r = 0; r < count; r += 4)
            {
                nuint x0 = (nuint)(r * pin), x1 = x0 + (nuint)pin, x2 = x1 + (nuint)pin, x3 = x2 + (nuint)pin;
                Vector512<double> a0 = default, a1 = default, a2 = default, a3 = default;
                Vector512<double> b0 = default, b1 = default, b2 = default, b3 = default;
                for (int j = 0; j < pin; j++)
                {
                    var wa = Vector512.LoadUnsafe(ref wr, (nuint)(j * pout + h));
                    var wb = Vector512.LoadUnsafe(ref wr, (nuint)(j * pout + h + Lane));
                    var e0 = Vector512.Create(Unsafe.Add(ref xr, x0 + (nuint)j));
                    var e1 = Vector512.Create(Unsafe.Add(ref xr, x1 + (nuint)j));
                    var e2 = Vector512.Create(Unsafe.Add(ref xr, x2 + (nuint)j));
                    var e3 = Vector512.Create(Unsafe.Add(ref xr, x3 + (nuint)j));
                    a0 = Vector512.FusedMultiplyAdd(e0, wa, a0); b0 = Vector512.FusedMultiplyAdd(e0, wb, b0);
                    a1 = Vector512.FusedMultiplyAdd(e1, wa, a1); b1 = Vector512.FusedMultiplyAdd(e1, wb, b1);
                    a2 = Vector512.FusedMultiplyAdd(e2, wa, a2); b2 = Vector512.FusedMultiplyAdd(e2, wb, b2);
                    a3 = Vector512.FusedMultiplyAdd(e3, wa, a3); b3 = Vector512.FusedMultiplyAdd(e3, wb, b3);
                }
                nuint y0 = (nuint)(r * pout + h), step = (nuint)pout;
                a0.StoreUnsafe(ref yr, y0); b0.StoreUnsafe(ref yr, y0 + (nuint)Lane);
                a1.StoreUnsafe(ref yr, y0 + step); b1.StoreUnsafe(ref yr, y0 + step + (nuint)Lane);
                a2.StoreUnsafe(ref yr, y0 + 2 * step); b2.StoreUnsafe(ref yr, y0 + 2 * step + (nuint)Lane);
                a3.StoreUnsafe(ref yr, y0 + 3 * step); b3.StoreUnsafe(ref yr, y0 + 3 * step + (nuint)Lane);
                s0 = Vector512.FusedMultiplyAdd(a0, a0, s0); s1 = Vector512.FusedMultiplyAdd(b0, b0, s1);
                s0 = Vector512.FusedMultiplyAdd(a1, a1, s0); s1 = Vector512.FusedMultiplyAdd(b1, b1, s1);
                s0 = Vector512.FusedMultiplyAdd(a2, a2, s0); s1 = Vector512.FusedMultiplyAdd(b2, b2, s1);
                s0 = Vector512.FusedMultiplyAdd(a3, a3, s0); s1 = Vector512.FusedMultiplyAdd(b3, b3, s1);
            }
            s0.StoreUnsafe(ref sr, (nuint)h);
            s1.StoreUnsafe(ref sr, (nuint)(h + Lane));
        }
        for (; h < pout; h += Lane)
        {
            var s0 = Vector512.LoadUnsafe(ref sr, (nuint)h);
            for (int r = 0; r < count; r += 4)
            {
                nuint x0 = (nuint)(r * pin), x1 = x0 + (nuint)pin, x2 = x1 + (nuint)pin, x3 = x2 + (nuint)pin;
                Vector512<double> a0 = default, a1 = default, a2 = default, a3 = default;
                for (int j = 0; j < pin; j++)
                {
                    var wv = Vector512.LoadUnsafe(ref wr, (nuint)(j * pout + h));
                    a0 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref xr, x0 + (nuint)j)), wv, a0);
                    a1 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref xr, x1 + (nuint)j)), wv, a1);
                    a2 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref xr, x2 + (nuint)j)), wv, a2);
                    a3 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref xr, x3 + (nuint)j)), wv, a3);
                }
                nuint y0 = (nuint)(r * pout + h), step = (nuint)pout;
                a0.StoreUnsafe(ref yr, y0);
                a1.StoreUnsafe(ref yr, y0 + step);
                a2.StoreUnsafe(ref yr, y0 + 2 * step);
                a3.StoreUnsafe(ref yr, y0 + 3 * step);
                s0 = Vector512.FusedMultiplyAdd(a0, a0, s0);
                s0 = Vector512.FusedMultiplyAdd(a1, a1, s0);
                s0 = Vector512.FusedMultiplyAdd(a2, a2, s0);
                s0 = Vector512.FusedMultiplyAdd(a3, a3, s0);
            }
            s0.StoreUnsafe(ref sr, (nuint)h);
        }
    }
}
