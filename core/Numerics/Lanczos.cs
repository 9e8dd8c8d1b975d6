using static Hybrid.Numerics.ChunkedVectors;

namespace Hybrid.Numerics;

/// <summary>Settings of <see cref="Lanczos.Lowest"/>; the defaults suit lattice Hamiltonians of up to ~10⁹ states.</summary>
/// <param name="SmallDimension">Up to this dimension, Lanczos keeps every vector and reorthogonalises fully.</param>
/// <param name="SmallSteps">Steps of one run on a small matrix (each stores a vector).</param>
/// <param name="LargeSteps">Steps of one two-pass run on a large matrix (only α and β are stored).</param>
/// <param name="RitzTolerance">A run stops when its own residual estimate β_k|y_k| falls below this, relative to max(1, |λ|).</param>
/// <param name="ResidualTolerance">The true residual ‖Ax − λx‖ the eigenpair must reach, relative to max(1, |λ|).</param>
/// <param name="MaxRestarts">Restarts from the last Ritz vector before giving up.</param>
public sealed record LanczosOptions(
    int SmallDimension = 10_000,
    int SmallSteps = 300,
    int LargeSteps = 2000,
    double RitzTolerance = 1e-11,
    double ResidualTolerance = 1e-8,
    int MaxRestarts = 6)
{
    /// <summary>The defaults.</summary>
    public static LanczosOptions Default { get; } = new();
}

/// <summary>The lowest eigenpair of a symmetric matrix: λ, the normalised vector, its true residual, and whether it met the tolerance.</summary>
public sealed record LowestEigenpair(double Value, double[] Vector, double Residual, bool Converged);

/// <summary>
/// The lowest eigenpair of a large sparse symmetric matrix by Lanczos, checked by its true residual and restarted from
/// its own Ritz vector while the residual is too large. Without reorthogonalisation, loss of orthogonality only slows
/// this: the lowest Ritz value stays right and a restart sheds the ghost copies. Deterministic: the start vector is a
/// hash of the row index and every reduction runs in a fixed order.
/// </summary>
public static class Lanczos
{
    /// <summary>The lowest eigenpair of <paramref name="a"/>; <see cref="LowestEigenpair.Converged"/> says whether its residual met the tolerance.</summary>
    public static LowestEigenpair Lowest(SparseSymmetricMatrix a, LanczosOptions? options = null)
    {
        var o = options ?? LanczosOptions.Default;
        int n = a.Rows;
        var start = new double[n];
        // Every component non-zero (a hash of the row): no eigenvector is missed by symmetry.
        ForChunks(n, (from, to) =>
        {
            for (int r = from; r < to; r++)
            {
                ulong z = SplitMix((ulong)r + 0x9E3779B97F4A7C15UL);
                double u = (z >> 11) * (1.0 / (1UL << 53));
                start[r] = (z & 1) == 0 ? 0.5 + u : -0.5 - u;
            }
        });
        double value = 0, residual = double.PositiveInfinity;
        double[] x = start;
        for (int attempt = 0; attempt <= o.MaxRestarts; attempt++)
        {
            x = n <= o.SmallDimension ? Reorthogonalised(a, start, o) : TwoPass(a, start, o);
            Scale(x, 1 / Math.Sqrt(Dot(x, x)));
            var ax = new double[n];
            a.Multiply(x, ax);
            value = Dot(x, ax);
            double e = value;
            ForChunks(n, (from, to) =>
            {
                for (int r = from; r < to; r++) ax[r] -= e * x[r];
            });
            residual = Math.Sqrt(Dot(ax, ax));
            if (residual < o.ResidualTolerance * Math.Max(1, Math.Abs(value))) return new LowestEigenpair(value, x, residual, true);
            start = x;
        }
        return new LowestEigenpair(value, x, residual, false);
    }

    private static ulong SplitMix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Lanczos with full (twice-repeated Gram–Schmidt) reorthogonalisation against every stored vector, for small matrices.</summary>
    private static double[] Reorthogonalised(SparseSymmetricMatrix a, double[] start, LanczosOptions o)
    {
        int n = a.Rows;
        int steps = Math.Min(n, o.SmallSteps);
        var basis = new List<double[]>();
        var alpha = new List<double>();
        var beta = new List<double>();
        var v = (double[])start.Clone();
        Scale(v, 1 / Math.Sqrt(Dot(v, v)));
        double[] y = { 1 };
        for (int k = 0; k < steps; k++)
        {
            basis.Add(v);
            var w = new double[n];
            a.Multiply(v, w);
            alpha.Add(Dot(v, w));
            for (int pass = 0; pass < 2; pass++)
                foreach (var u in basis) Axpy(-Dot(u, w), u, w);
            double b = Math.Sqrt(Dot(w, w));
            beta.Add(b);
            double lambda;
            (lambda, y) = SymmetricTridiagonal.Lowest(alpha, beta, k + 1);
            double scale = Math.Max(1, Math.Abs(lambda));
            // β_k |y_k| is the residual of the Ritz pair; a tiny β means the Krylov space is invariant.
            if (b * Math.Abs(y[k]) < o.RitzTolerance * scale || b < 1e-14 * scale) break;
            Scale(w, 1 / b);
            v = w;
        }
        var x = new double[n];
        for (int k = 0; k < y.Length; k++) Axpy(y[k], basis[k], x);
        return x;
    }

    /// <summary>
    /// Memory-light Lanczos: pass 1 runs the three-term recurrence keeping only α and β until the lowest Ritz pair's
    /// residual estimate is small; pass 2 reruns the same recurrence (with the stored α, β, so the same vectors) to
    /// accumulate the Ritz vector Σ y_k v_k.
    /// </summary>
    private static double[] TwoPass(SparseSymmetricMatrix a, double[] start, LanczosOptions o)
    {
        int n = a.Rows;
        var alpha = new List<double>();
        var beta = new List<double>();
        var v = new double[n];
        var previous = new double[n];
        var w = new double[n];
        double norm = 1 / Math.Sqrt(Dot(start, start));
        Copy(start, v, norm);
        double[] y = { 1 };
        for (int k = 0; k < o.LargeSteps; k++)
        {
            a.Multiply(v, w);
            double alphaK = Dot(v, w);
            alpha.Add(alphaK);
            double bPrevious = k == 0 ? 0 : beta[k - 1];
            Recur(w, v, previous, alphaK, bPrevious);
            double b = Math.Sqrt(Dot(w, w));
            beta.Add(b);
            // Check every fifth step (the bisection costs O(k)), and at once when β is tiny: dividing by it would be noise.
            if (k % 5 == 4 || b < 1e-12 * Math.Max(1, Math.Abs(alphaK)) || k == o.LargeSteps - 1)
            {
                double lambda;
                (lambda, y) = SymmetricTridiagonal.Lowest(alpha, beta, k + 1);
                double scale = Math.Max(1, Math.Abs(lambda));
                if (b * Math.Abs(y[k]) < o.RitzTolerance * scale || b < 1e-14 * scale) break;
            }
            Scale(w, 1 / b);
            (previous, v, w) = (v, w, previous);
        }
        int steps = y.Length;
        var x = new double[n];
        Copy(start, v, norm);
        Array.Clear(previous);
        Axpy(y[0], v, x);
        for (int k = 0; k + 1 < steps; k++)
        {
            a.Multiply(v, w);
            Recur(w, v, previous, alpha[k], k == 0 ? 0 : beta[k - 1]);
            Scale(w, 1 / beta[k]);
            Axpy(y[k + 1], w, x);
            (previous, v, w) = (v, w, previous);
        }
        return x;
    }

    /// <summary>w ← w − α v − β v_prev.</summary>
    private static void Recur(double[] w, double[] v, double[] previous, double a, double b) =>
        ForChunks(w.Length, (from, to) =>
        {
            for (int r = from; r < to; r++) w[r] -= a * v[r] + b * previous[r];
        });
}
