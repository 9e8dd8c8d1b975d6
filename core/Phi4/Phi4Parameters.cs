namespace Hybrid.Phi4;

/// <summary>
/// Couplings of lattice φ⁴ in d = 2, in both parameterisations of docs/phi4.md:
/// S = Σ_x [Σ_μ (φ_{x+μ̂} − φ_x)² + m² φ_x² + λ φ_x⁴]  (the "mass" form, used for all computations), and
/// S = Σ_x [−2κ Σ_μ ϕ_x ϕ_{x+μ̂} + (1 − 2λ̃) ϕ_x² + λ̃ ϕ_x⁴]  (the "hopping" form), with
/// φ = √κ ϕ, (2d + m²) κ = 1 − 2λ̃, λ̃ = λ κ². The conversion is exact in both directions.
/// </summary>
public sealed record Phi4Parameters
{
    /// <summary>Space-time dimension of the lattice.</summary>
    public const int Dimensions = 2;

    /// <summary>
    /// Largest |m²| and λ accepted (lattice units). The Ising limit of interest is reached near λ̃ ~ 10–100, i.e.
    /// λ of order 10³; far beyond, the forces grow like λφ³ and no sampler moves, so such values are refused up front.
    /// </summary>
    public const double MaxCoupling = 1e6;

    /// <summary>Bare mass squared m² (may be negative).</summary>
    public double MassSquared { get; }

    /// <summary>Quartic coupling λ ≥ 0.</summary>
    public double Lambda { get; }

    private Phi4Parameters(double massSquared, double lambda)
    {
        MassSquared = massSquared;
        Lambda = lambda;
    }

    /// <summary>Hopping parameter κ &gt; 0, the positive root of 2λκ² + (2d + m²)κ − 1 = 0.</summary>
    public double Kappa
    {
        get
        {
            double b = 2 * Dimensions + MassSquared;
            if (Lambda == 0) return 1 / b;
            // Numerically stable positive root of 2λκ² + bκ − 1 = 0.
            double disc = Math.Sqrt(b * b + 8 * Lambda);
            return b >= 0 ? 2 / (b + disc) : (disc - b) / (4 * Lambda);
        }
    }

    /// <summary>Quartic coupling of the hopping form, λ̃ = λκ².</summary>
    public double LambdaTilde => Lambda * Kappa * Kappa;

    /// <summary>From the mass form (m², λ).</summary>
    /// <exception cref="ArgumentException">Non-finite values, λ &lt; 0, or λ = 0 with m² ≤ 0 (the Gaussian integral diverges).</exception>
    public static Phi4Parameters FromMass(double massSquared, double lambda)
    {
        if (!double.IsFinite(massSquared))
            throw new ArgumentException(FormattableString.Invariant($"m² = {massSquared} is not a finite number"), nameof(massSquared));
        if (Math.Abs(massSquared) > MaxCoupling)
            throw new ArgumentException(FormattableString.Invariant($"m² = {massSquared} is not allowed; |m²| must be ≤ {MaxCoupling:G3} (lattice units)"), nameof(massSquared));
        if (!double.IsFinite(lambda) || lambda < 0)
            throw new ArgumentException(FormattableString.Invariant($"λ = {lambda} is not allowed; λ must be a finite number ≥ 0"), nameof(lambda));
        if (lambda > MaxCoupling)
            throw new ArgumentException(FormattableString.Invariant($"λ = {lambda} is not allowed; λ must be ≤ {MaxCoupling:G3} (lattice units)"), nameof(lambda));
        if (lambda == 0 && massSquared <= 0)
            throw new ArgumentException(FormattableString.Invariant($"m² = {massSquared} with λ = 0 is not allowed: the free theory needs m² > 0 (its zero mode is not normalisable otherwise)"), nameof(massSquared));
        return new Phi4Parameters(massSquared, lambda);
    }

    /// <summary>From the hopping form (κ, λ̃).</summary>
    /// <exception cref="ArgumentException">Non-finite values, κ ≤ 0, λ̃ &lt; 0, or a free theory without a mass gap.</exception>
    public static Phi4Parameters FromHopping(double kappa, double lambdaTilde)
    {
        if (!double.IsFinite(kappa) || kappa <= 0)
            throw new ArgumentException(FormattableString.Invariant($"κ = {kappa} is not allowed; κ must be a finite number > 0"), nameof(kappa));
        if (!double.IsFinite(lambdaTilde) || lambdaTilde < 0)
            throw new ArgumentException(FormattableString.Invariant($"λ̃ = {lambdaTilde} is not allowed; λ̃ must be a finite number ≥ 0"), nameof(lambdaTilde));
        double m2 = (1 - 2 * lambdaTilde) / kappa - 2 * Dimensions;
        return FromMass(m2, lambdaTilde / (kappa * kappa));
    }

    /// <inheritdoc/>
    public override string ToString() =>
        FormattableString.Invariant($"m² = {MassSquared}, λ = {Lambda} (κ = {Kappa:G10}, λ̃ = {LambdaTilde:G10})");
}
