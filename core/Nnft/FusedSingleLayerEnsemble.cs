using System.Numerics;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Nnft;

/// <summary>How <see cref="NetworkEnsemble"/> draws and evaluates its networks.</summary>
public enum EnsembleEngine
{
    /// <summary><see cref="Fused"/> where it covers the ensemble (a single-layer Gauss-, Exp- or ReLU-net on the CPU, without projection or deformation), <see cref="Tensor"/> otherwise.</summary>
    Auto,
    /// <summary>A managed vectorised kernel (<see cref="FusedSingleLayerEnsemble"/>): draw, evaluate and accumulate in one pass.</summary>
    Fused,
    /// <summary>Batched libtorch tensors (every architecture, every device).</summary>
    Tensor,
}

/// <summary>
/// The fused CPU route of <see cref="NetworkEnsemble"/> for single-layer networks: the parameters of 16 (float32) or 8
/// (float64) networks at a time are drawn as one vector each by <see cref="GaussianLanes"/>, so that one network is
/// one lane, and every network is evaluated at every point without storing its parameters: φ(x) = Σₙ W1ₙ h(W0ₙ·x + b0ₙ) + b1,
/// with the same scales and Gauss-net normalisation as <see cref="SingleLayerNetwork"/>. libtorch's normal_ costs
/// about three times the vectorised Box–Muller, and the tensor route writes every parameter and pre-activation to
/// memory; here they live in registers.
/// </summary>
/// <remarks>
/// The draws of a chunk are: per group of lanes, per hidden unit n, W0ₙ (d vectors), b0ₙ, W1ₙ; then b1; rounded up to
/// an even count of vectors (Box–Muller makes pairs). A chunk's stream depends on its seed alone, so a run is the same
/// however it is cut by checkpoints; it differs from the tensor route's stream (the checkpoint header names the route).
/// </remarks>
public sealed class FusedSingleLayerEnsemble
{
    private readonly SingleLayerNetwork network;
    private readonly double[][] inputs;
    private readonly bool single;
    private Array? normals, accumulators;   // per ensemble, reused by every chunk

    /// <summary>The kernel for <paramref name="network"/> at <paramref name="inputs"/>, evaluating in <paramref name="dtype"/>.</summary>
    public FusedSingleLayerEnsemble(SingleLayerNetwork network, IReadOnlyList<double[]> inputs, ScalarType dtype)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(inputs);
        if (Refusal(network, dtype) is { } why) throw new ArgumentException(why);
        if (inputs.Count < 1 || inputs.Any(x => x.Length != network.InputDimension))
            throw new ArgumentException($"inputs do not fit; give at least one point of dimension {network.InputDimension}");
        this.network = network;
        this.inputs = inputs.Select(x => (double[])x.Clone()).ToArray();
        single = dtype == ScalarType.Float32;
    }

    /// <summary>Why the kernel does not cover <paramref name="architecture"/> in <paramref name="dtype"/>; null when it does.</summary>
    public static string? Refusal(INetworkArchitecture architecture, ScalarType dtype) =>
        architecture is not SingleLayerNetwork net ? $"the fused engine covers single-layer networks only, not {architecture.Kind}"
        : net.Activation is NetworkActivation.Erf ? "the fused engine has no vectorised erf; use the tensor engine for erf-nets"
        : dtype is not (ScalarType.Float32 or ScalarType.Float64) ? $"the fused engine evaluates in float32 or float64, not {dtype}"
        : null;

    /// <summary>Normals drawn per network (the parameters of one network; the bound of <see cref="GaussianLanes"/> is its rate over this).</summary>
    public int NormalsPerNetwork => network.Width * (network.InputDimension + 2) + 1;

    /// <summary>
    /// Draws <paramref name="count"/> networks from the streams of <paramref name="chunkSeed"/> and writes φ of network
    /// m at point p to <paramref name="phi"/>[m·P + p] (float64, whatever the evaluation's precision).
    /// </summary>
    public void Evaluate(long chunkSeed, int count, Span<double> phi)
    {
        if (phi.Length < (long)count * inputs.Length) throw new ArgumentException($"{phi.Length} values cannot hold {count} networks at {inputs.Length} points");
        var lanes = new GaussianLanes(chunkSeed);
        if (single) Evaluate<float>(lanes, count, phi);
        else Evaluate<double>(lanes, count, phi);
    }

    /// <summary>
    /// φ [networks, P] of networks with the given standardised parameters <paramref name="z"/> [networks, ParameterCount]
    /// (layout of <see cref="SingleLayerNetwork.EvaluateStandardised"/>), in float64 by the fused kernel's arithmetic:
    /// what the tensor route computes from the same parameters, for checking the kernel.
    /// </summary>
    public static double[] EvaluateStandardised(SingleLayerNetwork network, ReadOnlySpan<double> z, IReadOnlyList<double[]> inputs)
    {
        var kernel = new FusedSingleLayerEnsemble(network, inputs, ScalarType.Float64);
        int parameters = network.ParameterCount, n = network.Width, d = network.InputDimension, lanes = Vector512<double>.Count;
        if (z.Length % parameters != 0) throw new ArgumentException($"{z.Length} parameters are not a whole number of networks of {parameters}");
        int count = z.Length / parameters;
        var phi = new double[count * inputs.Count];
        var draws = new Vector512<double>[kernel.NormalsPerNetwork];
        var lane = new double[lanes];
        for (int first = 0; first < count; first += lanes)
        {
            // The k-th draw of the stream order (per unit: W0ₙ, b0ₙ, W1ₙ; then b1) from z's layout (W0, b0, W1, b1).
            int k = 0;
            for (int unit = 0; unit < n; unit++)
            {
                for (int i = 0; i < d; i++) draws[k++] = Gather(z, first, count, parameters, unit * d + i, lane);
                draws[k++] = Gather(z, first, count, parameters, n * d + unit, lane);
                draws[k++] = Gather(z, first, count, parameters, n * d + n + unit, lane);
            }
            draws[k] = Gather(z, first, count, parameters, n * d + 2 * n, lane);
            kernel.EvaluateGroup<double>(draws, first, Math.Min(lanes, count - first), phi);
        }
        return phi;
    }

    /// <summary>Parameter <paramref name="index"/> of the networks from <paramref name="first"/> on, one a lane (0 past the last).</summary>
    private static Vector512<double> Gather(ReadOnlySpan<double> z, int first, int count, int parameters, int index, double[] lane)
    {
        for (int l = 0; l < lane.Length; l++) lane[l] = first + l < count ? z[(first + l) * parameters + index] : 0;
        return Vector512.Create(lane);
    }

    private void Evaluate<T>(GaussianLanes lanes, int count, Span<double> phi) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int width = Vector512<T>.Count;
        int draws = (NormalsPerNetwork + 1) / 2 * 2;
        if (normals is not Vector512<T>[] z || z.Length != draws) normals = z = new Vector512<T>[draws];
        for (int first = 0; first < count; first += width)
        {
            Fill(lanes, z);
            EvaluateGroup<T>(z, first, Math.Min(width, count - first), phi);
        }
    }

    private static void Fill<T>(GaussianLanes lanes, Vector512<T>[] z) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) lanes.Fill(System.Runtime.InteropServices.MemoryMarshal.Cast<Vector512<T>, Vector512<float>>(z.AsSpan()));
        else lanes.Fill(System.Runtime.InteropServices.MemoryMarshal.Cast<Vector512<T>, Vector512<double>>(z.AsSpan()));
    }

    /// <summary>Evaluates one group of lanes from its draws <paramref name="z"/> and writes its <paramref name="rows"/> networks from row <paramref name="first"/>.</summary>
    private void EvaluateGroup<T>(ReadOnlySpan<Vector512<T>> z, int first, int rows, Span<double> phi) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (network.Activation == NetworkActivation.Relu) EvaluateGroup<T, Relu>(z, first, rows, phi);
        else EvaluateGroup<T, Exponential>(z, first, rows, phi);
    }

    private void EvaluateGroup<T, TActivation>(ReadOnlySpan<Vector512<T>> z, int first, int rows, Span<double> phi)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TActivation : struct, IActivation
    {
        int n = network.Width, d = network.InputDimension, points = inputs.Length;
        if (accumulators is not Vector512<T>[] acc || acc.Length != points * (d + 2)) accumulators = acc = new Vector512<T>[points * (d + 2)];
        // Layout of acc: [0, P) the sums over units, [P, P + P·d) the inputs as vectors, [P(d+1), P(d+2)) the shifts.
        var sum = acc.AsSpan(0, points);
        var x = acc.AsSpan(points, points * d);
        var shift = acc.AsSpan(points * (d + 1), points);
        double w2 = network.SigmaW * network.SigmaW, b2 = network.SigmaB * network.SigmaB;
        for (int p = 0; p < points; p++)
        {
            double square = 0;
            for (int i = 0; i < d; i++)
            {
                x[p * d + i] = Vector512.Create(T.CreateTruncating(inputs[p][i]));
                square += inputs[p][i] * inputs[p][i];
            }
            // Gauss-net: e^{z − (σ_b² + σ_W²|x|²/d)}, the normalisation in the exponent as in the tensor route.
            shift[p] = Vector512.Create(network.Activation == NetworkActivation.Gauss ? T.CreateTruncating(square * (w2 / d) + b2) : T.Zero);
            sum[p] = Vector512<T>.Zero;
        }
        var scaleW0 = Vector512.Create(T.CreateTruncating(network.SigmaW / Math.Sqrt(d)));
        var scaleB = Vector512.Create(T.CreateTruncating(network.SigmaB));
        var scaleW1 = Vector512.Create(T.CreateTruncating(network.SigmaW / Math.Sqrt(n)));
        Span<Vector512<T>> w0 = d <= 16 ? stackalloc Vector512<T>[d] : new Vector512<T>[d];
        int k = 0;
        for (int unit = 0; unit < n; unit++)
        {
            for (int i = 0; i < d; i++) w0[i] = z[k++] * scaleW0;
            var b0 = z[k++] * scaleB;
            var w1 = z[k++] * scaleW1;
            for (int p = 0; p < points; p++)
            {
                var pre = w0[0] * x[p * d];
                for (int i = 1; i < d; i++) pre += w0[i] * x[p * d + i];
                sum[p] += w1 * TActivation.Apply(pre + b0 - shift[p]);
            }
        }
        var b1 = z[k] * scaleB;
        // Each sum stored once and read back as scalars: GetElement with a variable lane stores the vector every time.
        Span<T> lane = stackalloc T[Vector512<T>.Count];
        for (int p = 0; p < points; p++)
        {
            (sum[p] + b1).CopyTo(lane);
            for (int l = 0; l < rows; l++) phi[(first + l) * points + p] = double.CreateTruncating(lane[l]);
        }
    }

    private interface IActivation
    {
        static abstract Vector512<T> Apply<T>(Vector512<T> pre) where T : unmanaged, IFloatingPointIeee754<T>;
    }

    /// <summary>e^z (Exp-net, and Gauss-net with its shift), by <see cref="VectorExp"/>.</summary>
    private readonly struct Exponential : IActivation
    {
        public static Vector512<T> Apply<T>(Vector512<T> pre) where T : unmanaged, IFloatingPointIeee754<T> =>
            typeof(T) == typeof(float) ? VectorExp.Exp(pre.AsSingle()).As<float, T>() : VectorExp.Exp(pre.AsDouble()).As<double, T>();
    }

    /// <summary>max(0, z).</summary>
    private readonly struct Relu : IActivation
    {
        public static Vector512<T> Apply<T>(Vector512<T> pre) where T : unmanaged, IFloatingPointIeee754<T> => Vector512.Max(pre, Vector512<T>.Zero);
    }
}
