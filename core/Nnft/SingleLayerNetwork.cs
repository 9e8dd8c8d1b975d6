using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Nnft;

/// <summary>The hidden units' non-linearity.</summary>
public enum NetworkActivation
{
    /// <summary>erf(z).</summary>
    Erf,
    /// <summary>max(0, z).</summary>
    Relu,
    /// <summary>e^{z} divided by its mean at the input, e^{σ_b² + σ_W²|x|²/d}, which makes the GP kernel translation invariant (Gauss-net).</summary>
    Gauss,
    /// <summary>e^{z} (Exp-net).</summary>
    Exp,
}

/// <summary>
/// One hidden layer of width N on inputs of dimension d (Halverson, Maiti, Stoner, arXiv:2008.08601):
/// φ(x) = Σₙ W1ₙ h(W0ₙ·x + b0ₙ) + b1 with W0 ~ N(0, σ_W²/d), b0, b1 ~ N(0, σ_b²), W1 ~ N(0, σ_W²/N). As N → ∞ the
/// ensemble is a Gaussian process; at finite N its connected 4-point function is O(1/N).
/// </summary>
public sealed class SingleLayerNetwork : IGaussianParameterNetwork
{
    /// <summary>A network, checked.</summary>
    public SingleLayerNetwork(NetworkActivation activation, int inputDimension, int width, double sigmaW, double sigmaB)
    {
        NetworkChecks.Count("input dimension", inputDimension, 1024);
        NetworkChecks.Count("width", width, 10_000_000);
        NetworkChecks.NonNegative("σ_W", sigmaW);
        NetworkChecks.NonNegative("σ_b", sigmaB);
        Activation = activation;
        InputDimension = inputDimension;
        Width = width;
        SigmaW = sigmaW;
        SigmaB = sigmaB;
    }

    /// <summary>The non-linearity.</summary>
    public NetworkActivation Activation { get; }

    /// <inheritdoc/>
    public int InputDimension { get; }

    /// <inheritdoc/>
    public int Width { get; }

    /// <summary>σ_W: the weights' scale.</summary>
    public double SigmaW { get; }

    /// <summary>σ_b: the biases' scale.</summary>
    public double SigmaB { get; }

    /// <inheritdoc/>
    public string Kind => Activation.ToString().ToLowerInvariant();

    /// <inheritdoc/>
    public string Describe() => JsonSerializer.Serialize(new { kind = Kind, d = InputDimension, width = Width, sigma_w = SigmaW, sigma_b = SigmaB });

    /// <inheritdoc/>
    public long WorkingSetPerNetwork(int points) => (long)Width * (InputDimension + 3L * points + 2);

    /// <inheritdoc/>
    public int ParameterCount => Width * (InputDimension + 2) + 1;

    /// <inheritdoc/>
    public Tensor EvaluateStandardised(Tensor z, Tensor inputs)
    {
        NetworkChecks.Inputs(this, inputs);
        if (z.dim() != 2 || z.shape[1] != ParameterCount)
            throw new ArgumentException($"parameters of shape [{string.Join(", ", z.shape)}] do not fit; expected [networks, {ParameterCount}]");
        long n = Width, d = InputDimension, count = z.shape[0];
        // z = (W0 row-major, b0, W1, b1), each standard normal; θ = scale · z.
        var w0 = z.narrow(1, 0, n * d).reshape(count, n, d).mul(SigmaW / Math.Sqrt(d));
        var b0 = z.narrow(1, n * d, n).unsqueeze(2).mul(SigmaB);
        var w1 = z.narrow(1, n * d + n, n).unsqueeze(1).mul(SigmaW / Math.Sqrt(n));
        var b1 = z.narrow(1, n * d + 2 * n, 1).mul(SigmaB);
        var pre = matmul(w0, inputs.t()).add(b0);
        var h = Activation switch
        {
            NetworkActivation.Erf => pre.erf(),
            NetworkActivation.Relu => pre.relu(),
            NetworkActivation.Exp => pre.exp(),
            NetworkActivation.Gauss => pre.sub(inputs.square().sum(1).mul(SigmaW * SigmaW / d).add(SigmaB * SigmaB)).exp(),
            _ => throw new ArgumentException($"activation {Activation} is not known"),
        };
        return matmul(w1, h).squeeze(1).add(b1);
    }

    /// <summary>
    /// Network i of a batch at its own inputs: standardised parameters <paramref name="z"/> [count, P] as in
    /// <see cref="EvaluateStandardised"/>, <paramref name="inputs"/> [count, points, d] → [count, points]. Deep NN-QM
    /// uses it to give every path its own network.
    /// </summary>
    public Tensor EvaluateEachStandardised(Tensor z, Tensor inputs)
    {
        if (z.dim() != 2 || z.shape[1] != ParameterCount)
            throw new ArgumentException($"parameters of shape [{string.Join(", ", z.shape)}] do not fit; expected [networks, {ParameterCount}]");
        if (inputs.dim() != 3 || inputs.shape[0] != z.shape[0] || inputs.shape[2] != InputDimension)
            throw new ArgumentException($"inputs of shape [{string.Join(", ", inputs.shape)}] do not fit; expected [{z.shape[0]}, points, {InputDimension}]");
        using var scope = NewDisposeScope();
        long n = Width, d = InputDimension, count = z.shape[0];
        var w0 = z.narrow(1, 0, n * d).reshape(count, n, d).mul(SigmaW / Math.Sqrt(d));
        var b0 = z.narrow(1, n * d, n).unsqueeze(2).mul(SigmaB);
        var w1 = z.narrow(1, n * d + n, n).unsqueeze(1).mul(SigmaW / Math.Sqrt(n));
        var b1 = z.narrow(1, n * d + 2 * n, 1).mul(SigmaB);
        var pre = matmul(w0, inputs.transpose(1, 2)).add(b0);              // [count, N, points]
        var h = Activation switch
        {
            NetworkActivation.Erf => pre.erf(),
            NetworkActivation.Relu => pre.relu(),
            NetworkActivation.Exp => pre.exp(),
            NetworkActivation.Gauss => pre.sub(inputs.square().sum(2).unsqueeze(1).mul(SigmaW * SigmaW / d).add(SigmaB * SigmaB)).exp(),
            _ => throw new ArgumentException($"activation {Activation} is not known"),
        };
        return matmul(w1, h).squeeze(1).add(b1).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public Tensor Evaluate(long count, Tensor inputs, Generator generator)
    {
        NetworkChecks.Inputs(this, inputs);
        using var scope = NewDisposeScope();
        var (dtype, device) = (inputs.dtype, inputs.device);
        long n = Width, d = InputDimension;
        // Scalars held here rather than made on the fly: a collection during the call would free a temporary one
        // under libtorch (docs/runtime.md, "Scalars and the garbage collector").
        using Scalar scaleW0 = SigmaW / Math.Sqrt(d), scaleB = SigmaB, scaleW1 = SigmaW / Math.Sqrt(n);
        using Scalar inputScale = SigmaW * SigmaW / d, biasVariance = SigmaB * SigmaB, one = 1.0;   // add's default α is a temporary too
        // Draw in a fixed order (W0, b0, W1, b1) so that a network is a function of the generator's state alone.
        var w0 = randn(new[] { count, n, d }, dtype: dtype, device: device, generator: generator).mul_(scaleW0);
        var b0 = randn(new[] { count, n, 1L }, dtype: dtype, device: device, generator: generator).mul_(scaleB);
        var w1 = randn(new[] { count, 1L, n }, dtype: dtype, device: device, generator: generator).mul_(scaleW1);
        var b1 = randn(new[] { count, 1L }, dtype: dtype, device: device, generator: generator).mul_(scaleB);
        var pre = matmul(w0, inputs.t()).add_(b0, one);                  // [count, N, P]
        var h = Activation switch
        {
            NetworkActivation.Erf => pre.erf_(),
            NetworkActivation.Relu => pre.relu_(),
            NetworkActivation.Exp => pre.exp_(),
            // e^{z − (σ_b² + σ_W²|x|²/d)}: the normalisation goes into the exponent, which keeps large |x| finite.
            NetworkActivation.Gauss => pre.sub_(inputs.square().sum(1).mul(inputScale).add(biasVariance, one)).exp_(),
            _ => throw new ArgumentException($"activation {Activation} is not known"),
        };
        var phi = matmul(w1, h).squeeze(1).add_(b1, one);                 // [count, P]
        return phi.MoveToOuterDisposeScope();
    }
}
