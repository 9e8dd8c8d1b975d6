using Hybrid.Lattice;
using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Phi4.Flows;

/// <summary>
/// The model density q(φ) of a flow over a standard-normal prior r(z) = Π_x N(z_x; 0, 1):
/// log q(φ) = log r(z) − log|det ∂φ/∂z| with φ = f(z).
/// </summary>
public sealed class FlowDistribution
{
    /// <summary>The distribution of <paramref name="flow"/> applied to standard-normal fields on <paramref name="lattice"/>.</summary>
    public FlowDistribution(LatticeFlow flow, SquareLattice lattice)
    {
        Flow = flow ?? throw new ArgumentNullException(nameof(flow));
        Lattice = lattice ?? throw new ArgumentNullException(nameof(lattice));
    }

    /// <summary>The flow.</summary>
    public LatticeFlow Flow { get; }

    /// <summary>The lattice.</summary>
    public SquareLattice Lattice { get; }

    /// <summary>log r(z) of the standard-normal prior, per configuration.</summary>
    public static Tensor PriorLogDensity(Tensor z)
    {
        using var scope = NewDisposeScope();
        long volume = z.shape[1] * z.shape[2];
        return (z.square().sum(new long[] { 1, 2 }).mul_(-0.5) - 0.5 * volume * Math.Log(2 * Math.PI)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Draws <paramref name="count"/> fields φ ~ q with their log q(φ). Differentiable in the flow's
    /// parameters (the reparameterisation gradient of reverse-KL training).
    /// </summary>
    public (Tensor Phi, Tensor LogQ) Sample(int count, Generator generator, ScalarType dtype, Device device)
    {
        using var scope = NewDisposeScope();
        var z = randn(new long[] { count, Lattice.Extent, Lattice.Extent }, dtype: dtype, device: device, generator: generator);
        var (phi, logJ) = Flow.forward(z);
        var logQ = PriorLogDensity(z) - logJ;
        return (phi.MoveToOuterDisposeScope(), logQ.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Draws <paramref name="count"/> fields from q without gradients, <paramref name="batchSize"/> at a time,
    /// hands each batch to <paramref name="onBatch"/> (e.g. to measure it) and returns the importance
    /// log-weights log w = −S − log q of all of them, in order. Memory stays that of one batch.
    /// </summary>
    public double[] Propose(ILatticeAction action, int count, int batchSize, Generator generator, ScalarType dtype, Device device, Action<Tensor> onBatch)
    {
        ArgumentNullException.ThrowIfNull(action);
        if (count < 1 || batchSize < 1) throw new ArgumentException($"count {count} and batch size {batchSize} must be ≥ 1");
        var logWeights = new double[count];
        using var noGrad = no_grad();
        for (int start = 0; start < count; start += batchSize)
        {
            using var scope = NewDisposeScope();
            int n = Math.Min(batchSize, count - start);
            var (phi, logQ) = Sample(n, generator, dtype, device);
            var logW = (action.Action(phi) + logQ).neg().to(ScalarType.Float64).cpu().data<double>().ToArray();
            Array.Copy(logW, 0, logWeights, start, n);
            onBatch(phi);
        }
        return logWeights;
    }

    /// <summary>log q(φ) of given fields, through the inverse flow.</summary>
    public Tensor LogDensity(Tensor phi)
    {
        using var scope = NewDisposeScope();
        var (z, logJ) = Flow.Inverse(phi);
        return (PriorLogDensity(z) + logJ).MoveToOuterDisposeScope();
    }
}
