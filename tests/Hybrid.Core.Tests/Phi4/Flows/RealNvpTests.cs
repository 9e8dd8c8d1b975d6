using Hybrid.Phi4.Flows;
using Hybrid.Lattice;
using Hybrid.Phi4;
using Hybrid.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Core.Tests.Phi4.Flows;

public class RealNvpTests
{
    private static FlowComposition Flow(int l = 4) =>
        (FlowComposition)new RealNvpDefinition { Couplings = 4, HiddenChannels = new[] { 4, 4 } }.Build(new SquareLattice(l), seed: 3).to(ScalarType.Float64);

    [Fact]
    public void InverseUndoesForwardAndLogJacobiansCancel()
    {
        var flow = Flow();
        using var scope = NewDisposeScope();
        var z = FlowChecks.RandomFields(5, 4, 1);
        var (phi, logJ) = flow.forward(z);
        var (back, logJInverse) = flow.Inverse(phi);
        Assert.True((back - z).abs().max().item<double>() < 1e-12);
        Assert.True((logJ + logJInverse).abs().max().item<double>() < 1e-12);
        Assert.True((phi - z).abs().max().item<double>() > 1e-3, "an untrained realNVP is not the identity");
    }

    /// <summary>
    /// The float32 kernels of a tutorial-size coupling stack: forward and backward on fixed inputs, repeated, must give
    /// the same bits every time, finite values, and the float64 result within float32 rounding. A kernel that reads
    /// memory it never wrote (the float32 realNVP NaNs of issue 7, seen on AMD EPYC hosts with oneDNN convolutions)
    /// fails the first or second check.
    /// </summary>
    [Fact]
    public void Float32CouplingsAreReproducibleBitForBitAndMatchFloat64()
    {
        var lattice = new SquareLattice(8);
        var definition = new RealNvpDefinition { Couplings = 4 };   // the tutorial's channels [8, 8] and kernel 3
        using var scope = NewDisposeScope();
        var z = FlowChecks.RandomFields(64, 8, 7);

        (float[] Phi, float[] LogJ, float[] Grads) Pass(LatticeFlow flow, ScalarType dtype)
        {
            using var inner = NewDisposeScope();
            flow.zero_grad();
            var (phi, logJ) = flow.forward(z.to(dtype));
            (phi.square().mean() + logJ.mean()).backward();
            var grads = cat(flow.parameters().Select(p => p.grad!.reshape(-1)).ToArray());
            float[] Floats(Tensor t) => t.detach().to(ScalarType.Float32).data<float>().ToArray();
            return (Floats(phi), Floats(logJ), Floats(grads));
        }

        var flow32 = definition.Build(lattice, seed: 5);
        var reference = Pass(flow32, ScalarType.Float32);
        Assert.All(reference.Grads, g => Assert.True(float.IsFinite(g), "finite gradients"));
        for (int repeat = 0; repeat < 100; repeat++)
        {
            var again = Pass(flow32, ScalarType.Float32);
            Assert.True(reference.Phi.SequenceEqual(again.Phi) && reference.LogJ.SequenceEqual(again.LogJ) && reference.Grads.SequenceEqual(again.Grads),
                $"pass {repeat + 2} differs from the first in some bit");
        }

        // The same parameters in float64, copied rather than rebuilt, so that the comparison is of arithmetic alone.
        var flow64 = definition.Build(lattice, seed: 5);
        flow64.to(ScalarType.Float64);
        using (no_grad())
            foreach (var (p64, p32) in flow64.parameters().Zip(flow32.parameters()))
                p64.copy_(p32);
        var exact = Pass(flow64, ScalarType.Float64);
        double Deviation(float[] a, float[] b) => a.Zip(b, (x, y) => Math.Abs(x - y) / (1 + Math.Abs(y))).Max();
        Assert.True(Deviation(reference.Phi, exact.Phi) < 1e-5, "φ agrees with float64");
        Assert.True(Deviation(reference.LogJ, exact.LogJ) < 1e-4, "log J agrees with float64");
        Assert.True(Deviation(reference.Grads, exact.Grads) < 1e-3, "gradients agree with float64");
    }

    [Fact]
    public void AFlowIsAFunctionOfItsSeedAlone()
    {
        // Build draws from the flow's own generator (not libtorch's global one, which other code, or a test running
        // in parallel, may reseed or draw from at any time): one seed gives one flow, another seed another.
        var lattice = new SquareLattice(8);
        using var a = new RealNvpDefinition().Build(lattice, seed: 11);
        torch.random.manual_seed(12345);   // the global generator's state must not matter
        using var b = new RealNvpDefinition().Build(lattice, seed: 11);
        using var c = new RealNvpDefinition().Build(lattice, seed: 12);
        var pa = a.parameters().ToList();
        Assert.All(pa.Zip(b.parameters()), pair => Assert.True(pair.First.eq(pair.Second).all().item<bool>(), "same seed, same parameters"));
        Assert.Contains(pa.Zip(c.parameters()), pair => !pair.First.eq(pair.Second).all().item<bool>());
    }

    [Fact]
    public void LogJacobianEqualsBruteForceDeterminant()
    {
        var flow = Flow();
        using var scope = NewDisposeScope();
        var z = FlowChecks.RandomFields(2, 4, 2);
        var (_, logJ) = flow.forward(z);
        for (int b = 0; b < 2; b++)
            Assert.Equal(FlowChecks.BruteForceLogJacobian(flow, z[b..(b + 1)]), logJ[b].item<double>(), 10);
    }

    [Fact]
    public void CouplingLeavesItsFrozenParityUnchanged()
    {
        var coupling = new AffineCoupling(new SquareLattice(4), 0, new RealNvpDefinition()).to(ScalarType.Float64);
        using var scope = NewDisposeScope();
        var z = FlowChecks.RandomFields(1, 4, 3);
        var (phi, _) = ((AffineCoupling)coupling).forward(z);
        for (int t = 0; t < 4; t++)
            for (int x = 0; x < 4; x++)
                if ((t + x) % 2 == 0) Assert.Equal(z[0, t, x].item<double>(), phi[0, t, x].item<double>());
    }

    [Fact]
    public void OddLatticeIsRefused() =>
        Assert.Contains("even", Assert.Throws<ArgumentException>(() => new RealNvpDefinition().Build(new SquareLattice(5), 1)).Message);

    [Fact]
    public void DensityOfASampleMatchesTheSamplingDensity()
    {
        var lattice = new SquareLattice(4);
        var model = new FlowDistribution(Flow(), lattice);
        using var scope = NewDisposeScope();
        using var g = new Generator(9);
        var (phi, logQ) = model.Sample(6, g, ScalarType.Float64, CPU);
        Assert.True((model.LogDensity(phi) - logQ).abs().max().item<double>() < 1e-10);
    }
}
