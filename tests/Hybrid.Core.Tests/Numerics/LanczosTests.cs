using Hybrid.Numerics;
using Xunit;

namespace Hybrid.Core.Tests.Numerics;

public class LanczosTests
{
    /// <summary>The open chain's discrete Laplacian −Δ (2 on the diagonal, −1 beside it) plus a potential on the diagonal, in CSR form.</summary>
    private static SparseSymmetricMatrix Chain(int n, Func<int, double> potential)
    {
        var rowStart = new long[n + 1];
        var column = new List<int>();
        var value = new List<double>();
        for (int r = 0; r < n; r++)
        {
            if (r > 0) { column.Add(r - 1); value.Add(-1); }
            column.Add(r); value.Add(2 + potential(r));
            if (r < n - 1) { column.Add(r + 1); value.Add(-1); }
            rowStart[r + 1] = column.Count;
        }
        return new SparseSymmetricMatrix(rowStart, column.ToArray(), value.ToArray());
    }

    [Fact]
    public void LowestEigenvalueOfTheLaplacianIsExact()
    {
        // −Δ on 50 sites with Dirichlet ends (the small route, full reorthogonalisation): λ_k = 2 − 2 cos(kπ/51).
        var pair = Lanczos.Lowest(Chain(50, _ => 0));
        Assert.True(pair.Converged, $"residual {pair.Residual}");
        Assert.Equal(2 - 2 * Math.Cos(Math.PI / 51), pair.Value, 1e-10);
        Assert.Equal(1.0, pair.Vector.Sum(x => x * x), 12);
    }

    [Fact]
    public void TheTwoPassRouteFindsTheGroundStateOfAWellOnALongChain()
    {
        // −Δ + 10⁻⁴ (r − c)² on 20 000 sites (the two-pass route, several parallel chunks): the ground state lives within
        // ~10 sites of the centre, so a dense 600-site window around it has the same lowest eigenvalue to rounding.
        int n = 20_000, window = 600;
        double centre = 10_000.25;
        Func<int, double> v = r => 1e-4 * (r - centre) * (r - centre);
        var pair = Lanczos.Lowest(Chain(n, v));
        int offset = n / 2 - window / 2;
        var dense = MathNet.Numerics.LinearAlgebra.Matrix<double>.Build.Dense(window, window,
            (i, j) => i == j ? 2 + v(i + offset) : Math.Abs(i - j) == 1 ? -1 : 0);
        double lowest = dense.Evd(MathNet.Numerics.LinearAlgebra.Symmetricity.Symmetric).EigenValues.Select(z => z.Real).Min();
        Assert.True(pair.Converged, $"residual {pair.Residual}");
        Assert.Equal(lowest, pair.Value, 1e-10);
    }

    [Fact]
    public void LowestEigenpairOfAHarmonicWellMatchesDenseDiagonalisation()
    {
        // −Δ + ω² (r − c)² on 400 sites: compare with MathNet's dense symmetric eigensolver.
        int n = 400;
        Func<int, double> v = r => 1e-3 * (r - 200.5) * (r - 200.5);
        var a = Chain(n, v);
        var pair = Lanczos.Lowest(a);
        var dense = MathNet.Numerics.LinearAlgebra.Matrix<double>.Build.Dense(n, n, (i, j) => i == j ? 2 + v(i) : Math.Abs(i - j) == 1 ? -1 : 0);
        var evd = dense.Evd(MathNet.Numerics.LinearAlgebra.Symmetricity.Symmetric);
        double lowest = evd.EigenValues.Select(z => z.Real).Min();
        Assert.True(pair.Converged);
        Assert.Equal(lowest, pair.Value, 1e-10);
        // ‖Ax − λx‖ as reported.
        var ax = new double[n];
        a.Multiply(pair.Vector, ax);
        double r2 = 0;
        for (int i = 0; i < n; i++) r2 += Math.Pow(ax[i] - pair.Value * pair.Vector[i], 2);
        Assert.Equal(Math.Sqrt(r2), pair.Residual, 1e-12);
    }

    [Fact]
    public void ResultsAreBitForBitReproducible()
    {
        var a = Chain(30_000, r => 1e-4 * (r - 15_000.5) * (r - 15_000.5));
        var first = Lanczos.Lowest(a);
        var second = Lanczos.Lowest(a);
        Assert.Equal(first.Value, second.Value);
        Assert.Equal(first.Vector, second.Vector);
    }

    [Fact]
    public void AnUnconvergedRunSaysSo()
    {
        // Two steps cannot resolve a dense spectrum, and no restart is allowed.
        var pair = Lanczos.Lowest(Chain(20_000, _ => 0), new LanczosOptions(SmallDimension: 10, LargeSteps: 2, MaxRestarts: 0));
        Assert.False(pair.Converged);
        Assert.True(double.IsFinite(pair.Value));
    }

    [Fact]
    public void TridiagonalLowestPairOfAKnownMatrix()
    {
        // diag(2), off-diagonal −1, k = 6: λ = 2 − 2cos(π/7), vector ∝ sin(πi/7).
        int k = 6;
        var (value, vector) = SymmetricTridiagonal.Lowest(Enumerable.Repeat(2.0, k).ToList(), Enumerable.Repeat(-1.0, k).ToList(), k);
        Assert.Equal(2 - 2 * Math.Cos(Math.PI / 7), value, 1e-13);
        var expected = Enumerable.Range(1, k).Select(i => Math.Sin(Math.PI * i / 7)).ToArray();
        double norm = Math.Sqrt(expected.Sum(x => x * x));
        double sign = Math.Sign(vector[0]);
        for (int i = 0; i < k; i++) Assert.Equal(expected[i] / norm, sign * vector[i], 1e-10);
        Assert.Throws<ArgumentException>(() => SymmetricTridiagonal.Lowest(new[] { 1.0 }, Array.Empty<double>(), 2));
    }
}
