using Hybrid.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Hybrid.O3;

/// <summary>
/// One scalar per site of the rotor chain from that site's pair invariants x_i (a <see cref="PairFeatures"/> set, e.g.
/// n_i·n_{i+1}, …, n_i·n_{i+R}), with the same weights at every site: f_i = s·x_i + w_out·tanh(W_k … tanh(W_1 x_i + b_1) … + b_k). Built on invariants it
/// is O(3)-invariant; with shared weights on the periodic chain, Σ_i f_i is translation-invariant. Without hidden
/// layers it is the linear two-body (Jastrow) function Σ_r v_r n_i·n_{i+r}; with them, the linear part stays as a skip
/// so the network can only improve on the Jastrow form.
/// <para>
/// Beside the value, the network computes its forward Laplacian: each site's output depends on the D sites
/// i, i+1, …, i+D−1 only, so gradients are carried as [B, L, D, 3, width] (one slot per offset) and the Laplacian
/// with them, layer by layer — linear maps act on all three alike, and tanh adds σ''|∇z|² to the Laplacian. Memory
/// and work grow like L·D per configuration, never like the (3L)² Hessian.
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
    private readonly Tensor slots;     // [2K, D]: one-hot offset a of each feature, then offset b

    /// <summary>A network over the invariants <paramref name="features"/> with hidden tanh layers <paramref name="hidden"/> (empty: linear).</summary>
    /// <param name="features">The pair invariants of each site.</param>
    /// <param name="hidden">Widths of the hidden layers, each 1 … 4096; empty for the linear (Jastrow) function.</param>
    /// <param name="seed">Seeds the initial hidden weights. The output and skip weights start at zero, so every
    /// network starts as ψ = const, the strong-coupling ground state.</param>
    /// <param name="name">The module's name.</param>
    public InvariantNetwork(PairFeatures features, IReadOnlyList<int> hidden, long seed, string name = nameof(InvariantNetwork)) : base(name)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(hidden);
        foreach (var h in hidden)
            if (h < 1 || h > 4096) throw new ArgumentException($"hidden width {h} is not allowed; each must lie in 1..4096");
        TorchRuntime.EnsureLoaded();
        Features = features;
        int range = features.Count;
        this.hidden = hidden.ToArray();
        var dtype = ScalarType.Float64;
        var map = new double[2 * features.Count * features.Offsets];
        for (int k = 0; k < features.Count; k++)
        {
            map[k * features.Offsets + features.Pairs[k].A] = 1;
            map[(features.Count + k) * features.Offsets + features.Pairs[k].B] = 1;
        }
        slots = tensor(map, new long[] { 2 * features.Count, features.Offsets }, dtype: dtype);
        register_buffer("slots", slots);
        using var generator = new Generator(unchecked((ulong)seed));
        using (no_grad())
        {
            Add("skip", zeros(new long[] { 1, range }, dtype: dtype));
            int fanIn = range;
            for (int k = 0; k < this.hidden.Length; k++)
            {
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

    /// <summary>The parameters in the order the functional methods take their weights.</summary>
    public IReadOnlyList<Parameter> Ordered => ordered;

    /// <summary>The per-site outputs f_i, [B, L], from invariants [B, L, K] and weights (the network's own when null).</summary>
    public Tensor SiteValues(Tensor invariants, IReadOnlyList<Tensor>? weights = null)
    {
        var w = weights ?? ordered;
        int k = 0;
        var total = Apply(invariants, w[k++]);
        var h = invariants;
        foreach (var _ in hidden)
        {
            h = tanh(AddBias(Apply(h, w[k]), w[k + 1]));
            k += 2;
        }
        if (hidden.Length > 0) total = total + Apply(h, w[k]);
        return total.squeeze(-1);
    }

    /// <summary>
    /// The per-site outputs with their forward-Laplacian jets, with the network's own weights: value [B, L]; gradient
    /// [B, L, D, 3], slot d holding ∂f_i/∂n_{i+d}; Laplacian [B, L] = Σ_j Δ_j f_i. Inputs come from
    /// <see cref="RotorChain.PairInvariants"/>.
    /// </summary>
    public (Tensor Value, Tensor Gradient, Tensor Laplacian) SiteJets(Tensor invariants, Tensor gradientAtFirst, Tensor gradientAtSecond)
    {
        var w = ordered;
        int k = 0;
        var skip = InputLayer(invariants, gradientAtFirst, gradientAtSecond, w[k++]);
        if (hidden.Length == 0) return (skip.Value.squeeze(-1), skip.Gradient.squeeze(-1), skip.Laplacian.squeeze(-1));
        var z = InputLayer(invariants, gradientAtFirst, gradientAtSecond, w[k]);
        z = z with { Value = AddBias(z.Value, w[k + 1]) };
        k += 2;
        var h = Tanh(z);
        for (int layer = 1; layer < hidden.Length; layer++)
        {
            z = new Jet(AddBias(Apply(h.Value, w[k]), w[k + 1]), Apply(h.Gradient, w[k]), Apply(h.Laplacian, w[k]));
            k += 2;
            h = Tanh(z);
        }
        var o = w[k];
        return ((skip.Value + Apply(h.Value, o)).squeeze(-1),
                (skip.Gradient + Apply(h.Gradient, o)).squeeze(-1),
                (skip.Laplacian + Apply(h.Laplacian, o)).squeeze(-1));
    }

    /// <summary>The network as a JSON fragment.</summary>
    public string Describe() => $"{{\"features\":{Features.Describe()},\"hidden\":[{string.Join(",", hidden)}]}}";

    /// <summary>Value [B, L, H], gradient [B, L, D, 3, H] and Laplacian [B, L, H] of one layer's pre- or post-activations.</summary>
    private sealed record Jet(Tensor Value, Tensor Gradient, Tensor Laplacian);

    // The first linear map, on the invariants: feature k = (a, b) moves only with the site's neighbours at offsets a and
    // b, so its two tangent derivatives, times the feature's column of W, land in those two slots of the gradient (a
    // contraction with the one-hot map feature → slot). Contracting the pair at once would materialise a
    // [B, L, K, D, 3, H] product (1.8 GB at L = 64 for 64 configurations); this way the largest intermediate is
    // [B, L, 2K, 3, H].
    private Jet InputLayer(Tensor c, Tensor gradientAtFirst, Tensor gradientAtSecond, Tensor w)
    {
        var value = Apply(c, w);                                                              // [B, L, H]
        var columns = w.t().reshape(1, 1, w.shape[1], 1, w.shape[0]);                          // [1, 1, K, 1, H]
        var weighted = cat(new[] { gradientAtFirst.unsqueeze(-1) * columns, gradientAtSecond.unsqueeze(-1) * columns }, 2);
        var gradient = einsum("blkch,kd->bldch", weighted, slots);                            // [B, L, D, 3, H]
        var laplacian = Apply(c.mul(-4), w);
        return new Jet(value, gradient, laplacian);
    }

    private static Jet Tanh(Jet z)
    {
        var a = tanh(z.Value);
        var first = 1 - a.square();                                        // σ'
        var second = -2 * a * first;                                       // σ''
        var spread = first.unsqueeze(2).unsqueeze(2);
        var gradient = z.Gradient * spread;
        var laplacian = first * z.Laplacian + second * z.Gradient.square().sum(new long[] { 2, 3 });
        return new Jet(a, gradient, laplacian);
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
