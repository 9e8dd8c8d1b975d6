namespace Hybrid.Numerics;

/// <summary>Eigenpairs of real symmetric tridiagonal matrices, as Lanczos produces them.</summary>
public static class SymmetricTridiagonal
{
    /// <summary>
    /// The lowest eigenvalue of the leading k×k block (diagonal α, off-diagonal β) by Sturm bisection, and its
    /// normalised eigenvector by inverse iteration just below it, where T − σ is positive definite and LDLᵀ is stable.
    /// </summary>
    /// <param name="alpha">The diagonal, at least k entries.</param>
    /// <param name="beta">The off-diagonal: β_i couples i and i + 1; at least k − 1 entries.</param>
    /// <param name="k">The block size, ≥ 1.</param>
    public static (double Value, double[] Vector) Lowest(IReadOnlyList<double> alpha, IReadOnlyList<double> beta, int k)
    {
        if (k < 1 || alpha.Count < k || beta.Count < k - 1)
            throw new ArgumentException($"a {k}×{k} block needs k ≥ 1, {k} diagonal and {k - 1} off-diagonal entries (have {alpha.Count}, {beta.Count})");
        double lo = double.PositiveInfinity, hi = double.NegativeInfinity;
        for (int i = 0; i < k; i++)
        {
            // Gershgorin discs bound the spectrum.
            double radius = (i > 0 ? Math.Abs(beta[i - 1]) : 0) + (i < k - 1 ? Math.Abs(beta[i]) : 0);
            lo = Math.Min(lo, alpha[i] - radius);
            hi = Math.Max(hi, alpha[i] + radius);
        }
        double spread = Math.Max(hi - lo, double.Epsilon);
        double tiny = 1e-300;
        // Eigenvalues below x = negative pivots of LDLᵀ(T − x).
        int Below(double x)
        {
            int count = 0;
            double q = alpha[0] - x;
            for (int i = 0; ; i++)
            {
                if (q == 0) q = -tiny;
                if (q < 0) count++;
                if (i == k - 1) return count;
                q = alpha[i + 1] - x - beta[i] * beta[i] / q;
            }
        }
        hi += 1e-12 * spread;
        lo -= 1e-12 * spread;
        for (int iteration = 0; iteration < 200; iteration++)
        {
            double mid = 0.5 * (lo + hi);
            if (mid <= lo || mid >= hi) break;
            if (Below(mid) >= 1) hi = mid;
            else lo = mid;
        }
        double value = 0.5 * (lo + hi);
        double sigma = lo - 1e-12 * spread;
        var d = new double[k];
        var l = new double[k];
        d[0] = alpha[0] - sigma;
        for (int i = 1; i < k; i++)
        {
            if (d[i - 1] <= tiny) d[i - 1] = 1e-30 * spread;
            l[i] = beta[i - 1] / d[i - 1];
            d[i] = alpha[i] - sigma - l[i] * beta[i - 1];
        }
        if (d[k - 1] <= tiny) d[k - 1] = 1e-30 * spread;
        var y = new double[k];
        Array.Fill(y, 1.0);
        for (int iteration = 0; iteration < 3; iteration++)
        {
            // Solve L D Lᵀ z = y in place, then normalise.
            for (int i = 1; i < k; i++) y[i] -= l[i] * y[i - 1];
            for (int i = 0; i < k; i++) y[i] /= d[i];
            for (int i = k - 2; i >= 0; i--) y[i] -= l[i + 1] * y[i + 1];
            double norm = Math.Sqrt(y.Sum(t => t * t));
            for (int i = 0; i < k; i++) y[i] /= norm;
        }
        return (value, y);
    }
}
