using Hybrid.Nnqm;

namespace Hybrid.Core.Tests.Nnqm;

public class AnharmonicOscillatorTests
{
    [Fact]
    public void WithoutCouplingItIsTheHarmonicOscillator()
    {
        var h = AnharmonicOscillator.Solve(0, 6);
        for (int n = 0; n < 6; n++) Assert.Equal(n + 0.5, h.Energies[n], 12);
        Assert.Equal(Math.Sqrt(0.5), h.PositionElements[1], 12);            // ⟨0|x|1⟩ = 1/√2
        Assert.Equal(0, h.PositionElements[3], 12);                           // x connects 0 only to 1
        Assert.Equal(0.5, h.PositionSquaredElements[0], 12);                  // ⟨0|x²|0⟩ = ½
        Assert.Equal(Math.Sqrt(2) / 2, h.PositionSquaredElements[2], 12);      // ⟨0|x²|2⟩ = √2/2
    }

    [Fact]
    public void SmallCouplingFollowsSecondOrderPerturbationTheory()
    {
        // E₀ = ½ + ¾g − (21/8)g² + O(g³), E₁ = 3/2 + (15/4)g − (165/8)g² + O(g³): at g = 10⁻³ the g³ terms are ~10⁻⁷.
        const double g = 1e-3;
        var h = AnharmonicOscillator.Solve(g, 4);
        Assert.True(Math.Abs(h.Energies[0] - (0.5 + 0.75 * g - 21.0 / 8 * g * g)) < 1e-6, $"E0 = {h.Energies[0]}");
        Assert.True(Math.Abs(h.Energies[1] - (1.5 + 3.75 * g - 165.0 / 8 * g * g)) < 1e-5, $"E1 = {h.Energies[1]}");
        Assert.Equal(0, h.PositionElements[2], 10);                           // parity: x connects even to odd only
        Assert.True(h.Convergence < 1e-9);
    }

    [Fact]
    public void StrongCouplingConvergesToTheKnownGroundState()
    {
        // g = 1: E₀ = 0.803770651 (a standard value for H = p²/2 + x²/2 + x⁴).
        var h = AnharmonicOscillator.Solve(1, 2);
        Assert.Equal(0.8037706512, h.Energies[0], 8);
        Assert.Contains("g -1", Assert.Throws<ArgumentException>(() => AnharmonicOscillator.Solve(-1)).Message);
    }

    [Fact]
    public void EuclideanCorrelatorsAreWicksAtZeroCouplingAndTheSpectralSumAtAny()
    {
        // g = 0: Gaussian, so the four-point function is the sum over the three pairings of G(t) = e^{−t}/2.
        var h = AnharmonicOscillator.Solve(0, 12);
        static double G(double t) => Math.Exp(-t) / 2;
        double s1 = 0.3, s2 = 0.5, s3 = 0.2;
        double wick = G(s1) * G(s3) + G(s1 + s2) * G(s2 + s3) + G(s1 + s2 + s3) * G(s2);
        Assert.Equal(wick, h.EuclideanCorrelator(s1, s2, s3), 12);
        Assert.Equal(G(0.7), h.EuclideanCorrelator(0.7), 12);
        // g = 1: the two-point function is Σ|⟨0|x|n⟩|² e^{−(E_n − E₀)t}, and x is odd (⟨0|x|0⟩ = 0, three x vanish).
        var a = AnharmonicOscillator.Solve(1, 20);
        double sum = Enumerable.Range(0, 20).Sum(n => a.PositionElements[n] * a.PositionElements[n] * Math.Exp(-(a.Energies[n] - a.Energies[0]) * 0.4));
        Assert.Equal(sum, a.EuclideanCorrelator(0.4), 12);
        Assert.Equal(0.0, a.EuclideanCorrelator(0.1, 0.2), 10);
        Assert.Throws<ArgumentException>(() => a.EuclideanCorrelator(-0.1));
    }
}
