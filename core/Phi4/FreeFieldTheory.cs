using Hybrid.Lattice;
namespace Hybrid.Phi4;

/// <summary>
/// Exact results for the free lattice field (λ = 0, m² &gt; 0) on a periodic L×L lattice, where
/// S = ½ φ A φ with A = 2(−Δ + m²) (docs/phi4.md). The tests of every sampler are anchored here.
/// </summary>
public sealed class FreeFieldTheory
{
    /// <summary>The free theory of the given extent and mass.</summary>
    /// <exception cref="ArgumentException">m² ≤ 0 or not finite.</exception>
    public FreeFieldTheory(SquareLattice lattice, double massSquared)
    {
        ArgumentNullException.ThrowIfNull(lattice);
        if (!double.IsFinite(massSquared) || massSquared <= 0)
            throw new ArgumentException($"m² = {massSquared} is not allowed for the free field; m² must be > 0", nameof(massSquared));
        Lattice = lattice;
        MassSquared = massSquared;
    }

    /// <summary>The lattice.</summary>
    public SquareLattice Lattice { get; }

    /// <summary>The mass squared.</summary>
    public double MassSquared { get; }

    /// <summary>The propagator in momentum space, [2(k̂² + m²)]⁻¹ with k̂² = Σ_μ 4 sin²(π q_μ / L).</summary>
    public double MomentumPropagator(int q0, int q1)
    {
        int l = Lattice.Extent;
        double s0 = Math.Sin(Math.PI * q0 / l), s1 = Math.Sin(Math.PI * q1 / l);
        return 1 / (2 * (4 * s0 * s0 + 4 * s1 * s1 + MassSquared));
    }

    /// <summary>⟨φ_y φ_{y+x}⟩ = G(x) for the separation x = (t, x₁).</summary>
    public double Propagator(int t, int x)
    {
        int l = Lattice.Extent;
        double sum = 0;
        for (int q0 = 0; q0 < l; q0++)
            for (int q1 = 0; q1 < l; q1++)
                sum += Math.Cos(2 * Math.PI * (q0 * t + q1 * x) / l) * MomentumPropagator(q0, q1);
        return sum / Lattice.Volume;
    }

    /// <summary>Zero-momentum correlator G_c(t) = Σ_x G(t, x) for t = 0..L−1.</summary>
    public double[] ZeroMomentumCorrelator()
    {
        int l = Lattice.Extent;
        var g = new double[l];
        for (int t = 0; t < l; t++)
        {
            double sum = 0;
            for (int q0 = 0; q0 < l; q0++)
                sum += Math.Cos(2 * Math.PI * q0 * t / l) * MomentumPropagator(q0, 0);
            g[t] = sum / l;
        }
        return g;
    }

    /// <summary>χ₂ = Σ_x G(x) = ⟨M²⟩/V = 1/(2m²).</summary>
    public double Susceptibility => MomentumPropagator(0, 0);

    /// <summary>Ising energy (1/d) Σ_μ G(μ̂) = G(1, 0) by symmetry.</summary>
    public double IsingEnergy => Propagator(1, 0);

    /// <summary>−ln Z = −(V/2) ln 2π + ½ Σ_k ln[2(k̂² + m²)].</summary>
    public double FreeEnergy
    {
        get
        {
            int l = Lattice.Extent;
            double sum = 0;
            for (int q0 = 0; q0 < l; q0++)
                for (int q1 = 0; q1 < l; q1++)
                    sum -= Math.Log(MomentumPropagator(q0, q1));
            return -0.5 * Lattice.Volume * Math.Log(2 * Math.PI) + 0.5 * sum;
        }
    }
}
