namespace Hybrid.O3;

/// <summary>
/// The Euclidean path integral of the periodic rotor chain H = (g²/2) Σ_i L_i² − (1/g²) Σ_i n_i·n_{i+1} at time step
/// a_t: an anisotropic classical O(3) lattice of L sites × N_t time slices (both periodic) with Boltzmann weight
/// exp(β_t Σ_temporal n·n′ + β_x Σ_spatial n·n′).
/// <list type="bullet">
/// <item>β_x = a_t/g²: e^{−a_t V} of the potential on each time slice.</item>
/// <item>β_t solves coth β_t − 1/β_t = e^{−a_t g²}. The kernel e^{β n·n′} has eigenvalues ∝ i_l(β) on the spherical
/// harmonics of one rotor, and i₁/i₀ is that Langevin function, so one rotor's l = 1 level comes out exactly g².
/// The other levels follow ln(i_l/i₀) = −Λ/(2β) − Λ/(4β²) + O(Λ²β⁻³), Λ = l(l + 1): linear in Λ to second order, so
/// matching l = 1 makes every level right to O(a_t²), the order of the Trotter splitting itself.</item>
/// </list>
/// The transfer matrix is then e^{−a_t H} + O(a_t³) per step, its spectrum that of H up to O(a_t²): gaps measured at
/// several a_t extrapolate quadratically to the chain's.
/// </summary>
public sealed record RotorPathIntegral
{
    /// <summary>The lattice of <paramref name="sites"/> rotors and <paramref name="slices"/> time slices of step <paramref name="timeStep"/> at coupling <paramref name="couplingSquared"/>.</summary>
    public RotorPathIntegral(int sites, int slices, double couplingSquared, double timeStep)
    {
        if (sites < 3) throw new ArgumentException($"chain length L = {sites} is not allowed; the path integral needs L ≥ 3 (a periodic chain of distinct bonds)");
        if (slices < 4) throw new ArgumentException($"{slices} time slices are not allowed; the path integral needs at least 4");
        if (!(couplingSquared > 0) || !double.IsFinite(couplingSquared) || couplingSquared > 1e4)
            throw new ArgumentException($"coupling g² = {couplingSquared} is not allowed; it must be a finite number in (0, 10⁴]");
        if (!(timeStep > 0) || !double.IsFinite(timeStep) || timeStep * couplingSquared > 10)
            throw new ArgumentException($"time step a_t = {timeStep} is not allowed at g² = {couplingSquared}; it must be > 0 with a_t·g² ≤ 10");
        if ((long)sites * slices > 1L << 28)
            throw new ArgumentException($"a lattice of {sites} × {slices} sites is too large (at most 2²⁸)");
        Sites = sites;
        Slices = slices;
        CouplingSquared = couplingSquared;
        TimeStep = timeStep;
        TemporalCoupling = MatchedTemporalCoupling(timeStep * couplingSquared);
    }

    /// <summary>L, the rotors of the chain.</summary>
    public int Sites { get; }

    /// <summary>N_t, the time slices.</summary>
    public int Slices { get; }

    /// <summary>g².</summary>
    public double CouplingSquared { get; }

    /// <summary>a_t, the time step.</summary>
    public double TimeStep { get; }

    /// <summary>β_t, the coupling of neighbouring time slices.</summary>
    public double TemporalCoupling { get; }

    /// <summary>β_x = a_t/g², the coupling of neighbouring rotors on a time slice.</summary>
    public double SpatialCoupling => TimeStep / CouplingSquared;

    /// <summary>L·N_t.</summary>
    public int Volume => Sites * Slices;

    /// <summary>The Euclidean time extent T = N_t·a_t (an inverse temperature).</summary>
    public double Extent => Slices * TimeStep;

    /// <summary>The Langevin function coth β − 1/β = i₁(β)/i₀(β), accurate at every β &gt; 0.</summary>
    public static double Langevin(double beta)
    {
        if (beta < 1e-3) return beta / 3 - beta * beta * beta / 45;
        double e = Math.Exp(-2 * beta);
        return (1 + e) / (1 - e) - 1 / beta;
    }

    /// <summary>d/dβ of <see cref="Langevin"/>: 1/β² − 1/sinh²β.</summary>
    public static double LangevinDerivative(double beta)
    {
        if (beta < 1e-3) return 1.0 / 3 - beta * beta / 15;
        double e = Math.Exp(-2 * beta);
        double sinhInverse = 2 * Math.Sqrt(e) / (1 - e);
        return 1 / (beta * beta) - sinhInverse * sinhInverse;
    }

    /// <summary>
    /// β with coth β − 1/β = e^{−ε}, ε = a_t·g²: the temporal coupling whose one-rotor l = 1 level is exactly g².
    /// Newton's method on the monotonic Langevin function, from the large-β form β ≈ 1/(1 − e^{−ε}).
    /// </summary>
    public static double MatchedTemporalCoupling(double epsilon)
    {
        if (!(epsilon > 0) || !double.IsFinite(epsilon)) throw new ArgumentException($"a_t·g² = {epsilon} must be a finite number > 0");
        double target = Math.Exp(-epsilon);
        // L(β) ≈ 1 − 1/β for large β and β/3 for small: start from the branch that fits, then Newton (L is concave).
        double beta = target > 0.5 ? 1 / (1 - target) : 3 * target;
        for (int i = 0; i < 100; i++)
        {
            double step = (Langevin(beta) - target) / LangevinDerivative(beta);
            double next = beta - step;
            if (next <= 0) next = beta / 2;
            if (Math.Abs(next - beta) <= 1e-15 * beta) return next;
            beta = next;
        }
        return beta;
    }

    /// <summary>dβ_t/da_t at this lattice's a_t (for the energy estimator): −g² e^{−ε}/L′(β_t).</summary>
    public double TemporalCouplingDerivative => -CouplingSquared * Math.Exp(-TimeStep * CouplingSquared) / LangevinDerivative(TemporalCoupling);

    /// <summary>Slices for a time extent of at least <paramref name="extent"/> at step <paramref name="timeStep"/> (even, ≥ 4).</summary>
    public static int SlicesFor(double extent, double timeStep)
    {
        long n = (long)Math.Ceiling(extent / timeStep - 1e-9);
        n += n % 2;
        return (int)Math.Max(4, Math.Min(n, int.MaxValue - 1));
    }
}
