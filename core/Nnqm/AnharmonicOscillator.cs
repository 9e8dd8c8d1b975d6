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

    private readonly double[,] position;

    private AnharmonicOscillator(double g, int basis, double[] energies, double[] xElements, double[] x2Elements, double[] ground, double[,] position, double change)
    {
        GroundState = ground;
        this.position = position;
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

    /// <summary>⟨m|x|n⟩ among the levels asked for.</summary>
    public double Position(int m, int n) => position[m, n];

    /// <summary>
    /// The Euclidean correlator ⟨x(t₁) x(t₂) … x(t_k)⟩ for ordered times, from the separations s_i = t_{i+1} − t_i ≥ 0:
    /// ⟨0| x e^{−(H − E₀)s₁} x e^{−(H − E₀)s₂} … x |0⟩, summed over the levels asked for (enough levels make the
    /// truncation negligible once every s_i is not small: the sum converges like e^{−E_n s}).
    /// </summary>
    public double EuclideanCorrelator(params double[] separations)
    {
        ArgumentNullException.ThrowIfNull(separations);
        if (separations.Any(s => !(s >= 0))) throw new ArgumentException($"separations [{string.Join(", ", separations)}] are not allowed; each must be ≥ 0 (ordered times)");
        int levels = Energies.Count;
        // v = ⟨0| x, then repeatedly v ← v e^{−(H−E₀)s} x, then close with |0⟩.
        var v = new double[levels];
        for (int n = 0; n < levels; n++) v[n] = position[0, n];
        foreach (double s in separations)
        {
            var next = new double[levels];
            for (int n = 0; n < levels; n++)
            {
                double weight = v[n] * Math.Exp(-(Energies[n] - Energies[0]) * s);
                for (int m = 0; m < levels; m++) next[m] += weight * position[n, m];
            }
            v = next;
        }
        return v[0];
    }

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
                return new AnharmonicOscillator(g, n, next.Energies, next.X, next.X2, next.Ground, next.Position, change);
            previous = next;
        }
        throw new InvalidOperationException($"the anharmonic oscillator at g = {g} did not converge in 4096 basis states");
    }

    private static (double[] Energies, double[] X, double[] X2, double[] Ground, double[,] Position) Diagonalise(double g, int n, int levels)
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
        // ⟨m|x|n⟩ among the levels asked for, with the eigenvectors' signs fixed so that ⟨0|x|n⟩ ≥ 0 (and the ground
        // state's c₀ > 0): products around a closed loop 0 → a → b → … → 0, which is all a correlator uses, do not depend
        // on the signs.
        var low = vectors[.., ..levels];
        var signs = ground.matmul(x).matmul(low).sign();
        signs = where(signs.eq(0), ones_like(signs), signs);
        signs[0] = c[0] == ground[0].item<double>() ? 1.0 : -1.0;
        var fixedVectors = low.mul(signs.unsqueeze(0));
        var xm = fixedVectors.t().matmul(x).matmul(fixedVectors).data<double>().ToArray();
        var position = new double[levels, levels];
        for (int i = 0; i < levels; i++)
            for (int j = 0; j < levels; j++) position[i, j] = xm[i * levels + j];
        return (e, xn.data<double>().Take(levels).ToArray(), x2n.data<double>().Take(levels).ToArray(), c, position);
    }
}
