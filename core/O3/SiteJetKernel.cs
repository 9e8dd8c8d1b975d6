using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Hybrid.O3;

/// <summary>
/// The forward-Laplacian jets (value, gradient slots, Laplacian) of an <see cref="InvariantNetwork"/> in float64 on the
/// CPU, one site of one configuration at a time (with messages, one configuration's chain layer by layer, see
/// <see cref="EvaluateChain"/>). A site's jets span D slots × 3 components × the layer's width,
/// about 12 KB at L = 64 (D = 33, width 16): they stay in the L1/L2 cache and the same workspace serves every site, so an
/// evaluation allocates nothing beside its outputs and does no more than the arithmetic of the shapes, where the tensor
/// route streams every layer's [B, L, D, 3, H] jet through freshly allocated memory.
/// <para>
/// Per site i, with x_k = n_{i+a}·n_{i+b} and its tangent gradients n_{i+b} − x n_{i+a} (slot a) and
/// n_{i+a} − x n_{i+b} (slot b), Δx_k = −4 x_k: the first layer's gradient is Σ_k ∇x_k ⊗ W₀[:, k], placed by the
/// features' slots (the sparse map's work, no one-hot product); tanh gives σ' ∇z and σ' Δz + σ'' |∇z|²; each further
/// layer's gradient is the matrix product of the rows (slot, component) with diag(σ') Wᵀ, a register-tiled
/// rows × width product that also sums |∇z|² for the next tanh. Widths are padded to whole 512-bit vectors with zero
/// weights, which keep the padding lanes at zero.
/// </para>
/// <para>Not thread-safe: one workspace per network. Memory: the workspace (with messages, two layers of one chain's
/// jets, about 2 MB at L = 64) and the outputs of the chunk, whatever the batch.</para>
/// </summary>
internal sealed class SiteJetKernel
{
    private static readonly int Lanes = Vector512<double>.Count;
    private readonly int features, slots, messageRange;
    private readonly int[] first, second;      // each feature's two slots
    private readonly int[] widths;             // hidden widths
    private readonly int[] vectors;            // hidden widths in whole vectors
    // The network's weights, repacked on every evaluation (training changes them between evaluations).
    private readonly double[] skip;                      // [K]
    private readonly Vector512<double>[] inputColumns;   // [K × P₀]: column k of W₀
    private readonly Vector512<double>[][] layerRows;    // layer l ≥ 1: [(2R + 1) H_{l−1} × P_l], row j = W_l[:, j]
    private readonly Vector512<double>[][] biases;       // [P_l]
    private readonly Vector512<double>[] output;         // [P_last]
    // One site's workspace.
    private readonly double[] neighbours;                // [D × 3]: n_{i+d}
    private readonly double[] invariants;                // [K]
    private readonly double[] tangents;                  // [K × 6]: ∇x_k at slot a, then at slot b
    private readonly Vector512<double>[] gradient, nextGradient;   // [3D × P]: rows (slot, component)
    private readonly Vector512<double>[] value, laplacian, squares, first1;   // [P]: z or σ, Δz or Δσ, |∇z|², σ'
    private readonly Vector512<double>[] scaledRows;     // [H × P]: diag(σ') Wᵀ of the next layer
    private readonly double[] siteGradient;              // [3D]
    // With messages, the whole chain's jets of one configuration, layer by layer (sized on first use for a chain
    // length): each site's block of rows at a fixed stride, the current layer and the next.
    private int chainSites;
    private int chainStride;                              // vectors per site's rows: 3 × the widest frame × P
    private Vector512<double>[][] chainRows = Array.Empty<Vector512<double>[]>();
    private Vector512<double>[][] chainValues = Array.Empty<Vector512<double>[]>();        // a = tanh z, [L × P]
    private Vector512<double>[][] chainLaplacians = Array.Empty<Vector512<double>[]>();    // Δa, [L × P]
    private Vector512<double>[] chainSlopes = Array.Empty<Vector512<double>>();           // σ', [L × P]
    private Vector512<double>[] chainSquares = Array.Empty<Vector512<double>>();          // |∇z|², [L × P]
    private double[] chainSkip = Array.Empty<double>();                                   // s·x_i, [L]
    private double[] chainSkipGradient = Array.Empty<double>();                           // [L × 3D], origin 0

    public SiteJetKernel(InvariantNetwork network)
    {
        var pairs = network.Features.Pairs;
        features = pairs.Count;
        slots = network.Features.Offsets;
        messageRange = network.MessageRange;
        first = pairs.Select(p => p.A).ToArray();
        second = pairs.Select(p => p.B).ToArray();
        widths = network.Hidden.ToArray();
        vectors = widths.Select(h => (h + Lanes - 1) / Lanes).ToArray();
        int widest = vectors.Length == 0 ? 1 : vectors.Max();
        int widestWidth = widths.Length == 0 ? 1 : widths.Max();
        skip = new double[features];
        inputColumns = new Vector512<double>[features * (vectors.Length == 0 ? 0 : vectors[0])];
        layerRows = Enumerable.Range(0, widths.Length).Select(l => new Vector512<double>[l == 0 ? 0 : (2 * messageRange + 1) * widths[l - 1] * vectors[l]]).ToArray();
        biases = vectors.Select(p => new Vector512<double>[p]).ToArray();
        output = new Vector512<double>[vectors.Length == 0 ? 0 : vectors[^1]];
        neighbours = new double[slots * 3];
        invariants = new double[features];
        tangents = new double[features * 6];
        gradient = new Vector512<double>[3 * slots * widest];
        nextGradient = new Vector512<double>[3 * slots * widest];
        value = new Vector512<double>[widest];
        laplacian = new Vector512<double>[widest];
        squares = new Vector512<double>[widest];
        first1 = new Vector512<double>[widest];
        scaledRows = new Vector512<double>[widestWidth * widest];
        siteGradient = new double[3 * slots];
    }

    /// <summary>
    /// Whether the kernel can evaluate <paramref name="n"/> for <paramref name="network"/>; its results carry no
    /// autograd graph, so not where one would be taped.
    /// </summary>
    public static bool Applies(InvariantNetwork network, Tensor n) =>
        n.device_type == DeviceType.CPU && n.dtype == ScalarType.Float64
        && network.Ordered.All(p => p.device_type == DeviceType.CPU && p.dtype == ScalarType.Float64)
        && !(is_grad_enabled() && (n.requires_grad || network.Ordered.Any(p => p.requires_grad)));

    /// <summary>The site jets of configurations <paramref name="n"/> [B, L, 3] (origin 0, see <see cref="SiteJet"/>).</summary>
    public SiteJet Evaluate(IReadOnlyList<Parameter> weights, Tensor n)
    {
        Repack(weights);
        long batch = n.shape[0];
        int sites = (int)n.shape[1];
        using var contiguous = n.contiguous();
        if (messageRange > 0) return EvaluateChain(contiguous, batch, sites);
        var values = empty(new[] { batch, sites }, dtype: ScalarType.Float64);
        var gradients = empty(new[] { batch, sites, slots, 3L }, dtype: ScalarType.Float64);
        var laplacians = empty(new[] { batch, sites }, dtype: ScalarType.Float64);
        ReadOnlySpan<double> input = MemoryMarshal.Cast<byte, double>(contiguous.bytes);
        var valueOut = MemoryMarshal.Cast<byte, double>(values.bytes);
        var gradientOut = MemoryMarshal.Cast<byte, double>(gradients.bytes);
        var laplacianOut = MemoryMarshal.Cast<byte, double>(laplacians.bytes);
        for (long b = 0; b < batch; b++)
        {
            var configuration = input.Slice((int)(b * sites * 3), sites * 3);
            for (int i = 0; i < sites; i++)
            {
                long site = b * sites + i;
                (valueOut[(int)site], laplacianOut[(int)site]) = Site(configuration, sites, i);
                siteGradient.AsSpan().CopyTo(gradientOut.Slice((int)(site * slots * 3), slots * 3));
            }
        }
        return new SiteJet(values, gradients, laplacians, 0);
    }

    /// <summary>
    /// With messages (R &gt; 0) the sites' jets depend on each other, so the chain of one configuration goes layer by
    /// layer: the first layer site by site as without messages; then site i's next jet is Σ_r over its neighbours
    /// i + r (|r| ≤ R) of their rows times diag(σ') W_rᵀ, each neighbour's slot d landing in slot d + r + R of a frame
    /// R sites further left and 2R wider (modulo L once the frame covers the chain, where slots of one sphere add),
    /// as the tensor route's reframing does. Output origin −R × (layers − 1).
    /// </summary>
    private SiteJet EvaluateChain(Tensor n, long batch, int sites)
    {
        int layers = widths.Length, r0 = messageRange;
        var frames = new int[layers];
        frames[0] = slots;
        for (int l = 1; l < layers; l++) frames[l] = Math.Min(frames[l - 1] + 2 * r0, sites);
        int last = frames[^1], origin = -r0 * (layers - 1);
        int widest = vectors.Max();
        if (chainSites != sites)
        {
            chainSites = sites;
            chainStride = 3 * frames.Max() * widest;
            chainRows = new[] { new Vector512<double>[sites * chainStride], new Vector512<double>[sites * chainStride] };
            chainValues = new[] { new Vector512<double>[sites * widest], new Vector512<double>[sites * widest] };
            chainLaplacians = new[] { new Vector512<double>[sites * widest], new Vector512<double>[sites * widest] };
            chainSlopes = new Vector512<double>[sites * widest];
            chainSquares = new Vector512<double>[sites * widest];
            chainSkip = new double[sites];
            chainSkipGradient = new double[sites * 3 * slots];
        }
        var values = empty(new[] { batch, sites }, dtype: ScalarType.Float64);
        var gradients = empty(new[] { batch, sites, last, 3L }, dtype: ScalarType.Float64);
        var laplacians = empty(new[] { batch, sites }, dtype: ScalarType.Float64);
        ReadOnlySpan<double> input = MemoryMarshal.Cast<byte, double>(n.bytes);
        var valueOut = MemoryMarshal.Cast<byte, double>(values.bytes);
        var gradientOut = MemoryMarshal.Cast<byte, double>(gradients.bytes);
        var laplacianOut = MemoryMarshal.Cast<byte, double>(laplacians.bytes);
        int stride = chainStride;
        for (long b = 0; b < batch; b++)
        {
            var configuration = input.Slice((int)(b * sites * 3), sites * 3);
            int current = 0;
            // The embedding, site by site, activated.
            int p = vectors[0];
            for (int i = 0; i < sites; i++)
            {
                chainSkip[i] = Invariants(configuration, sites, i);
                siteGradient.AsSpan().CopyTo(chainSkipGradient.AsSpan(i * 3 * slots, 3 * slots));
                InputLayer();
                Activate(0);
                value.AsSpan(0, p).CopyTo(chainValues[current].AsSpan(i * widest, p));
                laplacian.AsSpan(0, p).CopyTo(chainLaplacians[current].AsSpan(i * widest, p));
                first1.AsSpan(0, p).CopyTo(chainSlopes.AsSpan(i * widest, p));
                gradient.AsSpan(0, 3 * slots * p).CopyTo(chainRows[current].AsSpan(i * stride, 3 * slots * p));
            }
            // Rounds of messages.
            for (int l = 1; l < layers; l++)
            {
                int next = 1 - current, pIn = vectors[l - 1], fanIn = widths[l - 1], from = frames[l - 1], to = frames[l];
                p = vectors[l];
                var w = layerRows[l];
                for (int i = 0; i < sites; i++)
                {
                    var z = chainValues[next].AsSpan(i * widest, p);
                    var lap = chainLaplacians[next].AsSpan(i * widest, p);
                    biases[l].AsSpan(0, p).CopyTo(z);
                    lap.Clear();
                    var target = chainRows[next].AsSpan(i * stride, 3 * to * p);
                    target.Clear();
                    for (int r = -r0; r <= r0; r++)
                    {
                        int j = ((i + r) % sites + sites) % sites;
                        var a = MemoryMarshal.Cast<Vector512<double>, double>(chainValues[current].AsSpan(j * widest, pIn));
                        var lapIn = MemoryMarshal.Cast<Vector512<double>, double>(chainLaplacians[current].AsSpan(j * widest, pIn));
                        var slope = MemoryMarshal.Cast<Vector512<double>, double>(chainSlopes.AsSpan(j * widest, pIn));
                        var block = w.AsSpan((r + r0) * fanIn * p, fanIn * p);
                        for (int k = 0; k < fanIn; k++)
                        {
                            var ak = Vector512.Create(a[k]);
                            var lk = Vector512.Create(lapIn[k]);
                            var sk = Vector512.Create(slope[k]);
                            for (int q = 0; q < p; q++)
                            {
                                var wq = block[k * p + q];
                                z[q] = Vector512.FusedMultiplyAdd(ak, wq, z[q]);
                                lap[q] = Vector512.FusedMultiplyAdd(lk, wq, lap[q]);
                                scaledRows[k * p + q] = sk * wq;
                            }
                        }
                        // Neighbour j's slot d goes to slot d + r + R, wrapped modulo L where the frame covers the chain.
                        var source = MemoryMarshal.Cast<Vector512<double>, double>(chainRows[current].AsSpan(j * stride, 3 * from * pIn));
                        var m = scaledRows.AsSpan(0, fanIn * p);
                        for (int d = 0; d < from;)
                        {
                            int slot = (d + r + r0) % sites, run = Math.Min(from - d, sites - slot);
                            Accumulate(source.Slice(3 * d * pIn * Lanes), pIn * Lanes, fanIn, m, target.Slice(3 * slot * p, 3 * run * p), 3 * run, p);
                            d += run;
                        }
                    }
                    var sq = chainSquares.AsSpan(i * widest, p);
                    sq.Clear();
                    for (int row = 0; row < 3 * to; row++)
                        for (int q = 0; q < p; q++)
                            sq[q] = Vector512.FusedMultiplyAdd(target[row * p + q], target[row * p + q], sq[q]);
                }
                for (int i = 0; i < sites; i++)
                    Activate(chainValues[next].AsSpan(i * widest, p), chainLaplacians[next].AsSpan(i * widest, p), chainSquares.AsSpan(i * widest, p), chainSlopes.AsSpan(i * widest, p));
                current = next;
            }
            // f_i = s·x_i + w·σ(z_i); the skip's slots move from origin 0 to the output frame.
            p = vectors[^1];
            int skipShift = ((-origin) % sites + sites) % sites;
            for (int i = 0; i < sites; i++)
            {
                long site = b * sites + i;
                var a = chainValues[current].AsSpan(i * widest, p);
                var lap = chainLaplacians[current].AsSpan(i * widest, p);
                var slope = chainSlopes.AsSpan(i * widest, p);
                var valueSum = Vector512<double>.Zero;
                var laplacianSum = Vector512<double>.Zero;
                for (int q = 0; q < p; q++)
                {
                    valueSum = Vector512.FusedMultiplyAdd(output[q], a[q], valueSum);
                    laplacianSum = Vector512.FusedMultiplyAdd(output[q], lap[q], laplacianSum);
                    scaledRows[q] = slope[q] * output[q];
                }
                valueOut[(int)site] = chainSkip[i] + Vector512.Sum(valueSum);
                laplacianOut[(int)site] = -4 * chainSkip[i] + Vector512.Sum(laplacianSum);
                var g = gradientOut.Slice((int)(site * last * 3), last * 3);
                var rows = chainRows[current].AsSpan(i * stride, 3 * last * p);
                for (int row = 0; row < 3 * last; row++)
                {
                    var sum = Vector512<double>.Zero;
                    for (int q = 0; q < p; q++) sum = Vector512.FusedMultiplyAdd(rows[row * p + q], scaledRows[q], sum);
                    g[row] = Vector512.Sum(sum);
                }
                var skipGradient = chainSkipGradient.AsSpan(i * 3 * slots, 3 * slots);
                for (int d = 0; d < slots; d++)
                {
                    int to = (d + skipShift) % sites;
                    g[3 * to] += skipGradient[3 * d];
                    g[3 * to + 1] += skipGradient[3 * d + 1];
                    g[3 * to + 2] += skipGradient[3 * d + 2];
                }
            }
        }
        return new SiteJet(values, gradients, laplacians, origin);
    }

    // target (rows × p vectors) += input rows (stride doubles apart, fanIn used) × m (fanIn × p vectors).
    private static void Accumulate(ReadOnlySpan<double> input, int stride, int fanIn, ReadOnlySpan<Vector512<double>> m, Span<Vector512<double>> target, int rows, int p)
    {
        if (p == 2)
        {
            // Four rows at a time: eight independent accumulators keep both FMA pipes busy through their latency.
            int r = 0;
            for (; r + 4 <= rows; r += 4)
            {
                var t = target.Slice(2 * r, 8);
                Vector512<double> c00 = t[0], c01 = t[1], c10 = t[2], c11 = t[3], c20 = t[4], c21 = t[5], c30 = t[6], c31 = t[7];
                var r0 = input.Slice(r * stride, fanIn);
                var r1 = input.Slice((r + 1) * stride, fanIn);
                var r2 = input.Slice((r + 2) * stride, fanIn);
                var r3 = input.Slice((r + 3) * stride, fanIn);
                for (int j = 0; j < fanIn; j++)
                {
                    var m0 = m[2 * j];
                    var m1 = m[2 * j + 1];
                    var g = Vector512.Create(r0[j]);
                    c00 = Vector512.FusedMultiplyAdd(g, m0, c00); c01 = Vector512.FusedMultiplyAdd(g, m1, c01);
                    g = Vector512.Create(r1[j]);
                    c10 = Vector512.FusedMultiplyAdd(g, m0, c10); c11 = Vector512.FusedMultiplyAdd(g, m1, c11);
                    g = Vector512.Create(r2[j]);
                    c20 = Vector512.FusedMultiplyAdd(g, m0, c20); c21 = Vector512.FusedMultiplyAdd(g, m1, c21);
                    g = Vector512.Create(r3[j]);
                    c30 = Vector512.FusedMultiplyAdd(g, m0, c30); c31 = Vector512.FusedMultiplyAdd(g, m1, c31);
                }
                t[0] = c00; t[1] = c01; t[2] = c10; t[3] = c11; t[4] = c20; t[5] = c21; t[6] = c30; t[7] = c31;
            }
            for (; r < rows; r++)
            {
                var c0 = target[2 * r];
                var c1 = target[2 * r + 1];
                var row = input.Slice(r * stride, fanIn);
                for (int j = 0; j < fanIn; j++)
                {
                    var g = Vector512.Create(row[j]);
                    c0 = Vector512.FusedMultiplyAdd(g, m[2 * j], c0);
                    c1 = Vector512.FusedMultiplyAdd(g, m[2 * j + 1], c1);
                }
                target[2 * r] = c0;
                target[2 * r + 1] = c1;
            }
            return;
        }
        for (int r = 0; r < rows; r++)
        {
            var row = input.Slice(r * stride, fanIn);
            var output = target.Slice(r * p, p);
            for (int j = 0; j < fanIn; j++)
            {
                var g = Vector512.Create(row[j]);
                for (int q = 0; q < p; q++) output[q] = Vector512.FusedMultiplyAdd(g, m[j * p + q], output[q]);
            }
        }
    }

    private void Repack(IReadOnlyList<Parameter> weights)
    {
        int k = 0;
        Read(weights[k++]).CopyTo(skip);
        for (int l = 0; l < widths.Length; l++)
        {
            var w = Read(weights[k++]);                              // [H_l, fan-in]
            var b = Read(weights[k++]);                              // [H_l]
            int fanIn = l == 0 ? features : (2 * messageRange + 1) * widths[l - 1], p = vectors[l];
            var columns = MemoryMarshal.Cast<Vector512<double>, double>(l == 0 ? inputColumns.AsSpan() : layerRows[l].AsSpan());
            columns.Clear();
            for (int h = 0; h < widths[l]; h++)
                for (int j = 0; j < fanIn; j++)
                    columns[j * p * Lanes + h] = w[h * fanIn + j];
            var bias = MemoryMarshal.Cast<Vector512<double>, double>(biases[l].AsSpan());
            bias.Clear();
            b.CopyTo(bias);
        }
        if (widths.Length > 0)
        {
            var o = MemoryMarshal.Cast<Vector512<double>, double>(output.AsSpan());
            o.Clear();
            Read(weights[k]).CopyTo(o);
        }
    }

    private static ReadOnlySpan<double> Read(Tensor t)
    {
        if (!t.is_contiguous()) throw new InvalidOperationException("the network's weights must be contiguous");
        return MemoryMarshal.Cast<byte, double>(t.bytes);
    }

    /// <summary>Site i's value and Laplacian; its gradient slots in <see cref="siteGradient"/>.</summary>
    private (double Value, double Laplacian) Site(ReadOnlySpan<double> n, int sites, int i)
    {
        double f = Invariants(n, sites, i);
        double lap = -4 * f;
        if (widths.Length == 0) return (f, lap);
        return SiteLayers(f, lap, siteGradient);
    }

    /// <summary>
    /// Site i's invariants and their tangent gradients (<see cref="invariants"/>, <see cref="tangents"/>); returns the
    /// linear skip s·x_i and puts its gradient slots in <see cref="siteGradient"/>.
    /// </summary>
    private double Invariants(ReadOnlySpan<double> n, int sites, int i)
    {
        for (int d = 0, j = i; d < slots; d++, j = j + 1 == sites ? 0 : j + 1)
        {
            neighbours[3 * d] = n[3 * j];
            neighbours[3 * d + 1] = n[3 * j + 1];
            neighbours[3 * d + 2] = n[3 * j + 2];
        }
        var g = siteGradient.AsSpan();
        g.Clear();
        double f = 0;
        for (int k = 0; k < features; k++)
        {
            int a = 3 * first[k], b = 3 * second[k];
            double ax = neighbours[a], ay = neighbours[a + 1], az = neighbours[a + 2];
            double bx = neighbours[b], by = neighbours[b + 1], bz = neighbours[b + 2];
            double x = ax * bx + ay * by + az * bz;
            invariants[k] = x;
            var t = tangents.AsSpan(6 * k, 6);
            t[0] = bx - x * ax; t[1] = by - x * ay; t[2] = bz - x * az;
            t[3] = ax - x * bx; t[4] = ay - x * by; t[5] = az - x * bz;
            double s = skip[k];
            f += s * x;
            g[a] += s * t[0]; g[a + 1] += s * t[1]; g[a + 2] += s * t[2];
            g[b] += s * t[3]; g[b + 1] += s * t[4]; g[b + 2] += s * t[5];
        }
        return f;
    }

    private (double Value, double Laplacian) SiteLayers(double f, double lap, Span<double> g)
    {
        InputLayer();
        int rows = 3 * slots;
        var current = gradient;
        var next = nextGradient;
        for (int l = 1; l < widths.Length; l++)
        {
            Activate(l - 1);
            HiddenLayer(current, next, l);
            (current, next) = (next, current);
        }
        Activate(widths.Length - 1);
        // f += w·σ(z): the gradient rows against σ' ∘ w, the Laplacian w·(σ' Δz + σ'' |∇z|²).
        int p = vectors[^1];
        var valueSum = Vector512<double>.Zero;
        var laplacianSum = Vector512<double>.Zero;
        for (int q = 0; q < p; q++)
        {
            var w = output[q];
            valueSum = Vector512.FusedMultiplyAdd(w, value[q], valueSum);
            laplacianSum = Vector512.FusedMultiplyAdd(w, laplacian[q], laplacianSum);
            scaledRows[q] = first1[q] * w;
        }
        for (int r = 0; r < rows; r++)
        {
            var sum = Vector512<double>.Zero;
            for (int q = 0; q < p; q++) sum = Vector512.FusedMultiplyAdd(current[r * p + q], scaledRows[q], sum);
            g[r] += Vector512.Sum(sum);
        }
        return (f + Vector512.Sum(valueSum), lap + Vector512.Sum(laplacianSum));
    }

    // z = W₀x + b₀ and Δz = −4 W₀x; ∇z = Σ_k ∇x_k ⊗ W₀[:, k] into the features' two slots.
    private void InputLayer()
    {
        int p = vectors[0];
        var z = value.AsSpan(0, p);
        z.Clear();
        var rows = gradient.AsSpan(0, 3 * slots * p);
        rows.Clear();
        for (int k = 0; k < features; k++)
        {
            var column = inputColumns.AsSpan(k * p, p);
            var x = Vector512.Create(invariants[k]);
            var t = tangents.AsSpan(6 * k, 6);
            int a = 3 * first[k] * p, b = 3 * second[k] * p;
            var a0 = Vector512.Create(t[0]); var a1 = Vector512.Create(t[1]); var a2 = Vector512.Create(t[2]);
            var b0 = Vector512.Create(t[3]); var b1 = Vector512.Create(t[4]); var b2 = Vector512.Create(t[5]);
            for (int q = 0; q < p; q++)
            {
                var w = column[q];
                z[q] = Vector512.FusedMultiplyAdd(x, w, z[q]);
                rows[a + q] = Vector512.FusedMultiplyAdd(a0, w, rows[a + q]);
                rows[a + p + q] = Vector512.FusedMultiplyAdd(a1, w, rows[a + p + q]);
                rows[a + 2 * p + q] = Vector512.FusedMultiplyAdd(a2, w, rows[a + 2 * p + q]);
                rows[b + q] = Vector512.FusedMultiplyAdd(b0, w, rows[b + q]);
                rows[b + p + q] = Vector512.FusedMultiplyAdd(b1, w, rows[b + p + q]);
                rows[b + 2 * p + q] = Vector512.FusedMultiplyAdd(b2, w, rows[b + 2 * p + q]);
            }
        }
        var minusFour = Vector512.Create(-4.0);
        var sq = squares.AsSpan(0, p);
        sq.Clear();
        for (int r = 0; r < 3 * slots; r++)
            for (int q = 0; q < p; q++)
                sq[q] = Vector512.FusedMultiplyAdd(rows[r * p + q], rows[r * p + q], sq[q]);
        for (int q = 0; q < p; q++)
        {
            laplacian[q] = minusFour * z[q];
            z[q] += biases[0][q];
        }
    }

    // σ = tanh(z) in place of z, σ' and σ'', and Δσ = σ' Δz + σ'' |∇z|² in place of Δz (|∇z|² from squares).
    private void Activate(int layer)
    {
        int p = vectors[layer];
        Activate(value.AsSpan(0, p), laplacian.AsSpan(0, p), squares.AsSpan(0, p), first1.AsSpan(0, p));
    }

    // The same on given spans: z ← σ(z), Δz ← σ' Δz + σ'' |∇z|², slope ← σ'.
    private static void Activate(Span<Vector512<double>> values, Span<Vector512<double>> laplacians, ReadOnlySpan<Vector512<double>> squares, Span<Vector512<double>> slopes)
    {
        var z = MemoryMarshal.Cast<Vector512<double>, double>(values);
        var lap = MemoryMarshal.Cast<Vector512<double>, double>(laplacians);
        var sq = MemoryMarshal.Cast<Vector512<double>, double>(squares);
        var d1 = MemoryMarshal.Cast<Vector512<double>, double>(slopes);
        for (int h = 0; h < z.Length; h++)
        {
            double a = Math.Tanh(z[h]);
            double s = 1 - a * a;
            z[h] = a;
            d1[h] = s;
            lap[h] = s * lap[h] - 2 * a * s * sq[h];
        }
    }

    // z' = W σ + b, Δz' = W Δσ, ∇z' = ∇z diag(σ') Wᵀ: rows of the current jet times the scaled rows of W,
    // four rows at a time so that each scaled row is loaded once per four; |∇z'|² summed on the way out.
    private void HiddenLayer(Vector512<double>[] current, Vector512<double>[] next, int layer)
    {
        int fanIn = widths[layer - 1], pIn = vectors[layer - 1], p = vectors[layer];
        var w = layerRows[layer];
        var a = MemoryMarshal.Cast<Vector512<double>, double>(value.AsSpan(0, pIn));
        var lapIn = MemoryMarshal.Cast<Vector512<double>, double>(laplacian.AsSpan(0, pIn));
        var d1 = MemoryMarshal.Cast<Vector512<double>, double>(first1.AsSpan(0, pIn));
        Span<Vector512<double>> z = stackalloc Vector512<double>[p];
        Span<Vector512<double>> lap = stackalloc Vector512<double>[p];
        lap.Clear();
        for (int q = 0; q < p; q++) z[q] = biases[layer][q];
        for (int j = 0; j < fanIn; j++)
        {
            var aj = Vector512.Create(a[j]);
            var lj = Vector512.Create(lapIn[j]);
            var sj = Vector512.Create(d1[j]);
            for (int q = 0; q < p; q++)
            {
                var wq = w[j * p + q];
                z[q] = Vector512.FusedMultiplyAdd(aj, wq, z[q]);
                lap[q] = Vector512.FusedMultiplyAdd(lj, wq, lap[q]);
                scaledRows[j * p + q] = sj * wq;
            }
        }
        int rows = 3 * slots;
        var input = MemoryMarshal.Cast<Vector512<double>, double>(current.AsSpan(0, rows * pIn));
        int stride = pIn * Lanes;
        var m = scaledRows.AsSpan(0, fanIn * p);
        var sq = squares.AsSpan(0, p);
        sq.Clear();
        if (p == 2) Product2(input, stride, fanIn, m, next, rows, sq);
        else
        {
            var output = next.AsSpan(0, rows * p);
            output.Clear();
            for (int r = 0; r < rows; r++)
            {
                var row = output.Slice(r * p, p);
                for (int j = 0; j < fanIn; j++)
                {
                    var g = Vector512.Create(input[r * stride + j]);
                    for (int q = 0; q < p; q++) row[q] = Vector512.FusedMultiplyAdd(g, m[j * p + q], row[q]);
                }
                for (int q = 0; q < p; q++) sq[q] = Vector512.FusedMultiplyAdd(row[q], row[q], sq[q]);
            }
        }
        for (int q = 0; q < p; q++)
        {
            value[q] = z[q];
            laplacian[q] = lap[q];
        }
    }

    // The rows × (9…16) product with eight accumulators in registers: four rows × two vectors.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Product2(ReadOnlySpan<double> input, int stride, int fanIn, ReadOnlySpan<Vector512<double>> m, Vector512<double>[] next, int rows, Span<Vector512<double>> sq)
    {
        var s0 = Vector512<double>.Zero;
        var s1 = Vector512<double>.Zero;
        int r = 0;
        for (; r + 4 <= rows; r += 4)
        {
            var c00 = Vector512<double>.Zero; var c01 = Vector512<double>.Zero;
            var c10 = Vector512<double>.Zero; var c11 = Vector512<double>.Zero;
            var c20 = Vector512<double>.Zero; var c21 = Vector512<double>.Zero;
            var c30 = Vector512<double>.Zero; var c31 = Vector512<double>.Zero;
            var r0 = input.Slice(r * stride, stride);
            var r1 = input.Slice((r + 1) * stride, stride);
            var r2 = input.Slice((r + 2) * stride, stride);
            var r3 = input.Slice((r + 3) * stride, stride);
            for (int j = 0; j < fanIn; j++)
            {
                var m0 = m[2 * j];
                var m1 = m[2 * j + 1];
                var g = Vector512.Create(r0[j]);
                c00 = Vector512.FusedMultiplyAdd(g, m0, c00); c01 = Vector512.FusedMultiplyAdd(g, m1, c01);
                g = Vector512.Create(r1[j]);
                c10 = Vector512.FusedMultiplyAdd(g, m0, c10); c11 = Vector512.FusedMultiplyAdd(g, m1, c11);
                g = Vector512.Create(r2[j]);
                c20 = Vector512.FusedMultiplyAdd(g, m0, c20); c21 = Vector512.FusedMultiplyAdd(g, m1, c21);
                g = Vector512.Create(r3[j]);
                c30 = Vector512.FusedMultiplyAdd(g, m0, c30); c31 = Vector512.FusedMultiplyAdd(g, m1, c31);
            }
            int o = 2 * r;
            next[o] = c00; next[o + 1] = c01; next[o + 2] = c10; next[o + 3] = c11;
            next[o + 4] = c20; next[o + 5] = c21; next[o + 6] = c30; next[o + 7] = c31;
            s0 = Vector512.FusedMultiplyAdd(c00, c00, Vector512.FusedMultiplyAdd(c10, c10, Vector512.FusedMultiplyAdd(c20, c20, Vector512.FusedMultiplyAdd(c30, c30, s0))));
            s1 = Vector512.FusedMultiplyAdd(c01, c01, Vector512.FusedMultiplyAdd(c11, c11, Vector512.FusedMultiplyAdd(c21, c21, Vector512.FusedMultiplyAdd(c31, c31, s1))));
        }
        for (; r < rows; r++)
        {
            var c0 = Vector512<double>.Zero; var c1 = Vector512<double>.Zero;
            var row = input.Slice(r * stride, stride);
            for (int j = 0; j < fanIn; j++)
            {
                var g = Vector512.Create(row[j]);
                c0 = Vector512.FusedMultiplyAdd(g, m[2 * j], c0);
                c1 = Vector512.FusedMultiplyAdd(g, m[2 * j + 1], c1);
            }
            next[2 * r] = c0; next[2 * r + 1] = c1;
            s0 = Vector512.FusedMultiplyAdd(c0, c0, s0);
            s1 = Vector512.FusedMultiplyAdd(c1, c1, s1);
        }
        sq[0] = s0;
        sq[1] = s1;
    }
}
