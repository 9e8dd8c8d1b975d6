using Hybrid.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Hybrid.O3;

/// <summary>
/// The per-site outputs f_i of an <see cref="InvariantNetwork"/> with their forward-Laplacian jets: Value [B, L];
/// Gradient [B, L, D, 3], slot d holding ∂f_i/∂n_{i+Origin+d} (sites modulo L; Origin ≤ 0); Laplacian [B, L] = Σ_j Δ_j f_i.
/// </summary>
public sealed record SiteJet(Tensor Value, Tensor Gradient, Tensor Laplacian, int Origin)
{
    /// <summary>The slot of each site's own sphere, n_i.</summary>
    public long SelfSlot
    {
        get
        {
            long sites = Gradient.shape[1];
            return ((-Origin) % sites + sites) % sites;
        }
    }

    /// <summary>The gradient of Σ_i f_i with respect to each site, [B, L, 3].</summary>
    public Tensor SumGradient() => RotorChain.GatherOffsets(Gradient, Origin);
}

/// <summary>How the first layer of an <see cref="InvariantNetwork"/> places the invariants' gradients into the per-site slots.</summary>
public enum SlotRoute
{
    /// <summary>
    /// Per-site networks (message range 0) of a singlet in float64 on the CPU with no gradient taped: a fused,
    /// vectorised C# loop over configurations and sites (see <see cref="FusedSiteKernel"/>) that places each feature's
    /// gradient rows directly and keeps a site's whole jet in cache; per-site jets of such networks (the isovector's)
    /// by the managed <see cref="SiteJetKernel"/>. Everything else takes <see cref="Sparse"/>. The default.
    /// </summary>
    Fused,
    /// <summary>
    /// Work in proportion to the non-zeros of the feature → slot map: a slot that several features feed takes one
    /// matrix product of their gradients with their weight columns, a run of slots fed by one feature each takes a
    /// broadcast multiply-add in place. No intermediate of the gradient's size. The tensor route on every device.
    /// </summary>
    Sparse,
    /// <summary>
    /// A dense contraction with the one-hot [2K, D] feature → slot map: D-fold more work than its non-zeros, and a
    /// [B, L, 2K, 3, H] intermediate. Kept as the reference the sparse route is tested against.
    /// </summary>
    Dense,
}

/// <summary>
/// One scalar per site of the rotor chain from that site's pair invariants x_i (a <see cref="PairFeatures"/> set, e.g.
/// n_i·n_{i+1}, …, n_i·n_{i+R}), with the same weights at every site: f_i = s·x_i + w_out·tanh(W_k … tanh(W_1 x_i + b_1) … + b_k). Built on invariants it
/// is O(3)-invariant; with shared weights on the periodic chain, Σ_i f_i is translation-invariant. Without hidden
/// layers it is the linear two-body (Jastrow) function Σ_r v_r n_i·n_{i+r}; with them, the linear part stays as a skip
/// so the network can only improve on the Jastrow form.
/// <para>
/// With a message range R &gt; 0 it is a message-passing network over the chain: the first hidden layer embeds each
/// site's invariants, and every further hidden layer mixes the embeddings of the sites i − R … i + R with one weight
/// block per offset, h'_i = tanh(Σ_r W_r h_{i+r} + b). Each round widens a site's view by R on either side, so products
/// of invariants of different sites (many-body correlations beyond any one site's features) enter after one round.
/// </para>
/// <para>
/// Beside the value, the network computes its forward Laplacian: each site's output depends on D consecutive sites
/// i + o, …, i + o + D − 1 only (o = −R per round of messages), so gradients are carried as [B, L, D, 3, width] (one
/// slot per site it depends on) and the Laplacian with them, layer by layer — linear maps act on all three alike, and
/// tanh adds σ''|∇z|² to the Laplacian. Once D would exceed L the slots are folded modulo L, so that each slot is one
/// sphere and |∇z|² is that of the true gradient. Memory and work grow like L·D per configuration, never like the
/// (3L)² Hessian.
/// </para>
/// <para>
/// Every computation also takes the weights as arguments, either of the parameters' shapes or with a leading batch
/// dimension (one copy per configuration) for per-sample log-derivatives in one backward pass.
/// </para>
/// </summary>
public sealed class InvariantNetwork : nn.Module
{
    // Parameters are registered one by one, in this order, because that order is the column order of the
    // per-sample Jacobian that stochastic reconfiguration solves with.
    private readonly List<Parameter> ordered = new();
    private readonly int[] hidden;
    private readonly int messageRange;
    private readonly Tensor slots;     // [2K, D]: one-hot offset a of each feature, then offset b (the dense route)
    private readonly SlotPiece[][] pieces;   // the sparse route's placement of the first sites' gradients, then the second's
    // The pieces' feature indices as tensors, by device: built once, not copied from the host on every evaluation.
    private readonly Dictionary<string, Tensor[][]> pieceIndices = new();
    // Reframe's slot maps by (shift, slots, chain length, device): the same few for every forward pass, so built once
    // rather than copied from the host on every layer of every evaluation.
    private readonly Dictionary<(long Shift, long Count, int Sites, string Device), Tensor> slotMaps = new();
    private SiteJetKernel? kernel;

    /// <summary>A network over the invariants <paramref name="features"/> with hidden tanh layers <paramref name="hidden"/> (empty: linear).</summary>
    /// <param name="features">The pair invariants of each site.</param>
    /// <param name="hidden">Widths of the hidden layers, each 1 … 4096; empty for the linear (Jastrow) function.</param>
    /// <param name="seed">Seeds the initial hidden weights. The output and skip weights start at zero, so every
    /// network starts as ψ = const, the strong-coupling ground state.</param>
    /// <param name="name">The module's name.</param>
    /// <param name="messageRange">R, 0 … 8: every hidden layer after the first reads the sites i − R … i + R (0: a per-site MLP).</param>
    public InvariantNetwork(PairFeatures features, IReadOnlyList<int> hidden, long seed, string name = nameof(InvariantNetwork), int messageRange = 0) : base(name)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(hidden);
        foreach (var h in hidden)
            if (h < 1 || h > 4096) throw new ArgumentException($"hidden width {h} is not allowed; each must lie in 1..4096");
        if (messageRange < 0 || messageRange > 8) throw new ArgumentException($"message range {messageRange} is not allowed; it must lie in 0..8");
        if (messageRange > 0 && hidden.Count < 2)
            throw new ArgumentException($"message passing needs at least two hidden layers (an embedding, then rounds of messages); got {hidden.Count}");
        TorchRuntime.EnsureLoaded();
        Features = features;
        int range = features.Count;
        this.hidden = hidden.ToArray();
        this.messageRange = messageRange;
        var dtype = ScalarType.Float64;
        var map = new double[2 * features.Count * features.Offsets];
        for (int k = 0; k < features.Count; k++)
        {
            map[k * features.Offsets + features.Pairs[k].A] = 1;
            map[(features.Count + k) * features.Offsets + features.Pairs[k].B] = 1;
        }
        slots = tensor(map, new long[] { 2 * features.Count, features.Offsets }, dtype: dtype);
        pieces = new[] { SlotPiece.Plan(features.Pairs.Select(p => p.A).ToArray()), SlotPiece.Plan(features.Pairs.Select(p => p.B).ToArray()) };
        register_buffer("slots", slots);
        using var generator = new Generator(unchecked((ulong)seed));
        using (no_grad())
        {
            Add("skip", zeros(new long[] { 1, range }, dtype: dtype));
            int fanIn = range;
            for (int k = 0; k < this.hidden.Length; k++)
            {
                if (k > 0) fanIn *= 2 * messageRange + 1;
                Add($"weight{k}", randn(new long[] { this.hidden[k], fanIn }, dtype: dtype, generator: generator).div_(Math.Sqrt(fanIn)));
                Add($"bias{k}", randn(new long[] { this.hidden[k] }, dtype: dtype, generator: generator).mul_(0.1));
                fanIn = this.hidden[k];
            }
            if (this.hidden.Length > 0) Add("output", zeros(new long[] { 1, fanIn }, dtype: dtype));
        }
    }

    private void Add(string name, Tensor value)
    {
        var p = new Parameter(value, requires_grad: true);
        register_parameter(name, p);
        ordered.Add(p);
    }

    /// <summary>The pair invariants each site reads.</summary>
    public PairFeatures Features { get; }

    /// <summary>Hidden widths (empty: the Jastrow function).</summary>
    public IReadOnlyList<int> Hidden => hidden;

    /// <summary>R: each hidden layer after the first reads the sites i − R … i + R (0: a per-site MLP).</summary>
    public int MessageRange => messageRange;

    /// <summary>
    /// How the first layer places the invariants' gradients into the slots (<see cref="SlotRoute.Fused"/> unless
    /// comparing): the routes agree to rounding.
    /// </summary>
    public SlotRoute SlotRoute { get; set; } = SlotRoute.Fused;

    /// <summary>
    /// Whether <see cref="SiteJets(Tensor)"/> runs the managed site-jet kernel on configurations <paramref name="n"/>:
    /// with <see cref="SlotRoute.Fused"/>, per-site networks, float64 on the CPU and no gradient to tape.
    /// </summary>
    public bool UsesManagedKernel(Tensor n) => SlotRoute == SlotRoute.Fused && SiteJetKernel.Applies(this, n);

    /// <summary>
    /// ln ψ = Σ_i f_i with its gradient and Laplacian summed over the sites, by the fused CPU loop, for configurations
    /// <paramref name="n"/> [B, L, 3]; null where that route does not apply (another route chosen, message passing,
    /// not float64 on the CPU, or a gradient to tape: its results carry no autograd graph).
    /// </summary>
    public WavefunctionDerivatives? FusedDerivatives(Tensor n)
    {
        if (SlotRoute != SlotRoute.Fused || messageRange != 0 || n.device_type != DeviceType.CPU || n.dtype != ScalarType.Float64) return null;
        if (ordered.Any(p => p.device_type != DeviceType.CPU || p.dtype != ScalarType.Float64)) return null;
        if (is_grad_enabled() && (n.requires_grad || ordered.Any(p => p.requires_grad))) return null;
        int batch = (int)n.shape[0], sites = (int)n.shape[1];
        var kernel = new FusedSiteKernel(sites, this, ordered.Select(p => p.detach().contiguous().data<double>().ToArray()).ToList());
        var input = n.detach().contiguous().data<double>().ToArray();
        var logAbs = new double[batch];
        var laplacian = new double[batch];
        var gradient = new double[batch * sites * 3];
        kernel.Evaluate(input, batch, logAbs, laplacian, gradient);
        return new WavefunctionDerivatives(
            tensor(logAbs, new long[] { batch }, dtype: ScalarType.Float64),
            tensor(gradient, new long[] { batch, sites, 3 }, dtype: ScalarType.Float64),
            tensor(laplacian, new long[] { batch }, dtype: ScalarType.Float64));
    }

    /// <summary>The parameters in the order the functional methods take their weights.</summary>
    public IReadOnlyList<Parameter> Ordered => ordered;

    /// <summary>The per-site outputs f_i, [B, L], from invariants [B, L, K] and weights (the network's own when null).</summary>
    public Tensor SiteValues(Tensor invariants, IReadOnlyList<Tensor>? weights = null)
    {
        var w = weights ?? ordered;
        int k = 0;
        var total = Apply(invariants, w[k++]);
        var h = invariants;
        for (int layer = 0; layer < hidden.Length; layer++)
        {
            h = tanh(AddBias(layer == 0 ? Apply(h, w[k]) : Messages(h, w[k]), w[k + 1]));
            k += 2;
        }
        if (hidden.Length > 0) total = total + Apply(h, w[k]);
        return total.squeeze(-1);
    }

    /// <summary>
    /// The per-site outputs with their forward-Laplacian jets at configurations <paramref name="n"/> [B, L, 3], with the
    /// network's own weights: by the managed site-jet kernel where it applies (see <see cref="UsesManagedKernel"/>),
    /// else by the tensor route.
    /// </summary>
    public SiteJet SiteJets(Tensor n)
    {
        if (UsesManagedKernel(n)) return (kernel ??= new SiteJetKernel(this)).Evaluate(ordered, n);
        var (c, atFirst, atSecond) = RotorChain.PairInvariants(n, Features);
        return SiteJets(c, atFirst, atSecond);
    }

    /// <summary>
    /// The per-site outputs with their forward-Laplacian jets by the tensor route, with the network's own weights (see <see cref="SiteJet"/>).
    /// Inputs come from <see cref="RotorChain.PairInvariants"/>.
    /// </summary>
    public SiteJet SiteJets(Tensor invariants, Tensor gradientAtFirst, Tensor gradientAtSecond)
    {
        var w = ordered;
        int k = 0;
        int sites = (int)invariants.shape[1];
        var skip = InputLayer(invariants, gradientAtFirst, gradientAtSecond, w[k++]);
        if (hidden.Length == 0) return skip.Output();
        var z = InputLayer(invariants, gradientAtFirst, gradientAtSecond, w[k]);
        z = z with { Value = AddBias(z.Value, w[k + 1]) };
        k += 2;
        var h = Tanh(z);
        for (int layer = 1; layer < hidden.Length; layer++)
        {
            z = Messages(h, w[k], sites);
            z = z with { Value = AddBias(z.Value, w[k + 1]) };
            k += 2;
            h = Tanh(z);
        }
        var o = w[k];
        var top = new Jet(Apply(h.Value, o), Apply(h.Gradient, o), Apply(h.Laplacian, o), h.Origin);
        var aligned = Reframe(skip.Gradient, skip.Origin, top.Origin, top.Gradient.shape[2], sites);
        return new Jet(skip.Value + top.Value, aligned + top.Gradient, skip.Laplacian + top.Laplacian, top.Origin).Output();
    }

    /// <summary>
    /// The site outputs of configurations <paramref name="n"/> [B, L, 3] with what a move of one site needs to update
    /// them locally (see <see cref="SiteTermCache"/>); not for message-passing networks (<see cref="MessageRange"/> &gt; 0).
    /// </summary>
    public SiteTermCache CreateSiteCache(Tensor n) => new(this, n);

    /// <summary>The network as a JSON fragment.</summary>
    public string Describe() =>
        $"{{\"features\":{Features.Describe()},\"hidden\":[{string.Join(",", hidden)}]{(messageRange == 0 ? "" : $",\"messageRange\":{messageRange}")}}}";

    /// <summary>
    /// Value [B, L, H], gradient [B, L, D, 3, H] and Laplacian [B, L, H] of one layer's pre- or post-activations; slot d
    /// of site i's gradient is the derivative with respect to n_{i + Origin + d} (indices modulo L).
    /// </summary>
    private sealed record Jet(Tensor Value, Tensor Gradient, Tensor Laplacian, int Origin)
    {
        public SiteJet Output() => new(Value.squeeze(-1), Gradient.squeeze(-1), Laplacian.squeeze(-1), Origin);
    }

    // The first linear map, on the invariants: feature k = (a, b) moves only with the site's neighbours at offsets a and
    // b, so its two tangent derivatives, times the feature's column of W, land in those two slots of the gradient.
    // The sparse route adds them in piece by piece (see SlotPiece), so nothing of the result's size is allocated
    // beside it. The dense route contracts both sides with the one-hot map feature → slot instead: D-fold more work
    // than its non-zeros, with a [B, L, 2K, 3, H] intermediate. (Contracting the pair at once would materialise a
    // [B, L, K, D, 3, H] product, 1.8 GB at L = 64 for 64 configurations.)
    private Jet InputLayer(Tensor c, Tensor gradientAtFirst, Tensor gradientAtSecond, Tensor w)
    {
        var value = Apply(c, w);                                                              // [B, L, H]
        Tensor gradient;                                                                      // [B, L, D, 3, H]
        if (SlotRoute == SlotRoute.Dense)
        {
            var columns = w.t().reshape(1, 1, w.shape[1], 1, w.shape[0]);                      // [1, 1, K, 1, H]
            var weighted = cat(new[] { gradientAtFirst.unsqueeze(-1) * columns, gradientAtSecond.unsqueeze(-1) * columns }, 2);
            gradient = einsum("blkch,kd->bldch", weighted, slots);
        }
        else
        {
            long width = w.shape[0];
            gradient = zeros(new[] { c.shape[0], c.shape[1], Features.Offsets, 3, width }, dtype: value.dtype, device: value.device);
            var indices = PieceIndices(c.device);
            for (int side = 0; side < 2; side++)
            {
                var rows = side == 0 ? gradientAtFirst : gradientAtSecond;                    // [B, L, K, 3]
                for (int p = 0; p < pieces[side].Length; p++)
                {
                    using var scope = NewDisposeScope();
                    var piece = pieces[side][p];
                    var g = rows.index_select(2, indices[side][p]);                           // [B, L, n, 3]
                    var columns = w.index_select(1, indices[side][p]);                       // [H, n]
                    if (piece.Shared) gradient.select(2, piece.Start).add_(g.transpose(2, 3).matmul(columns.t()));
                    else gradient.narrow(2, piece.Start, piece.Length).addcmul_(g.unsqueeze(-1), columns.t().reshape(1, 1, piece.Length, 1, width), 1.0);
                }
            }
        }
        var laplacian = Apply(c.mul(-4), w);
        return new Jet(value, gradient, laplacian, 0);
    }

    /// <summary>The pieces' feature indices on <paramref name="device"/>, [side][piece].</summary>
    private Tensor[][] PieceIndices(Device device)
    {
        var key = device.ToString();
        if (!pieceIndices.TryGetValue(key, out var indices))
        {
            indices = pieces.Select(side => side.Select(p => tensor(p.Features, device: device).DetachFromDisposeScope()).ToArray()).ToArray();
            pieceIndices[key] = indices;
        }
        return indices;
    }

    /// <summary>
    /// One piece of the sparse placement of one side's gradients (the features' first sites, or their second): a
    /// slot <see cref="Start"/> that several features feed (<see cref="Shared"/>: Σ_k ∇x_k ⊗ W[:, k], a matrix product
    /// over them), or the run of <see cref="Length"/> slots from <see cref="Start"/> that one feature each feeds (slot
    /// Start + j gets ∇x_k ⊗ W[:, k] of the j-th feature, a broadcast multiply-add).
    /// </summary>
    private sealed record SlotPiece(bool Shared, long Start, long Length, long[] Features)
    {
        /// <summary>The pieces of one side, from each feature's slot on that side, by ascending slot.</summary>
        public static SlotPiece[] Plan(int[] slotOfFeature)
        {
            var result = new List<SlotPiece>();
            foreach (var group in Enumerable.Range(0, slotOfFeature.Length).GroupBy(k => slotOfFeature[k]).OrderBy(g => g.Key))
            {
                var features = group.Select(k => (long)k).ToArray();
                var last = result.Count > 0 ? result[^1] : null;
                if (features.Length > 1) result.Add(new SlotPiece(true, group.Key, 1, features));
                else if (last is { Shared: false } && last.Start + last.Length == group.Key)
                    result[^1] = last with { Length = last.Length + 1, Features = last.Features.Append(features[0]).ToArray() };
                else result.Add(new SlotPiece(false, group.Key, 1, features));
            }
            return result.ToArray();
        }
    }

    /// <summary>A round of messages on the values alone: Σ_r W_r h_{i+r}, W_r the r-th block of columns of w.</summary>
    private Tensor Messages(Tensor h, Tensor w)
    {
        if (messageRange == 0) return Apply(h, w);
        long width = h.shape[^1];
        Tensor? total = null;
        for (int r = -messageRange; r <= messageRange; r++)
        {
            var term = Apply(r == 0 ? h : h.roll(-r, 1), w.narrow(-1, (r + messageRange) * width, width));
            total = total is null ? term : total + term;
        }
        return total!;
    }

    /// <summary>
    /// A round of messages on a jet: values and Laplacians pass through the same linear map as the values alone; the
    /// neighbour i + r's gradient slots are moved into site i's frame, which starts R sites further left and is R sites
    /// wider on each side (folded modulo L once it covers the chain). Only tanh needs the folded gradient.
    /// </summary>
    private Jet Messages(Jet h, Tensor w, int sites)
    {
        if (messageRange == 0) return new Jet(Apply(h.Value, w), Apply(h.Gradient, w), Apply(h.Laplacian, w), h.Origin);
        long width = h.Value.shape[^1];
        int origin = h.Origin - messageRange;
        long slotCount = Math.Min(h.Gradient.shape[2] + 2 * messageRange, sites);
        Tensor? gradient = null;
        for (int r = -messageRange; r <= messageRange; r++)
        {
            var block = w.narrow(-1, (r + messageRange) * width, width);
            var g = Reframe(Apply(r == 0 ? h.Gradient : h.Gradient.roll(-r, 1), block), h.Origin + r, origin, slotCount, sites);
            gradient = gradient is null ? g : gradient + g;
        }
        return new Jet(Messages(h.Value, w), gradient!, Messages(h.Laplacian, w), origin);
    }

    /// <summary>
    /// Gradient slots [B, L, D, …] of frame origin <paramref name="from"/> written into <paramref name="slotCount"/>
    /// slots of frame origin <paramref name="to"/>: slot d goes to (d + from − to) mod L, where slots that meet (the
    /// same sphere) add.
    /// </summary>
    private Tensor Reframe(Tensor gradient, int from, int to, long slotCount, int sites)
    {
        long count = gradient.shape[2];
        if (from == to && count == slotCount) return gradient;
        long shift = ((from - to) % sites + sites) % sites;
        var key = (shift, count, sites, gradient.device.ToString());
        if (!slotMaps.TryGetValue(key, out var index))
        {
            index = tensor(Enumerable.Range(0, (int)count).Select(d => (d + shift) % sites).ToArray(), device: gradient.device).DetachFromDisposeScope();
            slotMaps[key] = index;
        }
        var shape = gradient.shape.ToArray();
        shape[2] = slotCount;
        return zeros(shape, dtype: gradient.dtype, device: gradient.device).index_add_(2, index, gradient, 1.0);
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            foreach (var t in slotMaps.Values) t.Dispose();
            slotMaps.Clear();
            foreach (var t in pieceIndices.Values.SelectMany(side => side.SelectMany(p => p))) t.Dispose();
            pieceIndices.Clear();
        }
        base.Dispose(disposing);
    }

    private static Jet Tanh(Jet z)
    {
        var a = tanh(z.Value);
        var first = 1 - a.square();                                        // σ'
        var second = -2 * a * first;                                       // σ''
        var spread = first.unsqueeze(2).unsqueeze(2);
        var gradient = z.Gradient * spread;
        var laplacian = first * z.Laplacian + second * z.Gradient.square().sum(new long[] { 2, 3 });
        return new Jet(a, gradient, laplacian, z.Origin);
    }

    /// <summary>x [B, …, in] times Wᵀ on the last dimension; W is [out, in] or, per configuration, [B, out, in].</summary>
    private static Tensor Apply(Tensor x, Tensor w)
    {
        if (w.dim() == 2) return x.matmul(w.t());
        var shape = x.shape;
        var flat = x.reshape(shape[0], -1, shape[^1]).bmm(w.transpose(1, 2));
        return flat.reshape(shape[..^1].Append(w.shape[1]).ToArray());
    }

    /// <summary>x [B, L, H] plus a bias [H] or, per configuration, [B, H].</summary>
    private static Tensor AddBias(Tensor x, Tensor b) => b.dim() == 1 ? x + b : x + b.unsqueeze(1);
}
