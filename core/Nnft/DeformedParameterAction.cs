using System.Text.Json;
using Hybrid.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Nnft;

/// <summary>
/// The deformed parameter density of a Gaussian-parameter network as an action on standardised parameters z:
/// S(z) = ½|z|² + (λ/4!) Σ_q w_q φ_z(x_q)⁴, i.e. P(θ) e^{−(λ/4!)∫φ⁴} with the integral by quadrature. HMC on it
/// samples the interacting ensemble directly, at couplings where reweighting free networks no longer works
/// (the weights' ESS collapses). Configurations are [B, ParameterCount]: one network per chain.
/// </summary>
public sealed class DeformedParameterAction : IAction
{
    private readonly Tensor nodes, nodeWeights;

    /// <summary>The action of <paramref name="network"/> deformed by <paramref name="deformation"/>.</summary>
    public DeformedParameterAction(IGaussianParameterNetwork network, QuarticDeformation deformation, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(deformation);
        deformation.Validate(network.InputDimension);
        Network = network;
        Deformation = deformation;
        var dev = device ?? CPU;
        nodes = tensor(deformation.Nodes.SelectMany(x => x).ToArray(), new long[] { deformation.Nodes.Count, network.InputDimension }, dtype: ScalarType.Float64, device: dev);
        nodeWeights = tensor(deformation.NodeWeights.ToArray(), dtype: ScalarType.Float64, device: dev);
    }

    /// <summary>The network.</summary>
    public IGaussianParameterNetwork Network { get; }

    /// <summary>λ and the quadrature.</summary>
    public QuarticDeformation Deformation { get; }

    /// <inheritdoc/>
    public IReadOnlyList<long> ConfigurationShape => new long[] { Network.ParameterCount };

    /// <inheritdoc/>
    public string Describe() => JsonSerializer.Serialize(new { kind = "deformed-network-parameters", network = JsonDocument.Parse(Network.Describe()).RootElement, lambda = Deformation.Coupling, quadrature_nodes = Deformation.Nodes.Count });

    /// <inheritdoc/>
    public Tensor Action(Tensor z)
    {
        ActionShapes.Check(this, z);
        using var scope = NewDisposeScope();
        var phi = Network.EvaluateStandardised(z, nodes.to(z.dtype));
        var interaction = phi.square().square().matmul(nodeWeights.to(z.dtype)).mul(Deformation.Coupling / 24.0);
        return z.square().sum(new long[] { 1 }).mul(0.5).add(interaction).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public Tensor Gradient(Tensor z)
    {
        ActionShapes.Check(this, z);
        using var scope = NewDisposeScope();
        using var enabled = enable_grad();
        var x = z.detach().requires_grad_(true);
        Action(x).sum().backward();
        return x.grad!.detach().clone().MoveToOuterDisposeScope();
    }
}
