using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.O3;

/// <summary>
/// The site outputs f_i of an <see cref="InvariantNetwork"/> (without message passing) on a batch of configurations,
/// with the first layer's pre-activations, kept up to date move by move. A move of site j changes feature k = (a, b)
/// of the sites j − a and j − b only; their pre-activations change by W[:, k] Δx_k, and only those sites' outputs are
/// recomputed from there: O(K·H) for the first layer and O(sites touched · H²) for the rest, instead of O(L·K·H + L·H²).
/// Created by <see cref="InvariantNetwork.CreateSiteCache"/>.
/// </summary>
public sealed class SiteTermCache : IDisposable
{
    private readonly InvariantNetwork network;
    private readonly Tensor positions;        // [B, L, 3]
    private readonly Tensor skip;             // [B, L]: the linear (Jastrow) part of each f_i
    private readonly Tensor top;              // [B, L]: the hidden layers' part of each f_i (zeros without them)
    private readonly Tensor? preactivations;  // [B, L, H₁]
    private readonly Tensor offsets;          // [U]: the site terms j − δ a move of j touches (δ = 0 first)
    private readonly Tensor entryTerm;        // [E]: which of those each changed feature belongs to
    private readonly Tensor entryFeature;     // [E]: the feature k
    private readonly Tensor entryPartner;     // [E]: the feature's other site, relative to j
    private Pending? pending;

    private sealed record Pending(Tensor Site, Tensor Vector, Tensor Terms, Tensor OldSkip, Tensor NewSkip, Tensor OldTop, Tensor NewTop, Tensor? OldPre, Tensor? NewPre);

    internal SiteTermCache(InvariantNetwork network, Tensor n)
    {
        if (network.MessageRange != 0) throw new InvalidOperationException("a message-passing network has no local updates: every round widens the sites a move reaches");
        this.network = network;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var features = network.Features;
        var w = network.Ordered;
        Sites = (int)n.shape[1];
        positions = n.detach().clone().DetachFromDisposeScope();
        var c = RotorChain.Invariants(positions, features);                                   // [B, L, K]
        skip = c.matmul(w[0].t()).squeeze(-1).DetachFromDisposeScope();
        if (network.Hidden.Count > 0)
        {
            var pre = c.matmul(w[1].t()) + w[2];
            preactivations = pre.DetachFromDisposeScope();
            top = Top(pre).DetachFromDisposeScope();
        }
        else top = zeros_like(skip).DetachFromDisposeScope();
        // Each feature k = (a, b) changes at the term j − a (partner j + b − a) and at j − b (partner j − (b − a)).
        var deltas = new List<int> { 0 };
        var terms = new List<long>();
        var feats = new List<long>();
        var partners = new List<long>();
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
        var device = n.device;
        offsets = tensor(deltas.Select(d => (long)d).ToArray(), device: device).DetachFromDisposeScope();
        entryTerm = tensor(terms.ToArray(), device: device).DetachFromDisposeScope();
        entryFeature = tensor(feats.ToArray(), device: device).DetachFromDisposeScope();
        entryPartner = tensor(partners.ToArray(), device: device).DetachFromDisposeScope();
    }

    /// <summary>Sites L of the chain.</summary>
    public int Sites { get; }

    /// <summary>The cached configurations [B, L, 3] (owned by the cache).</summary>
    public Tensor Positions => positions;

    /// <summary>The site outputs f_i [B, L] (in the caller's dispose scope).</summary>
    public Tensor Values() => skip + top;

    /// <summary>
    /// Site j = <paramref name="site"/> [B] of each configuration moved to <paramref name="vector"/> [B, 3]: the touched
    /// site terms [B, U] (j − δ mod L, the moved site's own first), their outputs before [B, U], and the changes of
    /// their outputs [B, U]. Remembered until <see cref="Accept"/>.
    /// </summary>
    public (Tensor Terms, Tensor Old, Tensor Change) Propose(Tensor site, Tensor vector)
    {
        using var noGrad = no_grad();
        var w = network.Ordered;
        long batch = positions.shape[0];
        long touched = offsets.shape[0], entries = entryTerm.shape[0];
        var j = site.view(batch, 1);
        var terms = (j - offsets.unsqueeze(0)).remainder(Sites);                              // [B, U]
        var partners = (j + entryPartner.unsqueeze(0)).remainder(Sites);                      // [B, E]
        var partnerVectors = positions.gather(1, partners.unsqueeze(-1).expand(batch, entries, 3));
        var previous = positions.gather(1, j.unsqueeze(-1).expand(batch, 1, 3));              // [B, 1, 3]
        var dx = ((vector.unsqueeze(1) - previous) * partnerVectors).sum(-1);                 // [B, E]
        var oldSkip = skip.gather(1, terms);
        var skipChange = zeros(new[] { batch, touched }, dtype: dx.dtype, device: dx.device)
            .index_add_(1, entryTerm, dx * w[0].squeeze(0).index_select(0, entryFeature), 1.0);
        var newSkip = oldSkip + skipChange;
        var oldTop = top.gather(1, terms);
        Tensor newTop = oldTop;
        Tensor? oldPre = null, newPre = null;
        if (preactivations is not null)
        {
            long width = preactivations.shape[2];
            var columns = w[1].index_select(1, entryFeature).t();                             // [E, H]
            var preChange = zeros(new[] { batch, touched, width }, dtype: dx.dtype, device: dx.device)
                .index_add_(1, entryTerm, dx.unsqueeze(-1) * columns, 1.0);
            oldPre = preactivations.gather(1, terms.unsqueeze(-1).expand(batch, touched, width));
            newPre = oldPre + preChange;
            newTop = Top(newPre);
        }
        pending = new Pending(site, vector, terms, oldSkip, newSkip, oldTop, newTop, oldPre, newPre);
        return (terms, oldSkip + oldTop, skipChange + (newTop - oldTop));
    }

    /// <summary>Takes the last proposed move where <paramref name="accept"/> [B] is true.</summary>
    public void Accept(Tensor accept)
    {
        var p = pending ?? throw new InvalidOperationException("no move was proposed");
        using var noGrad = no_grad();
        long batch = positions.shape[0];
        var keep = accept.view(batch, 1);
        skip.scatter_(1, p.Terms, where(keep, p.NewSkip, p.OldSkip));
        top.scatter_(1, p.Terms, where(keep, p.NewTop, p.OldTop));
        if (preactivations is not null)
        {
            var index = p.Terms.unsqueeze(-1).expand(p.OldPre!.shape);
            preactivations.scatter_(1, index, where(keep.unsqueeze(-1), p.NewPre!, p.OldPre));
        }
        var at = p.Site.view(batch, 1, 1).expand(batch, 1, 3);
        positions.scatter_(1, at, where(keep, p.Vector, positions.gather(1, at).squeeze(1)).unsqueeze(1));
        pending = null;
    }

    /// <summary>The hidden layers' output from the first layer's pre-activations [B, n, H₁] → [B, n].</summary>
    private Tensor Top(Tensor pre)
    {
        var w = network.Ordered;
        var h = tanh(pre);
        int k = 3;
        for (int layer = 1; layer < network.Hidden.Count; layer++)
        {
            h = tanh(h.matmul(w[k].t()) + w[k + 1]);
            k += 2;
        }
        return h.matmul(w[k].t()).squeeze(-1);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        positions.Dispose();
        skip.Dispose();
        top.Dispose();
        preactivations?.Dispose();
        offsets.Dispose();
        entryTerm.Dispose();
        entryFeature.Dispose();
        entryPartner.Dispose();
    }
}
