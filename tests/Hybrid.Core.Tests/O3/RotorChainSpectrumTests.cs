using Hybrid.O3;

namespace Hybrid.Core.Tests.O3;

public class RotorChainSpectrumTests
{
    [Fact]
    public void ClebschGordanCoefficientsMatchTheTables()
    {
        Assert.Equal(Math.Sqrt(2.0 / 3), RotorChainSpectrum.ClebschGordan(1, 0, 1, 0, 2, 0), 14);   // ⟨1 0;1 0|2 0⟩
        Assert.Equal(1 / Math.Sqrt(3), RotorChainSpectrum.ClebschGordan(1, 1, 1, -1, 0, 0), 14);    // ⟨1 1;1 −1|0 0⟩
        Assert.Equal(-1 / Math.Sqrt(3), RotorChainSpectrum.ClebschGordan(1, 0, 1, 0, 0, 0), 14);    // ⟨1 0;1 0|0 0⟩
        Assert.Equal(0, RotorChainSpectrum.ClebschGordan(1, 0, 1, 0, 1, 0), 14);                    // ⟨1 0;1 0|1 0⟩ = 0
        Assert.Equal(1 / Math.Sqrt(2), RotorChainSpectrum.ClebschGordan(1, 1, 1, 0, 1, 1), 14);     // ⟨j m;1 0|j m⟩ = m/√(j(j+1))
        Assert.Equal(1 / Math.Sqrt(6), RotorChainSpectrum.ClebschGordan(2, 1, 1, 0, 2, 1), 14);
        Assert.Equal(1, RotorChainSpectrum.ClebschGordan(3, 3, 1, 1, 4, 4), 14);                    // stretched state
        Assert.Equal(0, RotorChainSpectrum.ClebschGordan(1, 1, 1, 1, 1, 1), 14);                    // m₁ + m₂ ≠ m
        // The coefficients are the entries of an orthogonal matrix: Σ_{m₁} ⟨j₁ m₁; j₂ M−m₁|j M⟩⟨j₁ m₁; j₂ M−m₁|j′ M⟩ = δ_{jj′}.
        for (int j = 1; j <= 5; j++)
            for (int jPrime = 1; jPrime <= 5; jPrime++)
            {
                double sum = 0;
                for (int m1 = -3; m1 <= 3; m1++)
                    sum += RotorChainSpectrum.ClebschGordan(3, m1, 2, 1 - m1, j, 1) * RotorChainSpectrum.ClebschGordan(3, m1, 2, 1 - m1, jPrime, 1);
                Assert.Equal(j == jPrime ? 1 : 0, sum, 13);
            }
    }

    [Fact]
    public void ReferenceLevelsAreReproduced()
    {
        // docs/o3-sigma-model.md, converged in l_max.
        var a = RotorChainSpectrum.Solve(3, 1, 5);
        Assert.True(Math.Abs(a.GroundEnergy - -0.59082965) < 1e-7, $"E0 = {a.GroundEnergy}");
        Assert.True(Math.Abs(a.Gap - 0.53365280) < 1e-7, $"gap = {a.Gap}");
        var b = RotorChainSpectrum.Solve(4, 2, 4);
        Assert.True(Math.Abs(b.GroundEnergy - -0.083889594) < 1e-7, $"E0 = {b.GroundEnergy}");
        Assert.True(Math.Abs(b.Gap - 1.67717789) < 1e-7, $"gap = {b.Gap}");
        foreach (var levels in new[] { a, b })
        {
            // The ground state is a singlet, the M = 1 level an l = 1 triplet member; both eigenvectors are converged.
            Assert.True(Math.Abs(levels.GroundTotalL2) < 1e-9, $"⟨L²⟩₀ = {levels.GroundTotalL2}");
            Assert.True(Math.Abs(levels.ExcitedTotalL2 - 2) < 1e-9, $"⟨L²⟩₁ = {levels.ExcitedTotalL2}");
            Assert.True(levels.GroundResidual < 1e-8 && levels.ExcitedResidual < 1e-8, $"residuals {levels.GroundResidual}, {levels.ExcitedResidual}");
            Assert.Equal(levels.ExcitedEnergy - levels.GroundEnergy, levels.Gap);
        }
        Assert.Equal(4332, a.GroundSectorDimension);
        Assert.Equal(4221, a.ExcitedSectorDimension);
        Assert.Equal(38165, b.GroundSectorDimension);   // large enough for the two-pass Lanczos
    }

    [Fact]
    public void StrongCouplingFollowsPerturbationTheory()
    {
        // g² = 8, L = 4: gap = g² − 2/(3g²) + O(g⁻⁶) = 7.916667 + O(2·10⁻³ × a small coefficient); E₀ per bond = −1/(6g⁶) (1 + O(g⁻⁴)).
        const double g2 = 8;
        var c = RotorChainSpectrum.SolveWithConvergence(4, g2, 3);
        var levels = c.Levels;
        Assert.True(Math.Abs(c.GroundShift) < 1e-9 && Math.Abs(c.GapShift) < 1e-8, $"shifts {c.GroundShift}, {c.GapShift}");
        Assert.True(Math.Abs(levels.Gap - 7.916812) < 1e-6, $"gap = {levels.Gap}");
        Assert.True(Math.Abs(levels.Gap - (g2 - 2 / (3 * g2))) < 1e-3, $"gap = {levels.Gap}");
        double ratio = levels.GroundEnergy / (4 * (-1 / (6 * g2 * g2 * g2)));
        Assert.True(Math.Abs(ratio - 1) < 0.01, $"E0 / (L · (−1/(6g⁶))) = {ratio}");
    }

    [Fact]
    public void WeakCouplingIsARigidRotor()
    {
        // The zero mode is a rigid rotor of moment of inertia L/g², so L·gap → g² as g² → 0 (L = 2: one bond).
        // l_max = 10 is converged here to ~10⁻⁸ (measured against l_max = 12 and 14).
        double Ratio(double g2) => 2 * RotorChainSpectrum.Solve(2, g2, 10).Gap / g2;
        double coarse = Ratio(0.4), fine = Ratio(0.2);
        Assert.True(Math.Abs(fine - 1) < 0.05, $"L·gap/g² = {fine} at g² = 0.2");
        Assert.True(Math.Abs(fine - 1) < 0.5 * Math.Abs(coarse - 1), $"L·gap/g² = {coarse} at g² = 0.4, {fine} at g² = 0.2");
    }

    [Fact]
    public void SectorHamiltoniansAreSymmetricAndAgreeWithADenseSolve()
    {
        foreach (var (sites, lMax) in new[] { (2, 1), (3, 2) })
        {
            const double g2 = 1.3;
            var levels = RotorChainSpectrum.Solve(sites, g2, lMax);
            var h0 = RotorChainSpectrum.DenseSectorHamiltonian(sites, g2, lMax, 0);
            var h1 = RotorChainSpectrum.DenseSectorHamiltonian(sites, g2, lMax, 1);
            Assert.Equal(levels.GroundSectorDimension, h0.GetLength(0));
            Assert.Equal(levels.ExcitedSectorDimension, h1.GetLength(0));
            foreach (var h in new[] { h0, h1 })
                for (int i = 0; i < h.GetLength(0); i++)
                    for (int j = 0; j < i; j++)
                        Assert.Equal(h[i, j], h[j, i]);
            var spectrum0 = JacobiEigenvalues(h0);
            var spectrum1 = JacobiEigenvalues(h1);
            Assert.Equal(spectrum0.Min(), levels.GroundEnergy, 10);
            Assert.Equal(spectrum1.Min(), levels.ExcitedEnergy, 10);
            // The truncation keeps whole irreps, so the l = 1 level also has its M = 0 member.
            Assert.Contains(spectrum0, e => Math.Abs(e - levels.ExcitedEnergy) < 1e-10);
        }
        // L = 2, l_max = 1: |00⟩, |0 m⟩, |m 0⟩ and |1m, 1 −m⟩ at M = 0.
        Assert.Equal(6, RotorChainSpectrum.DenseSectorHamiltonian(2, 1, 1, 0).GetLength(0));
    }

    [Fact]
    public void TruncationConvergesInLMax()
    {
        // g² = 1, L = 3: l_max = 4 → 5 moves E₀ by ~1·10⁻⁸ and the gap by ~1·10⁻⁷ (measured).
        var c = RotorChainSpectrum.SolveWithConvergence(3, 1, 5);
        Assert.True(Math.Abs(c.GroundShift) < 1e-6 && Math.Abs(c.GapShift) < 1e-6, $"shifts {c.GroundShift}, {c.GapShift}");
        Assert.Equal(4, c.Coarser.LMax);
        // l_max = 2 is off by about 0.7% in the gap (measured 0.76%) and by less (0.18%) in E₀.
        var coarse = RotorChainSpectrum.Solve(3, 1, 2);
        double gapError = (coarse.Gap - c.Levels.Gap) / c.Levels.Gap;
        double groundError = (coarse.GroundEnergy - c.Levels.GroundEnergy) / Math.Abs(c.Levels.GroundEnergy);
        Assert.True(gapError > 0.005 && gapError < 0.01, $"gap off by {gapError:P3} at l_max = 2");
        Assert.True(groundError > 0 && groundError < 0.003, $"E0 off by {groundError:P3} at l_max = 2");   // variational: above
    }

    [Fact]
    public void BadInputIsRefusedWithTheValueNamed()
    {
        Assert.Contains("L = 1", Assert.Throws<ArgumentException>(() => RotorChainSpectrum.Solve(1, 1, 2)).Message);
        Assert.Contains("g² 0", Assert.Throws<ArgumentException>(() => RotorChainSpectrum.Solve(3, 0, 2)).Message);
        Assert.Contains("g² NaN", Assert.Throws<ArgumentException>(() => RotorChainSpectrum.Solve(3, double.NaN, 2)).Message);
        Assert.Contains("g² Infinity", Assert.Throws<ArgumentException>(() => RotorChainSpectrum.Solve(3, double.PositiveInfinity, 2)).Message);
        Assert.Contains("l_max 0", Assert.Throws<ArgumentException>(() => RotorChainSpectrum.Solve(3, 1, 0)).Message);
        Assert.Contains("l_max 1", Assert.Throws<ArgumentException>(() => RotorChainSpectrum.SolveWithConvergence(3, 1, 1)).Message);
        Assert.Contains("L = 1", Assert.Throws<ArgumentException>(() => RotorChainSpectrum.EstimateBytes(1, 2)).Message);
        var tiny = Assert.Throws<ArgumentException>(() => RotorChainSpectrum.Solve(6, 1, 3, memoryLimitBytes: 1 << 20)).Message;
        Assert.Contains("L = 6 with l_max = 3 would need", tiny);
        Assert.Contains("limit 1 MiB", tiny);
        // L = 6 at l_max = 4 needs a little more than the default 8 GiB; L = 8 at l_max = 4 terabytes.
        Assert.True(RotorChainSpectrum.EstimateBytes(6, 4) > RotorChainSpectrum.DefaultMemoryLimitBytes);
        Assert.True(RotorChainSpectrum.EstimateBytes(6, 3) < RotorChainSpectrum.DefaultMemoryLimitBytes);
        Assert.Contains("(limit 8 GiB)", Assert.Throws<ArgumentException>(() => RotorChainSpectrum.Solve(8, 1, 4)).Message);
    }

    /// <summary>All eigenvalues of a small symmetric matrix by cyclic Jacobi rotations.</summary>
    private static double[] JacobiEigenvalues(double[,] matrix)
    {
        int n = matrix.GetLength(0);
        var a = (double[,])matrix.Clone();
        for (int sweep = 0; sweep < 100; sweep++)
        {
            double off = 0;
            for (int p = 0; p < n; p++)
                for (int q = p + 1; q < n; q++) off += a[p, q] * a[p, q];
            if (off < 1e-30) break;
            for (int p = 0; p < n; p++)
                for (int q = p + 1; q < n; q++)
                {
                    if (a[p, q] == 0) continue;
                    double theta = (a[q, q] - a[p, p]) / (2 * a[p, q]);
                    double t = Math.Sign(theta == 0 ? 1 : theta) / (Math.Abs(theta) + Math.Sqrt(theta * theta + 1));
                    double c = 1 / Math.Sqrt(t * t + 1), s = t * c;
                    for (int k = 0; k < n; k++)
                    {
                        double akp = a[k, p], akq = a[k, q];
                        a[k, p] = c * akp - s * akq;
                        a[k, q] = s * akp + c * akq;
                    }
                    for (int k = 0; k < n; k++)
                    {
                        double apk = a[p, k], aqk = a[q, k];
                        a[p, k] = c * apk - s * aqk;
                        a[q, k] = s * apk + c * aqk;
                    }
                }
        }
        return Enumerable.Range(0, n).Select(i => a[i, i]).ToArray();
    }
}
