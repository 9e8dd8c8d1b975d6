using Hybrid.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Core.Tests.Sampling;

public class MetropolisHastingsTests
{
    /// <summary>A random walk with a drift δ: q(x′|x) = N(x′; x + δ, s²) is not symmetric, so the Hastings correction matters.</summary>
    private sealed class DriftingWalk(double scale, double drift, bool corrected = true) : IProposal
    {
        public double Scale { get; set; } = scale;
        public (Tensor Proposed, Tensor LogCorrection) Propose(Tensor x, Generator generator)
        {
            using var scope = NewDisposeScope();
            var proposed = x + randn(x.shape, dtype: x.dtype, generator: generator).mul_(Scale) + drift;
            // log q(x|x′) − log q(x′|x) = [(x′ − x − δ)² − (x − x′ − δ)²] / (2s²), summed over coordinates.
            var forward = (proposed - x - drift).square();
            var backward = (x - proposed - drift).square();
            var correction = corrected ? (forward - backward).sum(1).div_(2 * Scale * Scale) : zeros(x.shape[0], dtype: x.dtype);
            return (proposed.MoveToOuterDisposeScope(), correction.MoveToOuterDisposeScope());
        }
    }

    private static (double Mean, double Error, double RHat) MeanAction(MetropolisHastings sampler, IAction target, int steps)
    {
        var series = Enumerable.Range(0, sampler.Chains).Select(_ => new double[steps]).ToArray();
        for (int t = 0; t < steps; t++)
        {
            using var scope = NewDisposeScope();
            sampler.Step();
            var s = target.Action(sampler.State).data<double>().ToArray();
            for (int c = 0; c < sampler.Chains; c++) series[c][t] = s[c];
        }
        var e = Hybrid.Analysis.Statistics.Statistics.GammaMethod(series);
        return (e.Mean, e.Error, e.RHat);
    }

    [Fact]
    public void RandomWalkSamplesACorrelatedGaussianAndAdaptsItsStep()
    {
        using var scope = NewDisposeScope();
        var target = CorrelatedGaussian.Random(5, 23);
        using var sampler = new MetropolisHastings(target, new GaussianRandomWalk(3.0), chains: 64, seed: 4, targetAcceptance: 0.4);
        sampler.Thermalize(500, adaptScale: true);
        double adapted = sampler.Proposal.Scale;
        Assert.InRange(adapted, 0.2, 2.0);   // started far too large (3.0)
        int accepted = 0;
        for (int t = 0; t < 200; t++) accepted += sampler.Step().Count(a => a);
        Assert.Equal(adapted, sampler.Proposal.Scale);   // frozen after thermalisation
        Assert.InRange(accepted / (200.0 * 64), 0.3, 0.5);
        var (mean, error, rHat) = MeanAction(sampler, target, 3000);
        Assert.True(Math.Abs(mean - 2.5) < 4 * error, $"⟨S⟩ = {mean} ± {error}, exact d/2 = 2.5");
        Assert.InRange(rHat, 0.95, 1.05);
    }

    [Fact]
    public void TheHastingsCorrectionMakesAnAsymmetricProposalExact()
    {
        // The drift pushes every move the same way; only the correction restores detailed balance.
        using var scope = NewDisposeScope();
        var target = new CorrelatedGaussian(eye(2, dtype: ScalarType.Float64));
        using var sampler = new MetropolisHastings(target, new DriftingWalk(0.8, 0.3), chains: 64, seed: 5);
        sampler.Thermalize(300, adaptScale: false);
        var (mean, error, _) = MeanAction(sampler, target, 4000);
        Assert.True(Math.Abs(mean - 1.0) < 4 * error, $"⟨S⟩ = {mean} ± {error}, exact d/2 = 1");

        // The same moves without the correction sample the wrong distribution: the test can tell.
        using var uncorrected = new MetropolisHastings(target, new DriftingWalk(0.8, 0.3, corrected: false), chains: 64, seed: 5);
        uncorrected.Thermalize(300, adaptScale: false);
        var (biased, biasedError, _) = MeanAction(uncorrected, target, 4000);
        Assert.True(Math.Abs(biased - 1.0) > 8 * biasedError, $"uncorrected ⟨S⟩ = {biased} ± {biasedError} should be far from 1");
    }

    [Fact]
    public void BadSettingsAreRefused()
    {
        var target = new CorrelatedGaussian(eye(2, dtype: ScalarType.Float64));
        Assert.Throws<ArgumentException>(() => new MetropolisHastings(target, new GaussianRandomWalk(-1), 4, 1));
        Assert.Throws<ArgumentException>(() => new MetropolisHastings(target, new GaussianRandomWalk(), 4, 1, targetAcceptance: 0.99));
        Assert.Throws<ArgumentException>(() => new MetropolisHastings(target, new GaussianRandomWalk(), 0, 1));
    }
}
