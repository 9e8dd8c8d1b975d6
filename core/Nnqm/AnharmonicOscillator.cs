using static TorchSharp.torch;

namespace Hybrid.Nnqm;

/// <summary>
/// The anharmonic oscillator H = p²/2 + x²/2 + g x⁴ diagonalised in the harmonic-oscillator basis |0⟩ … |n_max − 1⟩
/// (x = (a + a†)/√2), float64. The basis is large enough when doubling it changes the levels asked for by less than
/// <see cref="ConvergenceTolerance"/>; <see cref="Solve"/> doubles until it does.
/// </summary>
public sealed class AnharmonicOscillator
{
    /// <summary>Agreement of the lowest levels between n and 2n basis states that counts as converged.</summary>
    public const double ConvergenceTolerance = 1e-10;

    private AnharmonicOscillator(double g, int basis, double[] energies, double[] xElements, double[] x2Elements, double[] ground, double change)
    {
        GroundState = ground;
        Coupling = g;
        BasisSize = basis;
        Energies = energies;
        PositionElements = xElements;
        PositionSquaredElements = x2Elements;
        Convergence = change;
    }

    /// <summary>g.</summary>
    public double Coupling { get; }

    /// <summary>Basis states used.</summary>
    public int BasisSize { get; }

    /// <summary>E₀ ≤ E₁ ≤ … (the levels asked for).</summary>
    public IReadOnlyList<double> Energies { get; }

    /// <summary>⟨0|x|n⟩ (sign fixed so that it is ≥ 0).</summary>
    public IReadOnlyList<double> PositionElements { get; }

    /// <summary>⟨0|x²|n⟩ (sign fixed so that it is ≥ 0).</summary>
    public IReadOnlyList<double> PositionSquaredElements { get; }

    /// <summary>ψ₀ in the oscillator basis, ψ₀ = Σ c_n φ_n (c₀ &gt; 0); only even n are non-zero.</summary>
    public IReadOnlyList<double> GroundState { get; }

    /// <summary>Largest change of the levels asked for when the basis was last doubled.</summary>
    public double Convergence { get; }

    /// <summary>Diagonalises at coupling <paramref name="g"/> ≥ 0, doubling the basis from 64 until the lowest <paramref name="levels"/> levels agree to the tolerance.</summary>
    public static AnharmonicOscillator Solve(double g, int levels = 8)
    {
        if (!(g >= 0) || !double.IsFinite(g)) throw new ArgumentException($"g {g} is not allowed; it must be a finite number ≥ 0");
        if (levels < 1 || levels > 200) throw new ArgumentException($"levels {levels} is not allowed; it must lie in 1..200");
        var previous = Diagonalise(g, 64, levels);
        for (int n = 128; n <= 4096; n *= 2)
        {
            var next = Diagonalise(g, n, levels);
            double change = next.Energies.Zip(previous.Energies, (a, b) => Math.Abs(a - b)).Max();
            if (change < ConvergenceTolerance * Math.Max(1, Math.Abs(next.Energies[levels - 1])))
                return new AnharmonicOscillator(g, n, next.Energies, next.X, next.X2, next.Ground, change);
            previous = next;
        }
        throw new InvalidOperationException($"the anharmonic oscillator at g = {g} did not converge in 4096 basis states");
    }

    private static (double[] Energies, double[] X, double[] X2, double[] Ground) Diagonalise(double g, int n, int levels)
    {
        using var scope = NewDisposeScope();
        // x in the oscillator basis: ⟨m|x|m+1⟩ = √((m+1)/2).
        var off = arange(1, n, dtype: ScalarType.Float64).div(2).sqrt();
        var x = diag(off, 1).add(diag(off, -1));
        var x2 = x.matmul(x);
        var h = diag(arange(0, n, dtype: ScalarType.Float64).add(0.5)).add(x2.matmul(x2).mul(g));
        // The truncated x⁴ is wrong in the last few rows (it needs states beyond the basis); doubling n checks that
        // the low levels do not feel it.
        var (values, vectors) = linalg.eigh(h);
        var ground = vectors[.., 0];
        var xn = ground.matmul(x).matmul(vectors).abs();
        var x2n = ground.matmul(x2).matmul(vectors).abs();
        var e = values.data<double>().Take(levels).ToArray();
        var c = ground.data<double>().ToArray();
        if (c[0] < 0) c = c.Select(v => -v).ToArray();
        return (e, xn.data<double>().Take(levels).ToArray(), x2n.data<double>().Take(levels).ToArray(), c);
    }
}
