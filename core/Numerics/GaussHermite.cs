using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Numerics;

/// <summary>Gauss–Hermite quadrature for expectations over a standard normal variable.</summary>
public static class GaussHermite
{
    /// <summary>
    /// The probabilists' rule with n nodes (weight e^{−x²/2}/√(2π), weights summing to 1), by Golub–Welsch: the nodes
    /// are the eigenvalues of the Jacobi matrix of the Hermite polynomials He_k, the weights the squared first
    /// components of its normalised eigenvectors. Exact for polynomials of degree ≤ 2n − 1.
    /// </summary>
    /// <param name="n">1..200.</param>
    public static (double[] Nodes, double[] Weights) Probabilists(int n)
    {
        if (n < 1 || n > 200) throw new ArgumentException($"n {n} is not allowed; it must lie in 1..200");
        using var scope = NewDisposeScope();
        // x He_k = He_{k+1} + k He_{k−1}, symmetrised: off-diagonal √k.
        var off = arange(1, n, dtype: ScalarType.Float64).sqrt();
        var (values, vectors) = linalg.eigh(diag(off, 1).add(diag(off, -1)));
        return (values.data<double>().ToArray(), vectors[0].square().data<double>().ToArray());
    }
}
