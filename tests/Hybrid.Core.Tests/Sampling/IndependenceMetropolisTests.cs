using Hybrid.Phi4.Flows;
using Hybrid.Lattice;
using Hybrid.Phi4;
using Hybrid.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Core.Tests.Sampling;

public class IndependenceMetropolisTests
{
    [Fact]
    public void EqualWeightsAcceptEverything()
    {
        var chain = IndependenceMetropolis.Run(new double[10], Enumerable.Repeat(0.999, 10).ToArray());
        Assert.Equal(Enumerable.Range(0, 10), chain.State);
        Assert.Equal(1.0, chain.AcceptanceRate);
    }

    [Fact]
    public void AcceptsWithTheWeightRatio()
    {
        // From a state of weight 1, a proposal of weight ½ is accepted iff u < ½; NaN is never accepted.
        var logW = new[] { 0.0, Math.Log(0.5), Math.Log(0.5), double.NaN, 5.0 };
        var chain = IndependenceMetropolis.Run(logW, new[] { 0.0, 0.6, 0.4, 0.0, 0.99 });
        Assert.Equal(new[] { 0, 0, 2, 2, 4 }, chain.State);
        Assert.Equal(new[] { true, false, true, false, true }, chain.Accepted);
    }

    [Fact]
    public void ChainSamplesTheTargetOfADiscreteToy()
    {
        // Proposals uniform on {0, 1}, target p = (0.2, 0.8): the chain's occupation converges to p.
        var rng = new Random(1);
        int n = 200000;
        var values = Enumerable.Range(0, n).Select(_ => rng.Next(2)).ToArray();
        var logW = values.Select(v => Math.Log(v == 0 ? 0.2 : 0.8)).ToArray();
        var uniforms = Enumerable.Range(0, n).Select(_ => rng.NextDouble()).ToArray();
        var chain = IndependenceMetropolis.Run(logW, uniforms);
        double p1 = chain.State.Average(i => (double)values[i]);
        Assert.Equal(0.8, p1, 0.005); // binomial error ≈ 0.001 with τ_int ≈ 1.5
    }
}
