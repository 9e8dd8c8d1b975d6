using System.Globalization;
using Hybrid.Vmc;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Hybrid.O3;

/// <summary>
/// A variational ground state of the rotor chain: ln ψ = Σ_i f(x_i) with one <see cref="InvariantNetwork"/> f shared
/// by all sites, x_i the site's pair invariants (by default n_i·n_{i+1}, …, n_i·n_{i+R}, R = ⌊L/2⌋; or the Gram matrix of a
/// window of sites). It is O(3)-invariant (a function of invariants),
/// translation-invariant (shared weights on the periodic chain) and nodeless (ψ = e^{ln ψ} &gt; 0), as the singlet
/// ground state is. Without hidden layers it is the two-body Jastrow wavefunction ln ψ = Σ_r v_r Σ_i n_i·n_{i+r}; with a
/// message range the network passes messages along the chain (see <see cref="InvariantNetwork"/>).
/// </summary>
public sealed class SingletWavefunction : nn.Module<Tensor, Tensor>, IRotorWavefunction, ILocalUpdateWavefunction
{
    private readonly InvariantNetwork network;

    /// <summary>A singlet wavefunction of a chain of <paramref name="sites"/> with hidden layers <paramref name="hidden"/> (empty: Jastrow).</summary>
    /// <param name="sites">L ≥ 2.</param>
    /// <param name="hidden">Hidden widths of the per-site network (empty: the linear Jastrow form).</param>
    /// <param name="seed">Seeds the initial weights.</param>
    /// <param name="features">The invariants each site reads (default: its star out to ⌊L/2⌋).</param>
    /// <param name="messageRange">R &gt; 0 makes the network pass messages between sites i − R … i + R after its first layer.</param>
    public SingletWavefunction(int sites, IReadOnlyList<int> hidden, long seed, PairFeatures? features = null, int messageRange = 0) : base(nameof(SingletWavefunction))
    {
        RotorChain.CheckSites(sites);
        Sites = sites;
        features ??= RotorChain.StarFeatures(sites);
        features.CheckFits(sites);
        network = new InvariantNetwork(features, hidden, seed, messageRange: messageRange);
        RegisterComponents();
    }

    /// <inheritdoc/>
    public int Sites { get; }

    /// <summary>The per-site network.</summary>
    public InvariantNetwork Network => network;

    /// <summary>How the network's first layer places gradients into slots (see <see cref="InvariantNetwork.SlotRoute"/>).</summary>
    public SlotRoute SlotRoute
    {
        get => network.SlotRoute;
        set => network.SlotRoute = value;
    }

    /// <inheritdoc/>
    public IReadOnlyList<long> ConfigurationShape => new long[] { Sites, 3 };

    /// <inheritdoc/>
    public IReadOnlyList<Parameter> Parameters => network.Ordered;

    /// <inheritdoc/>
    public Tensor LogAbs(Tensor x, IReadOnlyList<Tensor>? weights = null)
    {
        RotorChain.CheckConfigurations(x, Sites);
        return network.SiteValues(RotorChain.Invariants(x, network.Features), weights).sum(1);
    }

    /// <inheritdoc/>
    public WavefunctionDerivatives Derivatives(Tensor n)
    {
        RotorChain.CheckConfigurations(n, Sites);
        if (network.FusedDerivatives(n) is { } fused) return fused;
        var jet = network.SiteJets(n);
        return new WavefunctionDerivatives(jet.Value.sum(1), jet.SumGradient(), jet.Laplacian.sum(1));
    }

    /// <inheritdoc/>
    public bool SupportsLocalUpdates => network.MessageRange == 0;

    /// <inheritdoc/>
    public ISiteUpdateCache CreateSiteCache(Tensor x)
    {
        RotorChain.CheckConfigurations(x, Sites);
        return new SiteCache(network.CreateSiteCache(x));
    }

    /// <summary>ln ψ = Σ_i f_i: a move changes it by the change of the site terms it touches.</summary>
    private sealed class SiteCache : ISiteUpdateCache
    {
        private readonly SiteTermCache terms;
        private Tensor logAbs;
        private Tensor? change;

        public SiteCache(SiteTermCache terms)
        {
            this.terms = terms;
            using var scope = NewDisposeScope();
            logAbs = terms.Values().sum(1).DetachFromDisposeScope();
        }

        public Tensor LogAbs => logAbs;

        public Tensor LogAbsChange(Tensor site, Tensor vector)
        {
            var (_, _, c) = terms.Propose(site, vector);
            change = c.sum(1);
            return change;
        }

        public void Accept(Tensor accept)
        {
            var c = change ?? throw new InvalidOperationException("no move was proposed");
            terms.Accept(accept);
            logAbs.add_(where(accept, c, zeros_like(c)));
            change = null;
        }

        public void Dispose()
        {
            terms.Dispose();
            logAbs.Dispose();
        }
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor x) => LogAbs(x);

    /// <inheritdoc/>
    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"{{\"kind\":\"singlet\",\"sites\":{Sites},\"network\":{network.Describe()}}}");
}
