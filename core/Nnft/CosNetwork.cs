using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Nnft;

/// <summary>
/// A free scalar field of mass m as a network of random plane waves: φ(x) = √(2/N) Σᵢ aᵢ cos(bᵢ·x + cᵢ) with
/// a ~ N(0, σ_a²), c ~ U[−π, π] and b ∈ ℝᵈ isotropic with density ∝ 1/(|b|² + m²) on |b| &lt; Λ. Then
/// G₂(x, y) = σ_a² E cos(b·(x − y)), which with σ_a² = Z/(2π)ᵈ, Z = ∫_{|p|&lt;Λ} dᵈp/(p² + m²), is the free propagator
/// ∫_{|p|&lt;Λ} dᵈp/(2π)ᵈ e^{ip(x−y)}/(p² + m²). In d = 1 the cutoff may be dropped: b ~ Cauchy(0, m), σ_a² = 1/(2m),
/// G₂ = e^{−m|x−y|}/(2m). Every width gives the same G₂; the connected 4-point function is O(1/N).
/// </summary>
public sealed class CosNetwork : INetworkArchitecture
{
    /// <summary>A network, checked; <paramref name="cutoff"/> null (no cutoff) only in d = 1.</summary>
    public CosNetwork(int inputDimension, int width, double mass, double? cutoff)
    {
        if (inputDimension is < 1 or > 3) throw new ArgumentException($"input dimension {inputDimension} is not allowed for the cos-net; it must be 1, 2 or 3");
        NetworkChecks.Count("width", width, 10_000_000);
        NetworkChecks.NonNegative("mass", mass, positive: true);
        if (cutoff is { } c) NetworkChecks.NonNegative("cutoff", c, positive: true);
        else if (inputDimension != 1) throw new ArgumentException($"a cos-net in d = {inputDimension} needs a momentum cutoff (only d = 1 has a finite propagator without one)");
        InputDimension = inputDimension;
        Width = width;
        Mass = mass;
        Cutoff = cutoff;
    }

    /// <inheritdoc/>
    public int InputDimension { get; }

    /// <inheritdoc/>
    public int Width { get; }

    /// <summary>m.</summary>
    public double Mass { get; }

    /// <summary>Λ, or null for the d = 1 network without cutoff.</summary>
    public double? Cutoff { get; }

    /// <inheritdoc/>
    public string Kind => "cos";

    /// <inheritdoc/>
    public string Describe() => JsonSerializer.Serialize(new { kind = Kind, d = InputDimension, width = Width, mass = Mass, cutoff = Cutoff });

    /// <summary>Z = ∫_{|p|&lt;Λ} dᵈp/(p² + m²) (d = 1 without cutoff: π/m).</summary>
    public double MomentumIntegral
    {
        get
        {
            double m = Mass;
            if (Cutoff is not { } l) return Math.PI / m;
            return InputDimension switch
            {
                1 => 2 * Math.Atan(l / m) / m,
                2 => Math.PI * Math.Log(1 + l * l / (m * m)),
                _ => 4 * Math.PI * (l - m * Math.Atan(l / m)),
            };
        }
    }

    /// <summary>σ_a² = Z/(2π)ᵈ: the amplitude variance that makes G₂ the unit-normalised propagator.</summary>
    public double AmplitudeVariance => MomentumIntegral / Math.Pow(2 * Math.PI, InputDimension);

    /// <inheritdoc/>
    public long WorkingSetPerNetwork(int points) => (long)Width * (2L * InputDimension + 2L * points + 3);

    /// <summary>
    /// |b| as a function of a uniform u ∈ [0, 1): the inverse of the radial distribution ∝ r^{d−1}/(r² + m²) on [0, Λ]
    /// (d = 1 without cutoff: the half-Cauchy). d = 1, 2 in closed form; d = 3 by bisection of
    /// r − m·atan(r/m) = u·(Λ − m·atan(Λ/m)), which is monotone.
    /// </summary>
    public Tensor RadialQuantile(Tensor u)
    {
        double m = Mass;
        if (Cutoff is not { } l) return u.mul(Math.PI / 2).tan_().mul_(m);
        switch (InputDimension)
        {
            case 1: return u.mul(Math.Atan(l / m)).tan_().mul_(m);
            case 2: return u.mul(Math.Log(1 + l * l / (m * m))).exp_().sub_(1).clamp_min_(0).sqrt_().mul_(m);
            default:
            {
                using var scope = NewDisposeScope();
                var target = u.mul(l - m * Math.Atan(l / m));
                var lo = zeros_like(u);
                var hi = full_like(u, l);
                for (int i = 0; i < 64; i++)   // 64 halvings: below double resolution of Λ
                {
                    var mid = lo.add(hi).mul_(0.5);
                    var above = mid.sub(mid.div(m).atan_().mul_(m)).gt(target);
                    hi = where(above, mid, hi);
                    lo = where(above, lo, mid);
                }
                return lo.add(hi).mul_(0.5).MoveToOuterDisposeScope();
            }
        }
    }

    /// <inheritdoc/>
    public Tensor Evaluate(long count, Tensor inputs, Generator generator)
    {
        NetworkChecks.Inputs(this, inputs);
        using var scope = NewDisposeScope();
        var (dtype, device) = (inputs.dtype, inputs.device);
        long n = Width, d = InputDimension;
        var a = randn(new[] { count, 1L, n }, dtype: dtype, device: device, generator: generator).mul_(Math.Sqrt(AmplitudeVariance));
        var c = rand(new[] { count, n, 1L }, dtype: dtype, device: device, generator: generator).mul_(2 * Math.PI).sub_(Math.PI);
        var direction = randn(new[] { count, n, d }, dtype: dtype, device: device, generator: generator);
        // In d = 1 the direction is a sign; the radius is |b|. Quantiles in float64: tan and the bisection near u → 1.
        direction = direction.div(linalg.vector_norm(direction, 2, new long[] { -1 }, keepdim: true));
        var u = rand(new[] { count, n, 1L }, dtype: ScalarType.Float64, device: device, generator: generator);
        var b = direction.mul(RadialQuantile(u).to(dtype));
        var phase = matmul(b, inputs.t()).add_(c);                        // [count, N, P]
        return matmul(a, phase.cos_()).squeeze(1).mul_(Math.Sqrt(2.0 / n)).MoveToOuterDisposeScope();
    }
}
