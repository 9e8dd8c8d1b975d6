using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Nnft;

/// <summary>How a cos-net's frequencies and amplitudes carry the propagator (all choices give the same G₂).</summary>
public enum CosFrequencies
{
    /// <summary>b with density ∝ 1/(b² + m²) on |b| &lt; Λ, amplitudes of one scale (Hybrid's default).</summary>
    PropagatorWeighted,
    /// <summary>b uniform in the ball |b| &lt; Λ, amplitudes ∝ 1/√(b² + m²) (Demirtas et al.'s construction).</summary>
    Uniform,
}

/// <summary>The amplitude of one neuron.</summary>
public enum CosAmplitudes
{
    /// <summary>a cos(b·x + c) with a Gaussian and c uniform: E a⁴ = 3 (E a²)².</summary>
    Gaussian,
    /// <summary>u cos(b·x) + v sin(b·x) with u, v Gaussian: a Rayleigh amplitude, E a⁴ = 2 (E a²)²; the field is Gaussian given the frequencies.</summary>
    GaussianPair,
}

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
    public CosNetwork(int inputDimension, int width, double mass, double? cutoff,
        CosFrequencies frequencies = CosFrequencies.PropagatorWeighted, CosAmplitudes amplitudes = CosAmplitudes.Gaussian)
    {
        if (frequencies == CosFrequencies.Uniform && cutoff is null)
            throw new ArgumentException("uniform frequencies need a momentum cutoff (the ball |b| < Λ)");
        Frequencies = frequencies;
        Amplitudes = amplitudes;
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

    /// <summary>How the frequencies are drawn.</summary>
    public CosFrequencies Frequencies { get; }

    /// <summary>The amplitudes' distribution.</summary>
    public CosAmplitudes Amplitudes { get; }

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
    public string Describe() => Frequencies == CosFrequencies.PropagatorWeighted && Amplitudes == CosAmplitudes.Gaussian
        ? JsonSerializer.Serialize(new { kind = Kind, d = InputDimension, width = Width, mass = Mass, cutoff = Cutoff })
        : JsonSerializer.Serialize(new { kind = Kind, d = InputDimension, width = Width, mass = Mass, cutoff = Cutoff,
            frequencies = Frequencies == CosFrequencies.Uniform ? "uniform" : "propagator", amplitudes = Amplitudes == CosAmplitudes.GaussianPair ? "pair" : "gaussian" });

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
        var a = randn(new[] { count, 1L, n }, dtype: dtype, device: device, generator: generator);
        var c = rand(new[] { count, n, 1L }, dtype: dtype, device: device, generator: generator).mul_(2 * Math.PI).sub_(Math.PI);
        var direction = randn(new[] { count, n, d }, dtype: dtype, device: device, generator: generator);
        // In d = 1 the direction is a sign; the radius is |b|. Quantiles in float64: tan and the bisection near u → 1.
        direction = direction.div(linalg.vector_norm(direction, 2, new long[] { -1 }, keepdim: true));
        var u = rand(new[] { count, n, 1L }, dtype: ScalarType.Float64, device: device, generator: generator);
        Tensor radius, scale;
        if (Frequencies == CosFrequencies.PropagatorWeighted)
        {
            radius = RadialQuantile(u);
            scale = full_like(radius, Math.Sqrt(AmplitudeVariance));
        }
        else
        {
            // Uniform in the ball: r = Λ u^{1/d}; A(b)² = n_Λ/(b² + m²), n_Λ = vol(B_Λ)/(2π)ᵈ, so that ρA² = 1/((2π)ᵈ(b² + m²)).
            double l = Cutoff!.Value;
            double ball = InputDimension switch { 1 => 2 * l, 2 => Math.PI * l * l, _ => 4 * Math.PI * l * l * l / 3 };
            double modes = ball / Math.Pow(2 * Math.PI, InputDimension);
            radius = u.pow(1.0 / InputDimension).mul_(l);
            scale = radius.square().add(Mass * Mass).reciprocal_().mul_(modes).sqrt_();
        }
        var b = direction.mul(radius.to(dtype));
        var amplitude = scale.to(dtype).transpose(1, 2);                           // [count, 1, N]
        if (Amplitudes == CosAmplitudes.GaussianPair)
        {
            // u cos(b·x) + v sin(b·x), u and v of variance σ²/2: the same G₂, a Rayleigh amplitude. c is drawn but unused,
            // so that both amplitude choices consume the generator alike.
            var v = randn(new[] { count, 1L, n }, dtype: dtype, device: device, generator: generator);
            var wave = matmul(b, inputs.t());
            var both = matmul(a.mul(amplitude), wave.cos()).add_(matmul(v.mul(amplitude), wave.sin())).mul_(Math.Sqrt(0.5));
            return both.squeeze(1).mul_(Math.Sqrt(2.0 / n)).MoveToOuterDisposeScope();
        }
        var phase = matmul(b, inputs.t()).add_(c);                        // [count, N, P]
        a = a.mul(amplitude);
        return matmul(a, phase.cos_()).squeeze(1).mul_(Math.Sqrt(2.0 / n)).MoveToOuterDisposeScope();
    }
}
