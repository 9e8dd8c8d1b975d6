using static TorchSharp.torch;

namespace Hybrid.Nnqm;

/// <summary>
/// The Ornstein–Uhlenbeck process dy = −ω y dt + dW, the Euclidean harmonic oscillator (m = ħ = 1):
/// ⟨y_t y_0⟩ = e^{−ω|t|}/(2ω). Sampled exactly on a grid of step Δt, y_{k+1} = ρ y_k + √((1 − ρ²)/(2ω)) ξ with
/// ρ = e^{−ωΔt}, from the stationary distribution N(0, 1/(2ω)): no discretisation error at any Δt.
/// </summary>
public sealed class OrnsteinUhlenbeck
{
    /// <summary>A process of rate ω &gt; 0.</summary>
    public OrnsteinUhlenbeck(double omega)
    {
        if (!(omega > 0) || !double.IsFinite(omega)) throw new ArgumentException($"ω {omega} is not allowed; it must be a finite number > 0");
        Omega = omega;
    }

    /// <summary>ω.</summary>
    public double Omega { get; }

    /// <summary>The stationary variance 1/(2ω).</summary>
    public double Variance => 1 / (2 * Omega);

    /// <summary>⟨y_t y_0⟩ = e^{−ω|t|}/(2ω).</summary>
    public double Covariance(double t) => Math.Exp(-Omega * Math.Abs(t)) * Variance;

    /// <summary><paramref name="paths"/> stationary paths of <paramref name="steps"/> points spaced by <paramref name="dt"/>: [paths, steps], float64.</summary>
    public Tensor Sample(long paths, int steps, double dt, Generator generator, Device? device = null)
    {
        if (paths < 1) throw new ArgumentException($"paths {paths} is not allowed; it must be ≥ 1");
        if (steps < 1) throw new ArgumentException($"steps {steps} is not allowed; it must be ≥ 1");
        if (!(dt > 0) || !double.IsFinite(dt)) throw new ArgumentException($"Δt {dt} is not allowed; it must be a finite number > 0");
        using var scope = NewDisposeScope();
        var dev = device ?? CPU;
        double rho = Math.Exp(-Omega * dt);
        var noise = randn(new[] { paths, (long)steps }, dtype: ScalarType.Float64, device: dev, generator: generator);
        var columns = new Tensor[steps];
        columns[0] = noise[.., 0].mul(Math.Sqrt(Variance));
        double kick = Math.Sqrt((1 - rho * rho) * Variance);
        for (int k = 1; k < steps; k++) columns[k] = columns[k - 1].mul(rho).add_(noise[.., k].mul(kick));
        return stack(columns, 1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The vector process of independent OU components with rates <paramref name="rates"/>, each standardised to unit
    /// variance (u_i = y_i √(2ω_i)), sampled exactly: [paths, steps, d], float64. The inputs of deep NN-QM.
    /// </summary>
    public static Tensor SampleStandardised(IReadOnlyList<double> rates, long paths, int steps, double dt, Generator generator, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(rates);
        if (rates.Count < 1) throw new ArgumentException("rates is empty; give at least one rate > 0");
        using var scope = NewDisposeScope();
        var components = rates.Select(r => new OrnsteinUhlenbeck(r).Sample(paths, steps, dt, generator, device).mul(Math.Sqrt(2 * r))).ToArray();
        return stack(components, 2).MoveToOuterDisposeScope();
    }
}
