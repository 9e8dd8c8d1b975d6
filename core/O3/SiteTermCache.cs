using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.O3;

/// <summary>
/// The site outputs f_i of an <see cref="InvariantNetwork"/> (without message passing) on a batch of configurations,
/// with the first layer's pre-activations, kept up to date move by move. A move of site j changes feature k = (a, b)
/// of the sites j − a and j − b only; their pre-activations (and linear skip parts) change by W[:, k] Δx_k, and only
/// those sites' outputs are recomputed from there: O(K·H) for the first layer and O(sites touched · H²) for the rest,
/// instead of O(L·K·H + L·H²). Created by <see cref="InvariantNetwork.CreateSiteCache"/>; the weights are those of
/// its creation (rebuild it after they change).
/// </summary>
public sealed class SiteTermCache : IDisposable
{
    private readonly int width;               // H₁ (0 without hidden layers)
    private readonly Tensor positions;        // [B, L, 3]
    // Per site: the first layer's pre-activations [0, H₁), the linear skip part (H₁), the hidden layers' part (H₁ + 1).
    private readonly Tensor state;            // [B, L, H₁ + 2], or [B, L, 1] (the skip part) without hidden layers
    private readonly Tensor termTable;        // [L, U]: the site terms j − δ a move of site j touches (j itself first)
    private readonly Tensor neighbourTable;   // [L, E + 1]: the other site of each changed feature, then j
    private readonly Tensor entryTerm;        // [E]: which touched term each changed feature belongs to
    private readonly Tensor columns;          // [E, H₁ + 1]: the feature's first-layer column, then its skip weight
    private readonly (Tensor Weight, Tensor Bias)[] layers;   // the hidden layers after the first
    private readonly Tensor? output;
    private readonly Tensor chainRows;        // [B, 1]: b·L, the first row of each chain in the [B·L, …] views
    private Pending? pending;

    private sealed record Pending(Tensor Site, Tensor Vector, Tensor Previous, Tensor Rows, Tensor Old, Tensor New);

    internal SiteTermCache(InvariantNetwork network, Tensor n)
    {
        if (network.MessageRange != 0) throw new InvalidOperationException("a message-passing network has no local updates: every round widens the sites a move reaches");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var features = network.Features;
        var w = network.Ordered.Select(p => p.detach()).ToArray();
        int sites = (int)n.shape[1];
        var device = n.device;
        width = network.Hidden.Count > 0 ? network.Hidden[0] : 0;
        positions = n.detach().contiguous().clone().DetachFromDisposeScope();
        chainRows = arange(n.shape[0], dtype: ScalarType.Int64, device: device).mul_(sites).unsqueeze(1).DetachFromDisposeScope();
        var c = RotorChain.Invariants(positions, features);                                   // [B, L, K]
        var skip = c.matmul(w[0].t());                                                        // [B, L, 1]
        if (width > 0)
        {
            layers = Enumerable.Range(1, network.Hidden.Count - 1).Select(l => (w[1 + 2 * l].clone().DetachFromDisposeScope(), w[2 + 2 * l].clone().DetachFromDisposeScope())).ToArray();
            output = w[^1].clone().DetachFromDisposeScope();
            var pre = nn.functional.linear(c, w[1], w[2]);                                    // [B, L, H₁]
            state = cat(new[] { pre, skip, Top(pre).unsqueeze(-1) }, 2).DetachFromDisposeScope();
        }
        else
        {
            layers = Array.Empty<(Tensor, Tensor)>();
            state = skip.contiguous().DetachFromDisposeScope();
        }
        // Each feature k = (a, b) changes at the term j − a (other site j + b − a) and at j − b (other site j − (b − a)).
        var deltas = new List<int> { 0 };
        var terms = new List<long>();
        var feats = new List<long>();
        var partners = new List<int>();
        for (int k = 0; k < features.Count; k++)
        {
            var (a, b) = features.Pairs[k];
            foreach (var (delta, partner) in new[] { (a, b - a), (b, a - b) })
            {
                int u = deltas.IndexOf(delta);
                if (u < 0) { deltas.Add(delta); u = deltas.Count - 1; }
                terms.Add(u);
                feats.Add(k);
                partners.Add(partner);
            }
        }
        static long Mod(long v, int m) => ((v % m) + m) % m;
        var termRows = new long[sites * deltas.Count];
        var neighbourRows = new long[sites * (partners.Count + 1)];
        for (int j = 0; j < sites; j++)
        {
            for (int u = 0; u < deltas.Count; u++) termRows[j * deltas.Count + u] = Mod(j - deltas[u], sites);
            for (int e = 0; e < partners.Count; e++) neighbourRows[j * (partners.Count + 1) + e] = Mod(j + partners[e], sites);
            neighbourRows[j * (partners.Count + 1) + partners.Count] = j;
        }
        termTable = tensor(termRows, new long[] { sites, deltas.Count }, device: device).DetachFromDisposeScope();
        neighbourTable = tensor(neighbourRows, new long[] { sites, partners.Count + 1 }, device: device).DetachFromDisposeScope();
        entryTerm = tensor(terms.ToArray(), device: device).DetachFromDisposeScope();
        var index = tensor(feats.ToArray(), device: device);
        var first = width > 0 ? cat(new[] { w[1], w[0] }, 0) : w[0];                          // [H₁ + 1, K]
        columns = first.index_select(1, index).t().contiguous().DetachFromDisposeScope();
    }

    /// <summary>[L, U]: the site terms a move of each site touches, the moved site's own first.</summary>
    internal Tensor TermTable => termTable;

    /// <summary>The cached configurations [B, L, 3] (owned by the cache).</summary>
    public Tensor Positions => positions;

    /// <summary>The site outputs f_i [B, L] (in the caller's dispose scope).</summary>
    public Tensor Values() => width > 0 ? state.select(2, width) + state.select(2, width + 1) : state.select(2, 0).clone();

    /// <summary>
    /// Site j = <paramref name="site"/> [B] of each configuration moved to <paramref name="vector"/> [B, 3]: the touched
    /// site terms [B, U] (j − δ mod L, the moved site's own first), their outputs before [B, U], and the changes of
    /// their outputs [B, U]. Remembered until <see cref="Accept"/>.
    /// </summary>
    public (Tensor Terms, Tensor Old, Tensor Change) Propose(Tensor site, Tensor vector)
    {
        using var noGrad = no_grad();
        long batch = positions.shape[0], sites = positions.shape[1], entries = entryTerm.shape[0], touched = termTable.shape[1], slots = state.shape[2];
        // Rows of the flattened [B·L, …] views: index_select and index_copy_ move whole rows, far cheaper than gather
        // and scatter with an expanded index.
        var terms = termTable.index_select(0, site);                                        // [B, U]
        var rows = (terms + chainRows).view(-1);
        var near = (neighbourTable.index_select(0, site) + chainRows).view(-1);
        var vectors = positions.view(batch * sites, 3).index_select(0, near).view(batch, entries + 1, 3);
        var previous = vectors.narrow(1, entries, 1);                                       // [B, 1, 3]
        var dx = vectors.narrow(1, 0, entries).bmm((vector.unsqueeze(1) - previous).transpose(1, 2));   // [B, E, 1]
        var change = zeros(new[] { batch, touched, columns.shape[1] }, dtype: dx.dtype, device: dx.device)
            .index_add_(1, entryTerm, dx * columns, 1.0);                                   // [B, U, H₁ + 1]
        var old = state.view(batch * sites, slots).index_select(0, rows).view(batch, touched, slots);
        Tensor next, siteChange, oldValues;
        if (width > 0)
        {
            var first = old.narrow(2, 0, width + 1) + change;
            var top = Top(first.narrow(2, 0, width).reshape(batch * touched, width)).view(batch, touched);
            var oldTop = old.select(2, width + 1);
            siteChange = change.select(2, width) + (top - oldTop);
            next = cat(new[] { first, top.unsqueeze(-1) }, 2);
            oldValues = old.select(2, width) + oldTop;
        }
        else
        {
            next = old + change;
            siteChange = change.squeeze(-1);
            oldValues = old.squeeze(-1);
        }
        pending = new Pending(site, vector, previous.squeeze(1), rows, old, next);
        return (terms, oldValues, siteChange);
    }

    /// <summary>Takes the last proposed move where <paramref name="accept"/> [B] is true.</summary>
    public void Accept(Tensor accept)
    {
        var p = pending ?? throw new InvalidOperationException("no move was proposed");
        using var noGrad = no_grad();
        long batch = positions.shape[0], sites = positions.shape[1], slots = state.shape[2];
        state.view(batch * sites, slots).index_copy_(0, p.Rows, where(accept.view(batch, 1, 1), p.New, p.Old).view(-1, slots));
        var moved = p.Site + chainRows.squeeze(1);
        positions.view(batch * sites, 3).index_copy_(0, moved, where(accept.view(batch, 1), p.Vector, p.Previous));
        pending = null;
    }

    /// <summary>
    /// tanh as 2σ(2x) − 1: equal to rounding (a few 10⁻¹⁶), and several times faster than float64 tanh on the CPU,
    /// where the hidden layers of the touched terms are most of a local move's work.
    /// </summary>
    private static Tensor Tanh(Tensor x) => x.mul(2).sigmoid_().mul_(2).sub_(1);

    /// <summary>The hidden layers' output from the first layer's pre-activations [N, H₁] (or [B, L, H₁]) → [N] ([B, L]).</summary>
    private Tensor Top(Tensor pre)
    {
        var h = Tanh(pre);
        foreach (var (weight, bias) in layers) h = Tanh(nn.functional.linear(h, weight, bias));
        return nn.functional.linear(h, output!).squeeze(-1);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        positions.Dispose();
        state.Dispose();
        termTable.Dispose();
        neighbourTable.Dispose();
        entryTerm.Dispose();
        columns.Dispose();
        chainRows.Dispose();
        foreach (var (weight, bias) in layers) { weight.Dispose(); bias.Dispose(); }
        output?.Dispose();
    }
}
