using static TorchSharp.torch;

namespace Hybrid.Nnqm;

/// <summary>
/// A stationary, centred Gaussian process given by its covariance function K(t − s), sampled exactly at any finite
/// set of times through the eigendecomposition of the covariance matrix (not Cholesky: smooth kernels such as
/// e^{−t²/2} give matrices that are positive semi-definite only to round-off, and eigenvalues below zero by round-off
/// are set to zero). Which such processes are Euclidean quantum mechanics is decided by reflection positivity.
/// </summary>
public sealed class StationaryGaussianProcess
{
    private readonly Func<double, double> kernel;

    /// <summary>The process with covariance <paramref name="kernel"/>(t − s), described for records by <paramref name="description"/>.</summary>
    public StationaryGaussianProcess(Func<double, double> kernel, string description)
    {
        this.kernel = kernel ?? throw new ArgumentNullException(nameof(kernel));
        Description = description;
    }

    /// <summary>e^{−t²/(2ℓ²)}: smooth, so not reflection positive (e^{−t²} is not completely monotone).</summary>
    public static StationaryGaussianProcess GaussianKernel(double length)
    {
        if (!(length > 0) || !double.IsFinite(length)) throw new ArgumentException($"length {length} is not allowed; it must be a finite number > 0");
        return new StationaryGaussianProcess(t => Math.Exp(-t * t / (2 * length * length)), $"gaussian kernel e^(-t^2/(2*{length}^2))");
    }

    /// <summary>What the kernel is.</summary>
    public string Description { get; }

    /// <summary>K(t).</summary>
    public double Covariance(double t) => kernel(t);

    /// <summary>
    /// <paramref name="paths"/> draws of the process at <paramref name="times"/>: [paths, times], float64, made on
    /// <paramref name="device"/> (default the CPU), where <paramref name="generator"/> must live.
    /// </summary>
    public Tensor Sample(IReadOnlyList<double> times, long paths, Generator generator, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(times);
        if (paths < 1) throw new ArgumentException($"paths {paths} is not allowed; it must be ≥ 1");
        int n = times.Count;
        var k = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                k[i * n + j] = kernel(times[i] - times[j]);
        using var scope = NewDisposeScope();
        var dev = device ?? CPU;
        var (values, vectors) = linalg.eigh(tensor(k, new long[] { n, n }, dtype: ScalarType.Float64));
        var root = vectors.mul(values.clamp_min(0).sqrt().unsqueeze(0)).to(dev);  // K = R Rᵀ
        var xi = randn(new[] { paths, (long)n }, dtype: ScalarType.Float64, device: dev, generator: generator);
        return xi.matmul(root.t()).MoveToOuterDisposeScope();
    }
}
