using TorchSharp;
using static TorchSharp.torch;
using Hybrid.Sampling;

namespace Hybrid.Vmc;

/// <summary>
/// The Born density |ψ(x)|² of a wavefunction as a sampling target: S(x) = −2 ln|ψ(x)|, so that any
/// <see cref="IAction"/> sampler (Metropolis with a proposal, HMC) draws configurations for variational Monte Carlo.
/// For an <see cref="ILocalUpdateWavefunction"/> it evaluates single-site moves locally: ΔS = −2 Δ ln|ψ|.
/// </summary>
public sealed class BornDensity : ILocalAction
{
    private readonly IWavefunction wavefunction;

    /// <summary>The density of <paramref name="wavefunction"/>.</summary>
    public BornDensity(IWavefunction wavefunction) => this.wavefunction = wavefunction ?? throw new ArgumentNullException(nameof(wavefunction));

    /// <inheritdoc/>
    public IReadOnlyList<long> ConfigurationShape => wavefunction.ConfigurationShape;

    /// <inheritdoc/>
    public Tensor Action(Tensor x)
    {
        using var _ = no_grad();
        return wavefunction.LogAbs(x).mul(-2);
    }

    /// <inheritdoc/>
    public Tensor Gradient(Tensor x)
    {
        using var scope = NewDisposeScope();
        using var _ = enable_grad();
        var leaf = x.detach().clone().requires_grad_(true);
        var g = autograd.grad(new[] { wavefunction.LogAbs(leaf).sum().mul(-2) }, new[] { leaf })[0];
        return g.detach().MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public bool SupportsLocalMoves => wavefunction is ILocalUpdateWavefunction { SupportsLocalUpdates: true };

    /// <inheritdoc/>
    public ISiteMoveCache CreateSiteCache(Tensor x)
    {
        if (wavefunction is not ILocalUpdateWavefunction { SupportsLocalUpdates: true } local)
            throw new InvalidOperationException($"the wavefunction {wavefunction.Describe()} has no local updates");
        return new BornSiteCache(local.CreateSiteCache(x));
    }

    private sealed class BornSiteCache(ISiteUpdateCache inner) : ISiteMoveCache
    {
        public Tensor ActionChange(Tensor site, Tensor vector) => inner.LogAbsChange(site, vector).mul(-2);
        public void Accept(Tensor accept) => inner.Accept(accept);
        public void Dispose() => inner.Dispose();
    }

    /// <inheritdoc/>
    public string Describe() => $"{{\"kind\":\"born-density\",\"wavefunction\":{wavefunction.Describe()}}}";
}
