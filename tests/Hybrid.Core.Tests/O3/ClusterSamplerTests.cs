using Hybrid.Numerics;
using Hybrid.O3;
using Hybrid.Sampling;

namespace Hybrid.Core.Tests.O3;

public class ClusterSamplerTests
{
    [Theory]
    [InlineData(1e-4)]
    [InlineData(0.05)]
    [InlineData(0.5)]
    [InlineData(3.0)]
    [InlineData(10.0)]
    public void MatchedTemporalCouplingMakesOneRotorsL1LevelExact(double epsilon)
    {
        // i₁(β)/i₀(β) = coth β − 1/β = e^{−a_t g²}: the one-rotor transfer matrix has the l = 1 level g² exactly.
        double beta = RotorPathIntegral.MatchedTemporalCoupling(epsilon);
        Assert.Equal(Math.Exp(-epsilon), RotorPathIntegral.Langevin(beta), 13);
        // Large β: β ≈ 1/ε + … (the kinetic kernel of a rotor of moment of inertia 1/g²).
        if (epsilon < 0.1) Assert.True(Math.Abs(beta * epsilon - 1) < 2 * epsilon, $"β ε = {beta * epsilon}");
    }

    [Fact]
    public void TheMatchedKernelIsRightToSecondOrderForEveryLevel()
    {
        // ln(i_l/i₀) = −Λ/(2β) − Λ/(4β²) + O(Λ²β⁻³), Λ = l(l + 1): matching l = 1 fixes both terms for all l, so the
        // l = 2 level −ln(i₂/i₀)/a_t is 3g² (Λ = 6) up to O(a_t²). Checked on the exact ratio from the recursion
        // i_{l+1} = i_{l−1} − (2l + 1) i_l/β.
        double g2 = 1.0;
        double Deviation(double at)
        {
            double beta = RotorPathIntegral.MatchedTemporalCoupling(at * g2);
            double r1 = RotorPathIntegral.Langevin(beta);            // i₁/i₀
            double r2 = 1 - 3 * r1 / beta;                            // i₂/i₀
            return -Math.Log(r2) / at - 3 * g2;
        }
        double coarse = Deviation(0.1), fine = Deviation(0.05);
        Assert.True(Math.Abs(coarse) < 0.1, $"l = 2 level off by {coarse} at a_t = 0.1");
        // Halving a_t divides the error by about 4 (second order), not 2.
        Assert.InRange(coarse / fine, 3.5, 4.5);
    }

    [Theory]
    [InlineData(1, 10)]
    [InlineData(5, 10)]
    [InlineData(10, 10)]
    [InlineData(30, 64)]
    [InlineData(48, 97)]
    [InlineData(49, 97)]
    [InlineData(64, 64)]
    [InlineData(200, 200)]
    [InlineData(150, 301)]
    public void CyclicAutocorrelationEqualsTheDirectSum(int width, int period)
    {
        var random = new Xoshiro256(width * 1000 + period);
        var profile = Enumerable.Range(0, width).Select(_ => random.NextDouble() - 0.3).ToArray();
        var cycle = new double[period];
        Array.Copy(profile, 0, cycle, 3 % (period - width + 1), width);
        var expected = new double[period / 2 + 1];
        for (int tau = 0; tau < expected.Length; tau++)
            for (int t = 0; t < period; t++) expected[tau] += cycle[t] * cycle[(t + tau) % period];
        var result = new double[period / 2 + 1];
        new Autocorrelation().AddCyclic(profile, period, 2.0, result);
        for (int tau = 0; tau < expected.Length; tau++) Assert.Equal(2 * expected[tau], result[tau], 10);
    }

    [Fact]
    public void TheGeneratorContinuesFromItsState()
    {
        var a = new Xoshiro256(42);
        for (int i = 0; i < 5; i++) a.NextUInt64();
        var b = Xoshiro256.FromState(a.State);
        for (int i = 0; i < 10; i++) Assert.Equal(a.NextUInt64(), b.NextUInt64());
        var counts = new int[7];
        for (int i = 0; i < 70000; i++) counts[a.NextInt(7)]++;
        // Binomial: 10000 ± 93 per face; 5σ.
        Assert.All(counts, c => Assert.InRange(c, 10000 - 465, 10000 + 465));
        Assert.Throws<ArgumentException>(() => Xoshiro256.FromState(new ulong[4]));
    }

    [Fact]
    public void UpdatesKeepUnitSpinsAndTheSameSeedGivesTheSameChain()
    {
        var lattice = new RotorPathIntegral(4, 16, 1.2, 0.2);
        var a = new ClusterSampler(lattice, 9);
        var b = new ClusterSampler(lattice, 9);
        var ra = a.Run(4, 40, 4);
        var rb = b.Run(4, 40, 4);
        Assert.Equal(ra.Susceptibility, rb.Susceptibility);
        Assert.Equal(ra.Correlator[3], rb.Correlator[3]);
        var spins = a.Spins;
        for (int s = 0; s < lattice.Volume; s++)
        {
            double norm = spins[3 * s] * spins[3 * s] + spins[3 * s + 1] * spins[3 * s + 1] + spins[3 * s + 2] * spins[3 * s + 2];
            Assert.Equal(1.0, norm, 12);
        }
    }

    [Fact]
    public void ImprovedAndPlainSusceptibilitiesAgree()
    {
        // Two estimators of the same ⟨|Σ n|²⟩/V: the cluster one and the configuration's own. With τ_int ≈ 1 sweep,
        // naive errors of 20-sweep block means are honest; 5σ.
        var lattice = new RotorPathIntegral(4, 40, 1.0, 0.2);
        var r = new ClusterSampler(lattice, 3).Run(50, 4000, 20);
        static (double Mean, double Error) Blocked(double[] x)
        {
            var blocks = x.Chunk(200).Select(c => c.Average()).ToArray();
            double m = blocks.Average();
            return (m, Math.Sqrt(blocks.Sum(v => (v - m) * (v - m)) / (blocks.Length * (blocks.Length - 1.0))));
        }
        var improved = Blocked(r.Susceptibility);
        var plain = Blocked(r.PlainSusceptibility);
        double difference = improved.Mean - plain.Mean, error = Math.Sqrt(improved.Error * improved.Error + plain.Error * plain.Error);
        Assert.True(Math.Abs(difference) < 5 * error, $"improved {improved.Mean} ± {improved.Error}, plain {plain.Mean} ± {plain.Error}");
        // The correlator summed over every lag of the cycle is L·χ, cluster by cluster: both are 3(L/|C|)(Σ_C r·n)² at
        // zero momentum and frequency, so the identity holds to rounding in every block.
        int half = lattice.Slices / 2;
        for (int b = 0; b < r.Correlator.Length; b++)
        {
            var g = r.Correlator[b];
            double cycle = g[0] + g[half];
            for (int tau = 1; tau < half; tau++) cycle += 2 * g[tau];
            double chi = r.Susceptibility.Skip(b * r.SweepsPerBlock).Take(r.SweepsPerBlock).Average();
            Assert.Equal(1.0, cycle / (lattice.Sites * chi), 10);
        }
    }

    [Fact]
    public void BadLatticesAreRefusedWithTheValueNamed()
    {
        Assert.Contains("L = 2", Assert.Throws<ArgumentException>(() => new RotorPathIntegral(2, 10, 1, 0.1)).Message);
        Assert.Contains("g² = 0", Assert.Throws<ArgumentException>(() => new RotorPathIntegral(3, 10, 0, 0.1)).Message);
        Assert.Contains("a_t = -0.1", Assert.Throws<ArgumentException>(() => new RotorPathIntegral(3, 10, 1, -0.1)).Message);
        Assert.Contains("3 time slices", Assert.Throws<ArgumentException>(() => new RotorPathIntegral(3, 3, 1, 0.1)).Message);
        var sampler = new ClusterSampler(new RotorPathIntegral(3, 10, 1, 0.1), 1);
        Assert.Contains("blocks", Assert.Throws<ArgumentException>(() => sampler.Run(10, 15, 10)).Message);
    }
}
