using Hybrid.Training;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace Hybrid.Core.Tests.Training;

/// <summary>The trainer's Adam against TorchSharp's: the same update bit for bit, and the same checkpoint format.</summary>
public class AdamTests
{
    private static (Parameter, Parameter) Pair(long seed)
    {
        using var g = new Generator((ulong)seed);
        var start = randn(new long[] { 5, 3 }, dtype: ScalarType.Float64, generator: g);
        return (new Parameter(start.clone()), new Parameter(start.clone()));
    }

    private static void Descend(optim.Optimizer optimizer, Parameter p, Tensor target, int steps, double lr)
    {
        for (int i = 0; i < steps; i++)
        {
            using var scope = NewDisposeScope();
            foreach (var group in ((OptimizerHelper)optimizer).ParamGroups) group.LearningRate = lr * (1 + 0.1 * i);
            optimizer.zero_grad();
            // Explicit scalars: an implicit double → Scalar here would be as exposed to the collector thread as Adam's were.
            using var four = 4.0.ToScalar();
            var loss = (p - target).pow(four).sum() + p.sin().sum();
            loss.backward();
            optimizer.step();
        }
    }

    [Fact]
    public void UpdatesExactlyAsTorchSharpsAdam()
    {
        var (a, b) = Pair(5);
        using var target = linspace(-1, 1, 15, dtype: ScalarType.Float64).reshape(5, 3);
        using var ours = new Hybrid.Training.Adam(new[] { a }, 0.01, 0.8, 0.95);
        using var theirs = optim.Adam(new[] { b }, 0.01, 0.8, 0.95);
        Descend(ours, a, target, 40, 0.01);
        Descend(theirs, b, target, 40, 0.01);
        Assert.True(a.detach().eq(b.detach()).all().item<bool>(), "40 steps give identical parameters");
        // The state is TorchSharp's: a checkpoint of one loads into the other and continues identically.
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true)) ours.save_state_dict(writer);
        stream.Position = 0;
        var (c, _) = Pair(5);
        using (var copy = no_grad()) c.copy_(a);
        using var loaded = optim.Adam(new[] { c }, 0.01, 0.8, 0.95);
        using (var reader = new BinaryReader(stream)) loaded.load_state_dict(reader);
        Descend(ours, a, target, 5, 0.02);
        Descend(loaded, c, target, 5, 0.02);
        Assert.True(a.detach().eq(c.detach()).all().item<bool>(), "the saved state continues identically");
    }
}
