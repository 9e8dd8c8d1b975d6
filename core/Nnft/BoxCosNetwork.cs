using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Nnft;

/// <summary>
/// The cos-net free scalar on a periodic interval of length L: φ(x) = √(2/N) Σᵢ aᵢ cos(pᵢx + cᵢ) with the frequencies
/// drawn from the box momenta p_k = 2πk/L, |k| ≤ K, with probability ∝ 1/(p_k² + m²), and σ_a² = (1/L) Σ_k 1/(p_k² + m²).
/// Then G₂(x, y) = (1/L) Σ_k e^{ip_k(x−y)}/(p_k² + m²), the propagator on the circle with a mode cutoff, and every
/// network is periodic and band-limited, so its Fourier modes are exact from 2K + 1 or more grid values. In momentum
/// space one neuron carries one |p|: the single-neuron (vertex) part of the connected 4-point function lives only at
/// p₁ = p₂ = −p₃ = −p₄ and permutations.
/// </summary>
public sealed class BoxCosNetwork : INetworkArchitecture
{
    private readonly double[] cumulative;

    /// <summary>A network, checked.</summary>
    public BoxCosNetwork(int width, double mass, double box, int modes)
    {
        NetworkChecks.Count("width", width, 10_000_000);
        NetworkChecks.NonNegative("mass", mass, positive: true);
        NetworkChecks.NonNegative("box", box, positive: true);
        NetworkChecks.Count("modes", modes, 100_000);
        Width = width;
        Mass = mass;
        Box = box;
        Modes = modes;
        var weights = Enumerable.Range(-modes, 2 * modes + 1).Select(k => 1 / (Momentum(k) * Momentum(k) + mass * mass)).ToArray();
        ModeSum = weights.Sum();
        double running = 0;
        cumulative = weights.Select(w => running += w / ModeSum).ToArray();
        cumulative[^1] = 1;
    }

    /// <inheritdoc/>
    public int InputDimension => 1;

    /// <inheritdoc/>
    public int Width { get; }

    /// <summary>m.</summary>
    public double Mass { get; }

    /// <summary>L.</summary>
    public double Box { get; }

    /// <summary>K: modes |k| ≤ K.</summary>
    public int Modes { get; }

    /// <summary>Σ_{|k|≤K} 1/(p_k² + m²).</summary>
    public double ModeSum { get; }

    /// <summary>p_k = 2πk/L.</summary>
    public double Momentum(int k) => 2 * Math.PI * k / Box;

    /// <summary>P(p = p_k) of one neuron's frequency.</summary>
    public double ModeProbability(int k) => Math.Abs(k) > Modes ? 0 : 1 / ((Momentum(k) * Momentum(k) + Mass * Mass) * ModeSum);

    /// <summary>σ_a² = (1/L) Σ_k 1/(p_k² + m²).</summary>
    public double AmplitudeVariance => ModeSum / Box;

    /// <inheritdoc/>
    public string Kind => "cos-box";

    /// <inheritdoc/>
    public string Describe() => JsonSerializer.Serialize(new { kind = Kind, d = 1, width = Width, mass = Mass, box = Box, modes = Modes });

    /// <inheritdoc/>
    public long WorkingSetPerNetwork(int points) => (long)Width * (2L * points + 4);

    /// <inheritdoc/>
    public Tensor Evaluate(long count, Tensor inputs, Generator generator)
    {
        NetworkChecks.Inputs(this, inputs);
        using var scope = NewDisposeScope();
        var (dtype, device) = (inputs.dtype, inputs.device);
        long n = Width;
        var a = randn(new[] { count, 1L, n }, dtype: dtype, device: device, generator: generator).mul_(Math.Sqrt(AmplitudeVariance));
        var c = rand(new[] { count, n, 1L }, dtype: dtype, device: device, generator: generator).mul_(2 * Math.PI).sub_(Math.PI);
        var u = rand(new[] { count, n, 1L }, dtype: ScalarType.Float64, device: device, generator: generator);
        using var table = tensor(cumulative, dtype: ScalarType.Float64, device: device);
        var k = searchsorted(table, u.flatten()).reshape(count, n, 1).sub(Modes);            // k ∈ [−K, K]
        var p = k.to(dtype).mul(2 * Math.PI / Box);
        var phase = matmul(p, inputs.t()).add_(c);
        return matmul(a, phase.cos_()).squeeze(1).mul_(Math.Sqrt(2.0 / n)).MoveToOuterDisposeScope();
    }
}
