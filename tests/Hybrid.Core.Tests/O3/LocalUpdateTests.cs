using Hybrid.O3;
using Hybrid.Sampling;
using Hybrid.Vmc;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Hybrid.Core.Tests.O3;

/// <summary>Local-update sampling: the cached ln|ψ| changes against full evaluations, and the two sampler routes against each other.</summary>
public class LocalUpdateTests
{
    private static void Randomise(nn.Module module, long seed, double scale = 0.3)
    {
        using var g = new Generator((ulong)seed);
        using var _ = no_grad();
        foreach (var p in module.parameters()) p.copy_(randn(p.shape, dtype: p.dtype, generator: g).mul(scale));
    }

    /// <summary>The ansätze with local updates: Jastrow, per-site MLPs on the star, the star with a window, the isovector at k = 0 and k = 1.</summary>
    public static TheoryData<string> Ansatze => new() { "jastrow-4", "mlp-8", "window-8", "isovector-4", "isovector-window-8-k1", "window-only-6" };

    private static ILocalUpdateWavefunction Build(string name)
    {
        ILocalUpdateWavefunction psi = name switch
        {
            "jastrow-4" => new SingletWavefunction(4, Array.Empty<int>(), 1),
            "mlp-8" => new SingletWavefunction(8, new[] { 5, 3 }, 2),
            "window-8" => new SingletWavefunction(8, new[] { 6 }, 3, PairFeatures.StarAndWindow(4, 3)),
            "isovector-4" => new IsovectorWavefunction(4, new[] { 4 }, 4),
            "isovector-window-8-k1" => new IsovectorWavefunction(8, new[] { 4, 3 }, 5, PairFeatures.StarAndWindow(4, 3), momentum: 1),
            "window-only-6" => new SingletWavefunction(6, new[] { 4 }, 6, PairFeatures.Window(3)),
            _ => throw new ArgumentException(name),
        };
        Randomise((nn.Module)psi, 11, 0.4);
        return psi;
    }

    [Theory]
    [MemberData(nameof(Ansatze))]
    public void CachedLogAbsFollowsFullEvaluationsOverManyMoves(string name)
    {
        // No refresh: 2000 moves of incremental updates still agree with a full evaluation to 1e-10.
        var psi = Build(name);
        int sites = (int)psi.ConfigurationShape[0];
        using var g = new Generator(3);
        var x = RotorChain.Uniform(16, sites, g);
        var proposal = new RandomRotationProposal(RotationMove.SingleSite, 1.5);
        using var cache = psi.CreateSiteCache(x);
        for (int t = 0; t < 2000; t++)
        {
            using var scope = NewDisposeScope();
            var (site, vector) = proposal.ProposeSite(x, g);
            var change = cache.LogAbsChange(site, vector);
            var moved = x.scatter(1, site.view(-1, 1, 1).expand(-1, 1, 3), vector.unsqueeze(1));
            if (t % 97 == 0)
            {
                var full = psi.LogAbs(moved) - psi.LogAbs(x);
                double d = (change - full).abs().max().item<double>();
                Assert.True(d < 1e-10, $"{name}: Δ ln|ψ| differs from the full difference by {d:E2} at move {t}");
            }
            var accept = rand(new long[] { x.shape[0] }, dtype: ScalarType.Float64, generator: g).lt(0.6);
            cache.Accept(accept);
            var next = where(accept.view(-1, 1, 1), moved, x).DetachFromDisposeScope();
            x.Dispose();
            x = next;
        }
        double drift = (cache.LogAbs - psi.LogAbs(x)).abs().max().item<double>();
        Assert.True(drift < 1e-10, $"{name}: cached ln|ψ| drifted by {drift:E2} from a full evaluation");
    }

    private static (MetropolisHastings Full, MetropolisHastings Local) Pair(ILocalUpdateWavefunction psi, int chains, long seed)
    {
        int sites = (int)psi.ConfigurationShape[0];
        using var start = new Generator(9);
        var initial = RotorChain.Uniform(chains, sites, start);
        var full = new MetropolisHastings(new BornDensity(psi), new RandomRotationProposal(RotationMove.SingleSite, 1.0), chains, seed, initial: initial);
        var local = new MetropolisHastings(new BornDensity(psi), new RandomRotationProposal(RotationMove.SingleSite, 1.0), chains, seed, initial: initial,
            evaluation: MoveEvaluation.Local);
        return (full, local);
    }

    [Theory]
    [MemberData(nameof(Ansatze))]
    public void LocalAndFullRoutesTakeIdenticalDecisions(string name)
    {
        var psi = Build(name);
        var (full, local) = Pair(psi, 12, 21);
        using var _f = full;
        using var _l = local;
        Assert.Equal(MoveEvaluation.Local, local.Evaluation);
        full.Thermalize(60, adaptScale: true);
        local.Thermalize(60, adaptScale: true);
        Assert.Equal(full.Proposal.Scale, local.Proposal.Scale);
        int accepted = 0;
        for (int t = 0; t < 300; t++)
        {
            var a = full.Step();
            var b = local.Step();
            Assert.Equal(a, b);
            accepted += a.Count(x => x);
        }
        Assert.InRange(accepted, 300 * 12 / 10, 300 * 12 - 1);   // the decisions are not trivial
        Assert.True(full.State.equal(local.State).all().item<bool>(), $"{name}: the chains' states differ");
    }

    [Fact]
    public void DrawsAgreeAcrossParameterUpdates()
    {
        // VariationalEnergy re-evaluates the chains before each draw, so a changed ψ is sampled afresh on both routes.
        var psi = (IsovectorWavefunction)Build("isovector-4");
        var (full, local) = Pair(psi, 8, 5);
        using var _f = full;
        using var _l = local;
        var hamiltonian = new RotorChainHamiltonian(4, 1.0);
        var a = new VariationalEnergy(psi, hamiltonian, full, 3, 4);
        var b = new VariationalEnergy(psi, hamiltonian, local, 3, 4);
        for (int round = 0; round < 3; round++)
        {
            var (xa, _) = a.Draw();
            var (xb, _) = b.Draw();
            Assert.True(xa.equal(xb).all().item<bool>(), $"draws differ in round {round}");
            Randomise(psi, 40 + round, 0.4);
        }
    }

    // The Jastrow pair against its exact ⟨n₀·n₁⟩ on both routes: RotorWavefunctionTests.MetropolisSamplesTheBornDensityOfAJastrowPair.

    [Fact]
    public void LocalRouteSamplesAThreeSiteNetworkAsIndependentSamplingDoes()
    {
        // ⟨n₀·n₁⟩ and ⟨(n₀·n₁)(n₁·n₂)⟩ under |ψ|² of an MLP on L = 3, against importance sampling from uniform vectors.
        var psi = new SingletWavefunction(3, new[] { 4 }, 8);
        Randomise(psi, 12, 0.8);
        static Tensor Moments(Tensor n)
        {
            var c01 = (n.select(1, 0) * n.select(1, 1)).sum(-1);
            var c12 = (n.select(1, 1) * n.select(1, 2)).sum(-1);
            return stack(new[] { c01, c01 * c12 }, 1);
        }
        // Importance sampling: self-normalised weights |ψ|², error by the delta method.
        var reference = new double[2];
        var referenceError = new double[2];
        using (var scope = NewDisposeScope())
        using (no_grad())
        {
            using var g = new Generator(77);
            var n = RotorChain.Uniform(400_000, 3, g);
            var logW = psi.LogAbs(n).mul(2);
            var w = (logW - logW.max()).exp();
            var m = Moments(n);
            double total = w.sum().item<double>();
            for (int k = 0; k < 2; k++)
            {
                var o = m.select(1, k);
                double mean = (w * o).sum().item<double>() / total;
                double var = (w.square() * (o - mean).square()).sum().item<double>() / (total * total);
                reference[k] = mean;
                referenceError[k] = Math.Sqrt(var);
            }
        }
        const int chains = 64;
        using var start = new Generator(2);
        using var sampler = new MetropolisHastings(new BornDensity(psi), new RandomRotationProposal(RotationMove.SingleSite, 1.0), chains, 13,
            initial: RotorChain.Uniform(chains, 3, start), evaluation: MoveEvaluation.Local);
        sampler.Thermalize(300, adaptScale: true);
        var series = new[] { new List<double[]>(), new List<double[]>() };
        for (int t = 0; t < 3000; t++)
        {
            sampler.Step();
            if (t % 6 != 0) continue;
            using var scope = NewDisposeScope();
            var m = Moments(sampler.State);
            for (int k = 0; k < 2; k++) series[k].Add(m.select(1, k).data<double>().ToArray());
        }
        for (int k = 0; k < 2; k++)
        {
            var (mean, error) = ChainStatistics.MeanOverChains(series[k]);
            double combined = Math.Sqrt(error * error + referenceError[k] * referenceError[k]);
            Assert.True(Math.Abs(mean - reference[k]) < 4 * combined, $"moment {k}: {mean} ± {error}, importance sampling {reference[k]} ± {referenceError[k]}");
        }
    }

    [Fact]
    public void LocalRouteResumesBitForBit()
    {
        var psi = Build("window-8");
        var (full, local) = Pair(psi, 10, 31);
        full.Dispose();
        using var _l = local;
        local.Thermalize(50, adaptScale: true);
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true)) local.Save(writer);
        var continued = new List<bool[]>();
        for (int t = 0; t < 70; t++) continued.Add(local.Step());
        var (other, resumed) = Pair(psi, 10, 999);
        other.Dispose();
        using var _r = resumed;
        buffer.Position = 0;
        using (var reader = new BinaryReader(buffer)) resumed.Load(reader);
        for (int t = 0; t < 70; t++) Assert.Equal(continued[t], resumed.Step());
        Assert.True(local.State.equal(resumed.State).all().item<bool>());
        Assert.Equal(local.Proposal.Scale, resumed.Proposal.Scale);
    }

    [Fact]
    public void LocalRouteIsRefusedWhereItCannotBeExact()
    {
        var messages = new SingletWavefunction(6, new[] { 3, 3 }, 1, messageRange: 1);
        Assert.False(messages.SupportsLocalUpdates);
        using var start = new Generator(1);
        var initial = RotorChain.Uniform(4, 6, start);
        var error = Assert.Throws<ArgumentException>(() => new MetropolisHastings(new BornDensity(messages), new RandomRotationProposal(RotationMove.SingleSite), 4, 1,
            initial: initial, evaluation: MoveEvaluation.Local));
        Assert.Contains("local move evaluation", error.Message);
        var mlp = new SingletWavefunction(6, new[] { 3 }, 1);
        Assert.Throws<ArgumentException>(() => new MetropolisHastings(new BornDensity(mlp), new RandomRotationProposal(RotationMove.AllSites), 4, 1,
            initial: initial, evaluation: MoveEvaluation.Local));
        Assert.True(MetropolisHastings.SupportsLocal(new BornDensity(mlp), new RandomRotationProposal(RotationMove.SingleSite)));
    }
}
