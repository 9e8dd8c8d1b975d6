using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using static TorchSharp.torch;

namespace Hybrid.Nnft;

/// <summary>
/// Streaming sums of products φ(x_{i₁})⋯φ(x_{iₙ}) of an ensemble of networks at P fixed points, for n = 1, 2, 4 and
/// optionally 6, over every multiset of point indices i₁ ≤ … ≤ iₙ, in float64. The ensemble is split into a fixed
/// number of blocks (chunk c goes to block c mod B), so that errors come from the blocks (jackknife, bootstrap)
/// while memory stays independent of the number of networks.
/// </summary>
public sealed class CorrelatorSums
{
    private readonly int[][][] indices;         // [order][combo][position]
    private readonly double[][][] sums;          // [order][block][combo]
    private readonly long[] counts;
    private readonly double[] weightSums, weightSquares;
    private readonly long[] pairFirst, pairSecond, tripleFirst, tripleSecond, tripleThird;
    private readonly long[] quadFlat, sextetFlat;   // positions in the flattened QᵀQ and TᵀT
    private readonly ProductRows quadRows, sextetRows;   // the same as register tiles for the host route
    private double[] scratch = Array.Empty<double>();  // the host route's transposed block (fields, pairs, triples)

    /// <summary>Empty sums for <paramref name="points"/> points in <paramref name="blocks"/> blocks, up to order 4 or 6.</summary>
    public CorrelatorSums(int points, int blocks, int maxOrder)
    {
        if (points < 1 || points > 64) throw new ArgumentException($"points {points} is not allowed; it must lie in 1..64");
        if (blocks < 2 || blocks > 100_000) throw new ArgumentException($"blocks {blocks} is not allowed; it must lie in 2..100000");
        if (maxOrder is not (4 or 6)) throw new ArgumentException($"maximal order {maxOrder} is not allowed; use 4 or 6");
        if (maxOrder == 6 && points > 12) throw new ArgumentException($"the 6-point function at {points} points is not allowed; at most 12 points for order 6");
        Points = points;
        Blocks = blocks;
        MaxOrder = maxOrder;
        indices = new int[7][][];
        foreach (int order in Orders) indices[order] = Multisets(points, order).ToArray();
        sums = new double[7][][];
        foreach (int order in Orders) sums[order] = Enumerable.Range(0, blocks).Select(_ => new double[indices[order].Length]).ToArray();
        counts = new long[blocks];
        weightSums = new double[blocks];
        weightSquares = new double[blocks];
        var pairs = indices[2];
        var pairOf = new Dictionary<(int, int), long>();
        for (int p = 0; p < pairs.Length; p++) pairOf[(pairs[p][0], pairs[p][1])] = p;
        pairFirst = pairs.Select(p => (long)p[0]).ToArray();
        pairSecond = pairs.Select(p => (long)p[1]).ToArray();
        // φᵢφⱼφₖφₗ = (φᵢφⱼ)(φₖφₗ): the 4-point sums are entries of QᵀQ, Q the matrix of pair products.
        quadFlat = indices[4].Select(q => pairOf[(q[0], q[1])] * pairs.Length + pairOf[(q[2], q[3])]).ToArray();
        var triples = Multisets(points, 3).ToArray();
        var tripleOf = new Dictionary<(int, int, int), long>();
        for (int t = 0; t < triples.Length; t++) tripleOf[(triples[t][0], triples[t][1], triples[t][2])] = t;
        tripleFirst = triples.Select(t => (long)t[0]).ToArray();
        tripleSecond = triples.Select(t => (long)t[1]).ToArray();
        tripleThird = triples.Select(t => (long)t[2]).ToArray();
        sextetFlat = maxOrder == 6 ? indices[6].Select(s => tripleOf[(s[0], s[1], s[2])] * triples.Length + tripleOf[(s[3], s[4], s[5])]).ToArray() : Array.Empty<long>();
        quadRows = Staircase(quadFlat, pairs.Length);
        sextetRows = Staircase(sextetFlat, triples.Length);
    }

    /// <summary>The number of points P.</summary>
    public int Points { get; }

    /// <summary>The number of blocks B.</summary>
    public int Blocks { get; }

    /// <summary>4 or 6.</summary>
    public int MaxOrder { get; }

    /// <summary>The orders accumulated: 1, 2, 4 (and 6).</summary>
    public IReadOnlyList<int> Orders => MaxOrder == 6 ? new[] { 1, 2, 4, 6 } : new[] { 1, 2, 4 };

    /// <summary>The index multisets of <paramref name="order"/>, lexicographic (i₁ ≤ i₂ ≤ …).</summary>
    public IReadOnlyList<int[]> Indices(int order) => indices[order] ?? throw new ArgumentException($"order {order} is not accumulated");

    /// <summary>Networks per block.</summary>
    public IReadOnlyList<long> Counts => counts;

    /// <summary>Σ w per block: the networks' count without weights, the normaliser of reweighted moments with them.</summary>
    public IReadOnlyList<double> WeightSums => weightSums;

    /// <summary>Σ w² per block (the effective sample size of the weights is (Σw)²/Σw²).</summary>
    public IReadOnlyList<double> WeightSquares => weightSquares;

    /// <summary>Sums of <paramref name="order"/>-fold products in <paramref name="block"/>, by multiset.</summary>
    public IReadOnlyList<double> Sums(int order, int block) => (sums[order] ?? throw new ArgumentException($"order {order} is not accumulated"))[block];

    /// <summary>Networks in all blocks.</summary>
    public long Networks => counts.Sum();

    /// <summary>
    /// Adds the products of every network (row) of <paramref name="phi"/> [M, P]; row r is network
    /// <paramref name="firstNetwork"/> + r and goes to block (firstNetwork + r) mod B. <paramref name="firstNetwork"/>
    /// must be a multiple of B (ensembles draw chunks of a multiple of B networks).
    /// </summary>
    public void Add(Tensor phi, long firstNetwork) => Add(phi, firstNetwork, null);

    /// <summary>
    /// As <see cref="Add(Tensor, long)"/>, each network's products multiplied by its weight <paramref name="weights"/>
    /// [M] (reweighting to another parameter density); null for weight 1.
    /// </summary>
    public void Add(Tensor phi, long firstNetwork, Tensor? weights)
    {
        if (phi.dim() != 2 || phi.shape[1] != Points) throw new ArgumentException($"fields of shape [{string.Join(", ", phi.shape)}] do not fit; expected [networks, {Points}]");
        if (firstNetwork < 0 || firstNetwork % Blocks != 0) throw new ArgumentException($"first network {firstNetwork} is not allowed; it must be a multiple of the {Blocks} blocks");
        using var scope = NewDisposeScope();
        long rows = phi.shape[0];
        long groups = (rows + Blocks - 1) / Blocks;
        var x = phi.to(ScalarType.Float64);
        // Zero rows pad the last group: they add nothing to any sum, and counts are kept apart.
        if (groups * Blocks > rows) x = nn.functional.pad(x, new long[] { 0, 0, 0, groups * Blocks - rows });
        var device = x.device;
        // Without weights every product counts once: no multiplication, and Σw = Σw² = the count.
        Tensor? wByBlock = null, wColumn = null;
        if (weights is not null)
        {
            var w = weights.to(ScalarType.Float64);
            if (w.dim() != 1 || w.shape[0] != rows) throw new ArgumentException($"weights of shape [{string.Join(", ", w.shape)}] do not fit; expected [{rows}]");
            if (groups * Blocks > rows) w = nn.functional.pad(w, new long[] { 0, groups * Blocks - rows });
            wByBlock = w.view(groups, Blocks).t();                            // [B, groups]
            wColumn = wByBlock.unsqueeze(2);
        }
        Tensor Weighted(Tensor t) => wColumn is null ? t : t.mul(wColumn);
        var byBlock = x.view(groups, Blocks, Points).permute(1, 0, 2);   // [B, groups, P]: block b holds rows b, b + B, …
        var q = byBlock.index_select(2, tensor(pairFirst, device: device)).mul_(byBlock.index_select(2, tensor(pairSecond, device: device)));   // [B, groups, pairs]
        Accumulate(1, Weighted(byBlock).sum(new long[] { 1 }));   // sum(1) would bind 1 to a ScalarType
        Accumulate(2, Weighted(q).sum(new long[] { 1 }));
        var qq = matmul(Weighted(q).transpose(1, 2), q).flatten(1);   // [B, pairs²]
        Accumulate(4, qq.index_select(1, tensor(quadFlat, device: device)));
        if (MaxOrder == 6)
        {
            var t = byBlock.index_select(2, tensor(tripleFirst, device: device))
                .mul_(byBlock.index_select(2, tensor(tripleSecond, device: device)))
                .mul_(byBlock.index_select(2, tensor(tripleThird, device: device)));
            var tt = matmul(Weighted(t).transpose(1, 2), t).flatten(1);
            Accumulate(6, tt.index_select(1, tensor(sextetFlat, device: device)));
        }
        for (int b = 0; b < Blocks; b++)
        {
            long added = rows / Blocks + (b < rows % Blocks ? 1 : 0);
            counts[b] += added;
            if (wByBlock is null) { weightSums[b] += added; weightSquares[b] += added; }
        }
        if (wByBlock is null) return;
        var ws = wByBlock.sum(new long[] { 1 }).cpu().data<double>().ToArray();
        var w2 = wByBlock.square().sum(new long[] { 1 }).cpu().data<double>().ToArray();
        for (int b = 0; b < Blocks; b++) { weightSums[b] += ws[b]; weightSquares[b] += w2[b]; }
    }

    /// <summary>
    /// As <see cref="Add(Tensor, long, Tensor?)"/> from fields on the host, <paramref name="phi"/>[r·P + p] the field of
    /// network <paramref name="firstNetwork"/> + r at point p, with optional <paramref name="weights"/> [M] (empty for
    /// weight 1): the same sums, block by block, as dot products over the block's networks of the pair (and triple)
    /// products, and only for the multisets accumulated.
    /// </summary>
    public void Add(ReadOnlySpan<double> phi, long firstNetwork, ReadOnlySpan<double> weights = default)
    {
        if (phi.Length % Points != 0) throw new ArgumentException($"{phi.Length} fields do not fit; expected networks × {Points}");
        if (firstNetwork < 0 || firstNetwork % Blocks != 0) throw new ArgumentException($"first network {firstNetwork} is not allowed; it must be a multiple of the {Blocks} blocks");
        int rows = phi.Length / Points;
        bool weighted = !weights.IsEmpty;
        if (weighted && weights.Length != rows) throw new ArgumentException($"{weights.Length} weights do not fit; expected {rows}");
        int groups = (rows + Blocks - 1) / Blocks;
        // Each block's networks side by side, padded with zeros to whole vectors: the padding adds nothing to any sum.
        int stride = (groups + Vector512<double>.Count - 1) / Vector512<double>.Count * Vector512<double>.Count;
        var pairs = indices[2];
        int triples = tripleFirst.Length;
        int rowsNeeded = 1 + Points + pairs.Length * (weighted ? 2 : 1) + (MaxOrder == 6 ? triples * (weighted ? 2 : 1) : 0);
        if (scratch.Length < rowsNeeded * stride) scratch = new double[rowsNeeded * stride];
        var all = scratch.AsSpan(0, rowsNeeded * stride);
        Span<double> Row(Span<double> s, int r) => s.Slice(r * stride, stride);
        for (int b = 0; b < Blocks; b++)
        {
            int inBlock = rows / Blocks + (b < rows % Blocks ? 1 : 0);
            counts[b] += inBlock;
            if (inBlock == 0) continue;
            // Only the padding of the weights and fields needs zeros: every product row is written whole from them.
            for (int r = 0; r <= Points; r++) Row(all, r)[inBlock..].Clear();
            var w = Row(all, 0);
            for (int g = 0; g < inBlock; g++)
            {
                int r = g * Blocks + b;
                w[g] = weighted ? weights[r] : 1;
                for (int p = 0; p < Points; p++) all[(1 + p) * stride + g] = phi[r * Points + p];
            }
            int pairRow = 1 + Points, weightedPairRow = pairRow + (weighted ? pairs.Length : 0);
            for (int a = 0; a < pairs.Length; a++)
                Multiply(Row(all, 1 + pairs[a][0]), Row(all, 1 + pairs[a][1]), Row(all, pairRow + a));
            if (weighted)
                for (int a = 0; a < pairs.Length; a++) Multiply(w, Row(all, pairRow + a), Row(all, weightedPairRow + a));
            var target1 = sums[1][b];
            for (int p = 0; p < Points; p++) target1[p] += Dot(w, Row(all, 1 + p));
            var target2 = sums[2][b];
            for (int a = 0; a < pairs.Length; a++) target2[a] += Dot(w, Row(all, pairRow + a));
            Products(sums[4][b], quadRows, all, weightedPairRow, pairRow, stride);
            if (MaxOrder == 6)
            {
                int tripleRow = weightedPairRow + pairs.Length, weightedTripleRow = tripleRow + (weighted ? triples : 0);
                for (int t = 0; t < triples; t++)
                {
                    var row = Row(all, tripleRow + t);
                    Multiply(Row(all, 1 + (int)tripleFirst[t]), Row(all, 1 + (int)tripleSecond[t]), row);
                    Multiply(row, Row(all, 1 + (int)tripleThird[t]), row);
                    if (weighted) Multiply(w, row, Row(all, weightedTripleRow + t));
                }
                Products(sums[6][b], sextetRows, all, weightedTripleRow, tripleRow, stride);
            }
            if (weighted)
            {
                double total = 0;
                for (int g = 0; g < inBlock; g++) total += w[g];
                weightSums[b] += total;
                weightSquares[b] += Dot(w, w);
            }
            else
            {
                weightSums[b] += inBlock;
                weightSquares[b] += inBlock;
            }
        }
    }

    /// <summary>
    /// The multisets of a product order (4 or 6) as a staircase in the product matrix: φ_I φ_J with I, J the
    /// lexicographic factor (pair or triple) halves, J running over the suffix of the factors from
    /// <see cref="Firsts"/>[row] (set by I's last index) to the end. Rows are sorted by that start, so consecutive
    /// rows need nearly the same columns, and target index = <see cref="Bases"/>[row] + (column − Firsts[row]).
    /// </summary>
    private sealed record ProductRows(int[] Lefts, int[] Bases, int[] Firsts, int Factors);

    /// <summary>The staircase of <paramref name="flat"/> (a·factors + c per multiset, lexicographic).</summary>
    private static ProductRows Staircase(long[] flat, int factors)
    {
        var rows = new List<(int Left, int Base, int First)>();
        int m = 0;
        while (m < flat.Length)
        {
            int a = (int)(flat[m] / factors), first = (int)(flat[m] % factors), run = 1;
            while (m + run < flat.Length && flat[m + run] / factors == a) run++;
            // The rights of a left are the factors from its first to the last: the tiles rely on it.
            for (int r = 0; r < run; r++)
                if (flat[m + r] % factors != first + r) throw new InvalidOperationException("the multisets of a left factor are not a contiguous run of right factors");
            if (first + run != factors) throw new InvalidOperationException("the multisets of a left factor do not run to the last right factor");
            rows.Add((a, m, first));
            m += run;
        }
        var sorted = rows.OrderBy(r => r.First).ThenBy(r => r.Left).ToArray();
        return new ProductRows(sorted.Select(r => r.Left).ToArray(), sorted.Select(r => r.Base).ToArray(), sorted.Select(r => r.First).ToArray(), factors);
    }

    /// <summary>
    /// Adds to <paramref name="target"/> every multiset's dot product of rows left + a and right + c over the block's
    /// networks. Register tiles of 6 lefts × 4 rights: 10 vector loads feed 24 FMAs, so the accumulation runs near the
    /// FMA rate instead of the load rate of one dot product at a time. A tile's columns start at its first row's
    /// start; the entries left of a later row's start (about 14% at 16 points) and past the last column are computed
    /// and not written. Each multiset has one accumulator summed over the vectors in order and one
    /// <see cref="Total"/>: the sums are those of a dot product per multiset, bit for bit, whatever the tiling.
    /// </summary>
    private static void Products(double[] target, ProductRows rows, Span<double> all, int left, int right, int stride)
    {
        int vectors = stride / Vector512<double>.Count, count = rows.Lefts.Length, lastColumn = rows.Factors - 1;
        if (count == 0) return;
        ref double origin = ref MemoryMarshal.GetReference(all);
        Span<double> totals = stackalloc double[4 * Height];
        Span<nuint> x = stackalloc nuint[Height];
        for (int li = 0; li < count; li += Height)
        {
            // A partial last tile repeats its last row.
            for (int l = 0; l < Height; l++) x[l] = (nuint)((left + rows.Lefts[Math.Min(li + l, count - 1)]) * stride);
            for (int c = rows.Firsts[li]; c <= lastColumn; c += 4)
            {
                nuint y0 = (nuint)((right + c) * stride), y1 = (nuint)((right + Math.Min(c + 1, lastColumn)) * stride);
                nuint y2 = (nuint)((right + Math.Min(c + 2, lastColumn)) * stride), y3 = (nuint)((right + Math.Min(c + 3, lastColumn)) * stride);
                Tile(ref origin, x, y0, y1, y2, y3, vectors, totals);
                int width = Math.Min(4, lastColumn + 1 - c);
                for (int l = 0; l < Height && li + l < count; l++)
                {
                    int first = rows.Firsts[li + l], at = rows.Bases[li + l] - first;
                    if (width == 4 && c >= first)
                    {
                        // A whole row of the tile: four consecutive multisets.
                        var into = target.AsSpan(at + c, 4);
                        (Vector256.Create<double>(into) + Vector256.Create<double>(totals.Slice(4 * l, 4))).CopyTo(into);
                    }
                    else
                        for (int r = Math.Max(0, first - c); r < width; r++) target[at + c + r] += totals[4 * l + r];
                }
            }
        }
    }

    /// <summary>Rows of a register tile: 6 × 4 accumulators and 5 operands fill 29 of the 32 vector registers.</summary>
    private const int Height = 6;

    /// <summary>
    /// The 6 × 4 dot products of the rows at <paramref name="x"/> with the rows at y0..y3 (offsets in doubles),
    /// <paramref name="vectors"/> vectors long. The 6 left rows stay in L1 while the column tiles pass; each right row
    /// read from L2 feeds 6 FMAs.
    /// </summary>
    private static void Tile(ref double origin, ReadOnlySpan<nuint> x, nuint y0, nuint y1, nuint y2, nuint y3, int vectors, Span<double> totals)
    {
        nuint x0 = x[0], x1 = x[1], x2 = x[2], x3 = x[3], x4 = x[4], x5 = x[5];
        Vector512<double> s00 = default, s01 = default, s02 = default, s03 = default, s10 = default, s11 = default, s12 = default, s13 = default;
        Vector512<double> s20 = default, s21 = default, s22 = default, s23 = default, s30 = default, s31 = default, s32 = default, s33 = default;
        Vector512<double> s40 = default, s41 = default, s42 = default, s43 = default, s50 = default, s51 = default, s52 = default, s53 = default;
        nuint end = (nuint)(vectors * Vector512<double>.Count);
        for (nuint v = 0; v < end; v += (nuint)Vector512<double>.Count)
        {
            var b0 = Vector512.LoadUnsafe(ref origin, y0 + v);
            var b1 = Vector512.LoadUnsafe(ref origin, y1 + v);
            var b2 = Vector512.LoadUnsafe(ref origin, y2 + v);
            var b3 = Vector512.LoadUnsafe(ref origin, y3 + v);
            var a = Vector512.LoadUnsafe(ref origin, x0 + v);
            s00 = Vector512.FusedMultiplyAdd(a, b0, s00); s01 = Vector512.FusedMultiplyAdd(a, b1, s01);
            s02 = Vector512.FusedMultiplyAdd(a, b2, s02); s03 = Vector512.FusedMultiplyAdd(a, b3, s03);
            a = Vector512.LoadUnsafe(ref origin, x1 + v);
            s10 = Vector512.FusedMultiplyAdd(a, b0, s10); s11 = Vector512.FusedMultiplyAdd(a, b1, s11);
            s12 = Vector512.FusedMultiplyAdd(a, b2, s12); s13 = Vector512.FusedMultiplyAdd(a, b3, s13);
            a = Vector512.LoadUnsafe(ref origin, x2 + v);
            s20 = Vector512.FusedMultiplyAdd(a, b0, s20); s21 = Vector512.FusedMultiplyAdd(a, b1, s21);
            s22 = Vector512.FusedMultiplyAdd(a, b2, s22); s23 = Vector512.FusedMultiplyAdd(a, b3, s23);
            a = Vector512.LoadUnsafe(ref origin, x3 + v);
            s30 = Vector512.FusedMultiplyAdd(a, b0, s30); s31 = Vector512.FusedMultiplyAdd(a, b1, s31);
            s32 = Vector512.FusedMultiplyAdd(a, b2, s32); s33 = Vector512.FusedMultiplyAdd(a, b3, s33);
            a = Vector512.LoadUnsafe(ref origin, x4 + v);
            s40 = Vector512.FusedMultiplyAdd(a, b0, s40); s41 = Vector512.FusedMultiplyAdd(a, b1, s41);
            s42 = Vector512.FusedMultiplyAdd(a, b2, s42); s43 = Vector512.FusedMultiplyAdd(a, b3, s43);
            a = Vector512.LoadUnsafe(ref origin, x5 + v);
            s50 = Vector512.FusedMultiplyAdd(a, b0, s50); s51 = Vector512.FusedMultiplyAdd(a, b1, s51);
            s52 = Vector512.FusedMultiplyAdd(a, b2, s52); s53 = Vector512.FusedMultiplyAdd(a, b3, s53);
        }
        Total4(s00, s01, s02, s03).CopyTo(totals);
        Total4(s10, s11, s12, s13).CopyTo(totals[4..]);
        Total4(s20, s21, s22, s23).CopyTo(totals[8..]);
        Total4(s30, s31, s32, s33).CopyTo(totals[12..]);
        Total4(s40, s41, s42, s43).CopyTo(totals[16..]);
        Total4(s50, s51, s52, s53).CopyTo(totals[20..]);
    }

    /// <summary>
    /// <see cref="Total"/> of four vectors at once, the same additions of the same pairs (so the same bits): the halves
    /// of each, then the quarters of two at a time side by side, then the last pairs by one horizontal add.
    /// </summary>
    private static Vector256<double> Total4(Vector512<double> a, Vector512<double> b, Vector512<double> c, Vector512<double> d)
    {
        if (!Avx.IsSupported) return Vector256.Create(Total(a), Total(b), Total(c), Total(d));
        var ha = a.GetLower() + a.GetUpper();
        var hb = b.GetLower() + b.GetUpper();
        var hc = c.GetLower() + c.GetUpper();
        var hd = d.GetLower() + d.GetUpper();
        var ab = Vector256.Create(ha.GetLower(), hb.GetLower()) + Vector256.Create(ha.GetUpper(), hb.GetUpper());   // qa₀ qa₁ qb₀ qb₁
        var cd = Vector256.Create(hc.GetLower(), hd.GetLower()) + Vector256.Create(hc.GetUpper(), hd.GetUpper());   // qc₀ qc₁ qd₀ qd₁
        var sums = Avx.HorizontalAdd(ab, cd);                                                                     // a b c d as a c b d
        return Vector256.Create(sums.GetLower().GetElement(0), sums.GetUpper().GetElement(0), sums.GetLower().GetElement(1), sums.GetUpper().GetElement(1));
    }

    /// <summary>Σ xᵢyᵢ over whole vectors, in a fixed order (the same on every machine).</summary>
    private static double Dot(ReadOnlySpan<double> x, ReadOnlySpan<double> y)
    {
        var xs = MemoryMarshal.Cast<double, Vector512<double>>(x);
        var ys = MemoryMarshal.Cast<double, Vector512<double>>(y);
        Vector512<double> s = default;
        for (int v = 0; v < xs.Length; v++) s = Vector512.FusedMultiplyAdd(xs[v], ys[v], s);
        return Total(s);
    }

    /// <summary>z = x ⊙ y over whole vectors.</summary>
    private static void Multiply(ReadOnlySpan<double> x, ReadOnlySpan<double> y, Span<double> z)
    {
        var xs = MemoryMarshal.Cast<double, Vector512<double>>(x);
        var ys = MemoryMarshal.Cast<double, Vector512<double>>(y);
        var zs = MemoryMarshal.Cast<double, Vector512<double>>(z);
        for (int v = 0; v < zs.Length; v++) zs[v] = xs[v] * ys[v];
    }

    /// <summary>The sum of a vector's lanes by halves: element-wise additions, so the same whatever the vector hardware.</summary>
    private static double Total(Vector512<double> s)
    {
        var h = s.GetLower() + s.GetUpper();
        var q = h.GetLower() + h.GetUpper();
        return q.GetElement(0) + q.GetElement(1);
    }

    /// <summary>Adds [B, combos] to the sums of <paramref name="order"/>.</summary>
    private void Accumulate(int order, Tensor values)
    {
        var host = values.cpu().data<double>().ToArray();
        int combos = sums[order][0].Length;
        for (int b = 0; b < Blocks; b++)
        {
            var target = sums[order][b];
            for (int i = 0; i < combos; i++) target[i] += host[b * combos + i];
        }
    }

    /// <summary>Adds every block of <paramref name="other"/> (same points, blocks and order) to this one's blocks.</summary>
    public void AddBlocks(CorrelatorSums other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.Points != Points || other.Blocks != Blocks || other.MaxOrder != MaxOrder)
            throw new ArgumentException("sums of other points, blocks or order cannot be added");
        for (int b = 0; b < Blocks; b++)
        {
            counts[b] += other.counts[b];
            weightSums[b] += other.weightSums[b];
            weightSquares[b] += other.weightSquares[b];
            foreach (int order in Orders)
                for (int i = 0; i < sums[order][b].Length; i++) sums[order][b][i] += other.sums[order][b][i];
        }
    }

    /// <summary>Writes counts and sums.</summary>
    public void Save(BinaryWriter writer)
    {
        writer.Write(Points);
        writer.Write(Blocks);
        writer.Write(MaxOrder);
        foreach (var c in counts) writer.Write(c);
        foreach (var c in weightSums) writer.Write(c);
        foreach (var c in weightSquares) writer.Write(c);
        foreach (int order in Orders)
            foreach (var block in sums[order])
                foreach (var s in block) writer.Write(s);
    }

    /// <summary>Reads what <see cref="Save"/> wrote.</summary>
    public static CorrelatorSums Load(BinaryReader reader)
    {
        var result = new CorrelatorSums(reader.ReadInt32(), reader.ReadInt32(), reader.ReadInt32());
        for (int b = 0; b < result.Blocks; b++) result.counts[b] = reader.ReadInt64();
        for (int b = 0; b < result.Blocks; b++) result.weightSums[b] = reader.ReadDouble();
        for (int b = 0; b < result.Blocks; b++) result.weightSquares[b] = reader.ReadDouble();
        foreach (int order in result.Orders)
            foreach (var block in result.sums[order])
                for (int i = 0; i < block.Length; i++) block[i] = reader.ReadDouble();
        return result;
    }

    /// <summary>Multisets of size <paramref name="order"/> from 0..<paramref name="points"/>−1, lexicographic.</summary>
    public static IEnumerable<int[]> Multisets(int points, int order)
    {
        var current = new int[order];
        while (true)
        {
            yield return (int[])current.Clone();
            int k = order - 1;
            while (k >= 0 && current[k] == points - 1) k--;
            if (k < 0) yield break;
            current[k]++;
            for (int j = k + 1; j < order; j++) current[j] = current[k];
        }
    }
}
