using System.Globalization;
using Hybrid.Vmc;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Hybrid.O3;

/// <summary>
/// A variational l = 1 state of the rotor chain at zero momentum, by symmetry:
/// ψ₁(n) = e^{u(n)} ẑ·V(n) with V = Σ_i (1 + w_i) n_i, where u = Σ_i f_u(x_i) and w_i = f_w(x_i) are
/// <see cref="InvariantNetwork"/>s of the pair invariants x_i (shared weights). V is an O(3)-equivariant vector
/// (invariant weights times the vectors n_i), so ẑ·V carries l = 1 exactly, its M = 0 component: ψ₁ is orthogonal to
/// every singlet, the ground state included, and its energy bounds the lowest l = 1 level from above. Shared weights
/// make it translation-invariant (zero momentum); with a momentum index k the sites are weighted by cos(2πk j/L), a
/// standing wave of momenta ±2πk/L, for the one-particle dispersion. It has nodes where ẑ·V = 0; ln|ψ₁| and its derivatives are taken
/// away from them, where the local energy has its heavy tails.
/// </summary>
public sealed class IsovectorWavefunction : nn.Module<Tensor, Tensor>, IRotorWavefunction, ILocalUpdateWavefunction
{
    private readonly InvariantNetwork envelope;
    private readonly InvariantNetwork weights;
    private readonly List<Parameter> ordered;
    private readonly double[] phases;

    /// <summary>An l = 1 wavefunction of a chain of <paramref name="sites"/>; both networks have hidden layers <paramref name="hidden"/>.</summary>
    /// <param name="sites">L ≥ 2.</param>
    /// <param name="hidden">Hidden widths of both per-site networks (empty: linear in the invariants).</param>
    /// <param name="seed">Seeds the initial weights.</param>
    /// <param name="features">The invariants each site reads (default: its star out to ⌊L/2⌋).</param>
    /// <param name="momentum">k in p = 2πk/L, 0 ≤ k ≤ L/2: the sites are weighted by cos(p j), a standing wave of
    /// momenta ±p, whose energy bounds the lowest l = 1 level at momentum p (the two have equal energy).</param>
    /// <param name="messageRange">R &gt; 0 makes both networks pass messages between sites i − R … i + R after their first layer.</param>
    public IsovectorWavefunction(int sites, IReadOnlyList<int> hidden, long seed, PairFeatures? features = null, int momentum = 0, int messageRange = 0) : base(nameof(IsovectorWavefunction))
    {
        RotorChain.CheckSites(sites);
        if (momentum < 0 || 2 * momentum > sites) throw new ArgumentException($"momentum index k = {momentum} is not allowed; it must lie in 0..{sites / 2} (p = 2πk/L)");
        Sites = sites;
        Momentum = momentum;
        // Sites where cos(p j) = 0 drop out of V; the standing wave is still a superposition of momenta ±p only.
        phases = Enumerable.Range(0, sites).Select(j => Math.Cos(2 * Math.PI * momentum * j / sites)).ToArray();
        features ??= RotorChain.StarFeatures(sites);
        features.CheckFits(sites);
        envelope = new InvariantNetwork(features, hidden, seed, "envelope", messageRange);
        weights = new InvariantNetwork(features, hidden, Sampling.Seeds.Derive(seed, "vector-weights"), "weights", messageRange);
        RegisterComponents();
        ordered = envelope.Ordered.Concat(weights.Ordered).ToList();
    }

    /// <inheritdoc/>
    public int Sites { get; }

    /// <summary>The momentum index k (p = 2πk/L).</summary>
    public int Momentum { get; }

    /// <summary>How both networks' first layers place gradients into slots (see <see cref="InvariantNetwork.SlotRoute"/>).</summary>
    public SlotRoute SlotRoute
    {
        get => envelope.SlotRoute;
        set
        {
            envelope.SlotRoute = value;
            weights.SlotRoute = value;
        }
    }

    /// <inheritdoc/>
    public IReadOnlyList<long> ConfigurationShape => new long[] { Sites, 3 };

    /// <inheritdoc/>
    public IReadOnlyList<Parameter> Parameters => ordered;

    /// <inheritdoc/>
    public Tensor LogAbs(Tensor x, IReadOnlyList<Tensor>? parameters = null)
    {
        RotorChain.CheckConfigurations(x, Sites);
        var (we, ww) = Split(parameters);
        var c = RotorChain.Invariants(x, envelope.Features);
        var u = envelope.SiteValues(c, we).sum(1);
        var s = ((1 + weights.SiteValues(c, ww)) * Phases(x) * x.select(2, 2)).sum(1);
        return u + s.abs().log();
    }

    /// <inheritdoc/>
    public WavefunctionDerivatives Derivatives(Tensor n)
    {
        RotorChain.CheckConfigurations(n, Sites);
        SiteJet u, w;
        if (envelope.UsesManagedKernel(n) && weights.UsesManagedKernel(n))
        {
            u = envelope.SiteJets(n);
            w = weights.SiteJets(n);
        }
        else
        {
            var (c, atFirst, atSecond) = RotorChain.PairInvariants(n, envelope.Features);
            u = envelope.SiteJets(c, atFirst, atSecond);
            w = weights.SiteJets(c, atFirst, atSecond);
        }
        var wGradient = w.Gradient;
        long self = w.SelfSlot;
        // s = Σ_i (1 + w_i) z_i with z_i = ẑ·n_i: ∇_i z_i = ẑ − z_i n_i, Δ_i z_i = −2 z_i (an l = 1 harmonic).
        var z = n.select(2, 2);
        var axis = zeros(3, dtype: n.dtype, device: n.device);
        axis[2] = 1;
        var zGradient = axis - z.unsqueeze(-1) * n;                                    // [B, L, 3]
        var phase = Phases(n);
        var scale = (1 + w.Value) * phase;
        var slots = (phase * z).unsqueeze(-1).unsqueeze(-1) * wGradient;               // φ_i z_i ∂w_i/∂n_{i+d}
        // The site's own slot also carries (1 + w_i) φ_i ∇_i z_i.
        slots = cat(new[] { slots.narrow(2, 0, self), (slots.select(2, self) + scale.unsqueeze(-1) * zGradient).unsqueeze(2), slots.narrow(2, self + 1, slots.shape[2] - self - 1) }, 2);
        var sLaplacianSites = scale * (-2 * z) + phase * (z * w.Laplacian + 2 * (wGradient.select(2, self) * zGradient).sum(-1));
        var s = (scale * z).sum(1);
        var sGradient = RotorChain.GatherOffsets(slots, w.Origin);
        var ratio = sGradient / s.reshape(-1, 1, 1);
        var gradient = u.SumGradient() + ratio;
        var laplacian = u.Laplacian.sum(1) + sLaplacianSites.sum(1) / s - ratio.square().sum(new long[] { 1, 2 });
        return new WavefunctionDerivatives(u.Value.sum(1) + s.abs().log(), gradient, laplacian);
    }

    /// <summary>The sign of ψ₁ (that of ẑ·V), for overlaps and checks.</summary>
    public Tensor Sign(Tensor x)
    {
        var c = RotorChain.Invariants(x, weights.Features);
        return ((1 + weights.SiteValues(c)) * Phases(x) * x.select(2, 2)).sum(1).sign();
    }

    /// cos(p j) of each site, [L], on the device and dtype of <paramref name="x"/>.
    private Tensor Phases(Tensor x) => tensor(phases, dtype: x.dtype, device: x.device);

    /// <inheritdoc/>
    public bool SupportsLocalUpdates => envelope.MessageRange == 0 && weights.MessageRange == 0;

    /// <inheritdoc/>
    public ISiteUpdateCache CreateSiteCache(Tensor x)
    {
        RotorChain.CheckConfigurations(x, Sites);
        using var phases = Phases(x);
        return new SiteCache(envelope.CreateSiteCache(x), weights.CreateSiteCache(x), phases);
    }

    /// <summary>
    /// ln|ψ₁| = Σ_i f_u(x_i) + ln|s|, s = Σ_i (1 + w_i) φ_i z_i: a move of site j changes the envelope terms and the
    /// weights w_i it touches, and z_j; s is cached and updated by the touched terms' change.
    /// </summary>
    private sealed class SiteCache : ISiteUpdateCache
    {
        private readonly SiteTermCache envelope;
        private readonly SiteTermCache weights;
        private readonly Tensor phases;   // [L, U]: cos(p i) of the terms a move of each site touches
        private Tensor logAbs;
        private Tensor sum;
        private (Tensor Change, Tensor Sum)? pending;

        public SiteCache(SiteTermCache envelope, SiteTermCache weights, Tensor phases)
        {
            this.envelope = envelope;
            this.weights = weights;
            using var scope = NewDisposeScope();
            var table = weights.TermTable;
            this.phases = phases.index_select(0, table.reshape(-1)).view_as(table).DetachFromDisposeScope();   // φ of each touched term, [L, U]
            var n = weights.Positions;
            sum = ((1 + weights.Values()) * phases * n.select(2, 2)).sum(1).DetachFromDisposeScope();
            logAbs = (envelope.Values().sum(1) + sum.abs().log()).DetachFromDisposeScope();
        }

        public Tensor LogAbs => logAbs;

        public Tensor LogAbsChange(Tensor site, Tensor vector)
        {
            var z = weights.Positions.select(2, 2);
            var (_, _, envelopeChange) = envelope.Propose(site, vector);
            var (terms, w, wChange) = weights.Propose(site, vector);
            var zOld = z.gather(1, terms);
            // The touched terms start with the moved site itself (δ = 0).
            var zNew = cat(new[] { vector.narrow(1, 2, 1), zOld.narrow(1, 1, zOld.shape[1] - 1) }, 1);
            var phi = phases.index_select(0, site);
            var sumChange = (phi * ((1 + w + wChange) * zNew - (1 + w) * zOld)).sum(1);
            var newSum = sum + sumChange;
            var change = envelopeChange.sum(1) + newSum.abs().log() - sum.abs().log();
            pending = (change, newSum);
            return change;
        }

        public void Accept(Tensor accept)
        {
            var (change, newSum) = pending ?? throw new InvalidOperationException("no move was proposed");
            envelope.Accept(accept);
            weights.Accept(accept);
            logAbs.add_(where(accept, change, zeros_like(change)));
            sum.copy_(where(accept, newSum, sum));
            pending = null;
        }

        public void Dispose()
        {
            envelope.Dispose();
            weights.Dispose();
            phases.Dispose();
            logAbs.Dispose();
            sum.Dispose();
        }
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor x) => LogAbs(x);

    /// <inheritdoc/>
    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"{{\"kind\":\"isovector\",\"sites\":{Sites},\"momentum\":{Momentum},\"envelope\":{envelope.Describe()},\"weights\":{weights.Describe()}}}");

    private (IReadOnlyList<Tensor>? Envelope, IReadOnlyList<Tensor>? Weights) Split(IReadOnlyList<Tensor>? parameters)
    {
        if (parameters is null) return (null, null);
        int k = envelope.Ordered.Count;
        return (parameters.Take(k).ToList(), parameters.Skip(k).ToList());
    }
}
