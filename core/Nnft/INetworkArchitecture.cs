using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Nnft;

/// <summary>
/// A field theory given as an ensemble of random networks φ_θ(x), θ ~ P(θ): the architecture fixes how θ is drawn
/// and how φ_θ is evaluated. Many networks are drawn and evaluated at once, as batched tensor products, so that an
/// ensemble of 10⁸ networks is a loop over chunks.
/// </summary>
public interface INetworkArchitecture
{
    /// <summary>Short name, e.g. "gauss", "erf", "relu", "exp", "cos", "deep-relu".</summary>
    string Kind { get; }

    /// <summary>Dimension d of the inputs x.</summary>
    int InputDimension { get; }

    /// <summary>Width N of the (last) hidden layer.</summary>
    int Width { get; }

    /// <summary>The architecture and its parameter distribution as JSON (recorded with runs and checkpoints).</summary>
    string Describe();

    /// <summary>
    /// Draws <paramref name="count"/> independent networks with <paramref name="generator"/> and evaluates each at
    /// every input: <paramref name="inputs"/> [P, d] → φ [count, P], in the dtype and on the device of the inputs.
    /// </summary>
    Tensor Evaluate(long count, Tensor inputs, Generator generator);

    /// <summary>Floats one network needs while it is evaluated at <paramref name="points"/> inputs: sizes chunks.</summary>
    long WorkingSetPerNetwork(int points);
}

/// <summary>Checks shared by the architectures.</summary>
public static class NetworkChecks
{
    /// <summary>Throws an <see cref="ArgumentException"/> unless <paramref name="inputs"/> is [P, d] with P ≥ 1.</summary>
    public static void Inputs(INetworkArchitecture network, Tensor inputs)
    {
        if (inputs.dim() != 2 || inputs.shape[1] != network.InputDimension || inputs.shape[0] < 1)
            throw new ArgumentException($"inputs of shape [{string.Join(", ", inputs.shape)}] do not fit; expected [points, {network.InputDimension}]", nameof(inputs));
    }

    /// <summary>Throws unless <paramref name="value"/> is finite and ≥ 0 (or &gt; 0 when <paramref name="positive"/>).</summary>
    public static void NonNegative(string name, double value, bool positive = false)
    {
        if (!double.IsFinite(value) || value < 0 || (positive && value == 0))
            throw new ArgumentException(FormattableString.Invariant($"{name} {value} is not allowed; it must be a finite number {(positive ? "> 0" : "≥ 0")}"));
    }

    /// <summary>Throws unless 1 ≤ <paramref name="value"/> ≤ <paramref name="max"/>.</summary>
    public static void Count(string name, int value, int max)
    {
        if (value < 1 || value > max) throw new ArgumentException($"{name} {value} is not allowed; it must lie in 1..{max}");
    }
}
