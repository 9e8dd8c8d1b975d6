using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Nnft;

/// <summary>
/// A fully connected network of several hidden layers of widths N₁ … N_L: h¹ = act(W⁰x + b⁰),
/// hˡ⁺¹ = act(Wˡhˡ + bˡ), φ = W^L·h^L + b^L, with Wˡ ~ N(0, σ_W²/fan-in) (d for the first layer, Nˡ after) and
/// b ~ N(0, σ_b²). At infinite width every layer is a Gaussian process whose kernel follows the layer-to-layer
/// recursion; at finite width the deviations grow with depth.
/// </summary>
public sealed class DeepNetwork : INetworkArchitecture
{
    private readonly int[] widths;

    /// <summary>A network, checked; Gauss-net normalisation applies only to one hidden layer, so erf, relu and exp are allowed.</summary>
    public DeepNetwork(NetworkActivation activation, int inputDimension, IReadOnlyList<int> widths, double sigmaW, double sigmaB)
    {
        ArgumentNullException.ThrowIfNull(widths);
        if (activation == NetworkActivation.Gauss)
            throw new ArgumentException("activation gauss is not allowed for deep networks (its normalisation is defined for one hidden layer); use erf, relu or exp");
        NetworkChecks.Count("input dimension", inputDimension, 1024);
        NetworkChecks.Count("depth", widths.Count, 64);
        foreach (var w in widths) NetworkChecks.Count("width", w, 100_000);
        NetworkChecks.NonNegative("σ_W", sigmaW);
        NetworkChecks.NonNegative("σ_b", sigmaB);
        Activation = activation;
        InputDimension = inputDimension;
        this.widths = widths.ToArray();
        SigmaW = sigmaW;
        SigmaB = sigmaB;
    }

    /// <summary>The non-linearity of every hidden layer.</summary>
    public NetworkActivation Activation { get; }

    /// <inheritdoc/>
    public int InputDimension { get; }

    /// <summary>The hidden layers' widths, first to last.</summary>
    public IReadOnlyList<int> Widths => widths;

    /// <inheritdoc/>
    public int Width => widths[^1];

    /// <summary>σ_W.</summary>
    public double SigmaW { get; }

    /// <summary>σ_b.</summary>
    public double SigmaB { get; }

    /// <inheritdoc/>
    public string Kind => "deep-" + Activation.ToString().ToLowerInvariant();

    /// <inheritdoc/>
    public string Describe() => JsonSerializer.Serialize(new { kind = Kind, d = InputDimension, widths, sigma_w = SigmaW, sigma_b = SigmaB });

    /// <inheritdoc/>
    public long WorkingSetPerNetwork(int points)
    {
        long total = (long)widths[0] * (InputDimension + 2L * points);
        for (int l = 1; l < widths.Length; l++) total += (long)widths[l] * (widths[l - 1] + 2L * points);
        return total + widths[^1];
    }

    /// <inheritdoc/>
    public Tensor Evaluate(long count, Tensor inputs, Generator generator)
    {
        NetworkChecks.Inputs(this, inputs);
        using var scope = NewDisposeScope();
        var (dtype, device) = (inputs.dtype, inputs.device);
        Tensor h = inputs.t().unsqueeze(0).expand(count, -1, -1);        // [count, fan-in, P]
        long fanIn = InputDimension;
        foreach (long n in widths)
        {
            var w = randn(new[] { count, n, fanIn }, dtype: dtype, device: device, generator: generator).mul_(SigmaW / Math.Sqrt(fanIn));
            var b = randn(new[] { count, n, 1L }, dtype: dtype, device: device, generator: generator).mul_(SigmaB);
            var pre = matmul(w, h).add_(b);
            h = Activation switch
            {
                NetworkActivation.Erf => pre.erf_(),
                NetworkActivation.Relu => pre.relu_(),
                NetworkActivation.Exp => pre.exp_(),
                _ => throw new ArgumentException($"activation {Activation} is not allowed here"),
            };
            fanIn = n;
        }
        var wOut = randn(new[] { count, 1L, fanIn }, dtype: dtype, device: device, generator: generator).mul_(SigmaW / Math.Sqrt(fanIn));
        var bOut = randn(new[] { count, 1L }, dtype: dtype, device: device, generator: generator).mul_(SigmaB);
        return matmul(wOut, h).squeeze(1).add_(bOut).MoveToOuterDisposeScope();
    }
}
