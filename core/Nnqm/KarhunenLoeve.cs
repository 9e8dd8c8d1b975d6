using static TorchSharp.torch;

namespace Hybrid.Nnqm;

/// <summary>
/// The Karhunen–Loève expansion of a covariance C(t, s) on [−T, T]: C(t, s) = Σ_k λ_k f_k(t) f_k(s) with orthonormal
/// modes, so a process with that covariance is x(t) = Σ_k √λ_k θ_k f_k(t), θ_k ~ N(0, 1) — a network whose last
/// layer is random (Ferko and Halverson, arXiv:2504.05462). Nyström's method on composite Gauss–Legendre nodes:
/// the eigenproblem of W^{1/2} C W^{1/2}. <see cref="Compute"/> solves with n and 2n nodes and returns the 2n
/// solution with the change of each eigenvalue as its uncertainty: for a kernel with a kink on the diagonal (OU) the
/// error falls like n⁻², so the change bounds the finer solution's error about threefold.
/// </summary>
public sealed class KarhunenLoeve
{
    private readonly Func<double, double, double> covariance;

    private KarhunenLoeve(Func<double, double, double> covariance, double halfLength, double[] nodes, double[] weights, double[] eigenvalues, double[][] modes, double[] uncertainty)
    {
        this.covariance = covariance;
        HalfLength = halfLength;
        Nodes = nodes;
        Weights = weights;
        Eigenvalues = eigenvalues;
        Modes = modes;
        Uncertainty = uncertainty;
    }

    /// <summary>T of [−T, T].</summary>
    public double HalfLength { get; }

    /// <summary>The quadrature nodes.</summary>
    public IReadOnlyList<double> Nodes { get; }

    /// <summary>The quadrature weights.</summary>
    public IReadOnlyList<double> Weights { get; }

    /// <summary>λ₁ ≥ λ₂ ≥ … (the modes asked for).</summary>
    public IReadOnlyList<double> Eigenvalues { get; }

    /// <summary>f_k at the nodes, orthonormal in the quadrature inner product.</summary>
    public IReadOnlyList<double[]> Modes { get; }

    /// <summary>|λ_k(n) − λ_k(2n)|: the numerical uncertainty of each eigenvalue (the values are the 2n ones).</summary>
    public IReadOnlyList<double> Uncertainty { get; }

    /// <summary>Composite Gauss–Legendre nodes and weights on [−T, T], 8 per panel.</summary>
    public static (double[] Nodes, double[] Weights) Quadrature(double halfLength, int panels) =>
        Hybrid.Numerics.GaussLegendre.Composite8(-halfLength, halfLength, panels);

    private static (double[] Values, double[][] Modes) Solve(Func<double, double, double> covariance, double[] t, double[] w, int modes)
    {
        using var scope = NewDisposeScope();
        int n = t.Length;
        var c = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                c[i * n + j] = Math.Sqrt(w[i]) * covariance(t[i], t[j]) * Math.Sqrt(w[j]);
        using var matrix = tensor(c, new long[] { n, n }, dtype: ScalarType.Float64);
        var (values, vectors) = linalg.eigh(matrix);
        var lambda = values.data<double>().ToArray();
        var v = vectors.data<double>().ToArray();
        var order = Enumerable.Range(0, n).OrderByDescending(k => lambda[k]).Take(modes).ToArray();
        var result = order.Select(k => lambda[k]).ToArray();
        var f = order.Select(k =>
        {
            var mode = Enumerable.Range(0, n).Select(i => v[i * n + k] / Math.Sqrt(w[i])).ToArray();
            // Sign convention: positive where the mode is largest in magnitude on the right half.
            int peak = Enumerable.Range(n / 2, n - n / 2).OrderByDescending(i => Math.Abs(mode[i])).First();
            return mode[peak] < 0 ? mode.Select(m => -m).ToArray() : mode;
        }).ToArray();
        return (result, f);
    }

    /// <summary>The leading <paramref name="modes"/> modes of <paramref name="covariance"/> on [−T, T] with 2 × <paramref name="panels"/> panels of 8 nodes (and <paramref name="panels"/> for the uncertainty).</summary>
    public static KarhunenLoeve Compute(Func<double, double, double> covariance, double halfLength, int modes, int panels = 32)
    {
        ArgumentNullException.ThrowIfNull(covariance);
        if (!(halfLength > 0) || !double.IsFinite(halfLength)) throw new ArgumentException($"T {halfLength} is not allowed; it must be a finite number > 0");
        if (panels < 1) throw new ArgumentException($"panels {panels} is not allowed; it must be ≥ 1");
        if (modes < 1 || modes > 4 * panels) throw new ArgumentException($"modes {modes} is not allowed; it must lie in 1..{4 * panels} for {panels} panels (a quarter of the 16·panels nodes)");
        var (t, w) = Quadrature(halfLength, panels);
        var (coarse, _) = Solve(covariance, t, w, modes);
        var (t2, w2) = Quadrature(halfLength, 2 * panels);
        var (values, f) = Solve(covariance, t2, w2, modes);
        return new KarhunenLoeve(covariance, halfLength, t2, w2, values, f, values.Zip(coarse, (a, b) => Math.Abs(a - b)).ToArray());
    }

    /// <summary>
    /// f_k(t) anywhere on [−T, T] by Nyström's interpolation f_k(t) = (1/λ_k) Σ_j w_j C(t, t_j) f_k(t_j), which is
    /// exact at the nodes and as accurate as the eigenvalue between them. <paramref name="mode"/> counts from 0.
    /// </summary>
    public double Mode(int mode, double t)
    {
        if (mode < 0 || mode >= Eigenvalues.Count) throw new ArgumentException($"mode {mode} is not allowed; it must lie in 0..{Eigenvalues.Count - 1}");
        if (!(Math.Abs(t) <= HalfLength)) throw new ArgumentException($"t {t} is not allowed; it must lie in [−{HalfLength}, {HalfLength}]");
        double sum = 0;
        for (int j = 0; j < Nodes.Count; j++) sum += Weights[j] * covariance(t, Nodes[j]) * Modes[mode][j];
        return sum / Eigenvalues[mode];
    }

    /// <summary>
    /// The NN-QM model x(t) = Σ_k √λ_k θ_k f_k(t) with θ_k ~ N(0, 1) (a network whose last layer is random), at
    /// <paramref name="times"/> for <paramref name="paths"/> draws of θ: [paths, times], float64. Its covariance is
    /// the kernel truncated to the modes kept. The draws are made on <paramref name="device"/> (default the CPU), where
    /// <paramref name="generator"/> must live.
    /// </summary>
    public Tensor Sample(IReadOnlyList<double> times, long paths, Generator generator, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(times);
        if (paths < 1) throw new ArgumentException($"paths {paths} is not allowed; it must be ≥ 1");
        int k = Eigenvalues.Count, n = times.Count;
        var basis = new double[k * n];
        for (int m = 0; m < k; m++)
            for (int i = 0; i < n; i++)
                basis[m * n + i] = Math.Sqrt(Eigenvalues[m]) * Mode(m, times[i]);
        using var scope = NewDisposeScope();
        var dev = device ?? CPU;
        var theta = randn(new[] { paths, (long)k }, dtype: ScalarType.Float64, device: dev, generator: generator);
        return theta.matmul(tensor(basis, new long[] { k, n }, dtype: ScalarType.Float64, device: dev)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The Ornstein–Uhlenbeck eigenvalues 1/(ω² + ν²) on [−T, T], largest first: even modes cos νt with ν tan νT = ω,
    /// odd modes sin νt with ν cot νT = −ω (one root in each branch of the tangent), solved by bisection.
    /// </summary>
    public static double[] OrnsteinUhlenbeckEigenvalues(double omega, double halfLength, int modes)
    {
        var nus = new List<double>();
        for (int branch = 0; nus.Count < modes + 2; branch++)
        {
            // Even: ν ∈ (branch·π, (branch + ½)π)/T, root of ν T tan(νT) − ωT. Odd: ν ∈ ((branch + ½)π, (branch + 1)π)/T,
            // root of νT cot(νT) + ωT.
            nus.Add(Bisect(z => z * Math.Tan(z) - omega * halfLength, branch * Math.PI, (branch + 0.5) * Math.PI) / halfLength);
            nus.Add(Bisect(z => z / Math.Tan(z) + omega * halfLength, (branch + 0.5) * Math.PI, (branch + 1) * Math.PI) / halfLength);
        }
        return nus.Select(nu => 1 / (omega * omega + nu * nu)).OrderByDescending(x => x).Take(modes).ToArray();
    }

    private static double Bisect(Func<double, double> f, double lo, double hi)
    {
        const double eps = 1e-15;
        double a = lo + eps * Math.Max(1, hi), b = hi - eps * Math.Max(1, hi);
        double fa = f(a);
        for (int i = 0; i < 200; i++)
        {
            double m = 0.5 * (a + b), fm = f(m);
            if (Math.Sign(fm) == Math.Sign(fa)) { a = m; fa = fm; } else b = m;
        }
        return 0.5 * (a + b);
    }
}
