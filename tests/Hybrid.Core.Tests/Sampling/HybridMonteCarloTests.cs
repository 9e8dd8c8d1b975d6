using Hybrid.Lattice;
using Hybrid.Phi4;
using Hybrid.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Core.Tests.Sampling;

public class HybridMonteCarloTests
{
    [Fact]
    public void FreeFieldMatchesTheExactLatticePropagator()
    {
        const int l = 6, chains = 32;
        const double m2 = 0.5;
        var lattice = new SquareLattice(l);
        var exact = new FreeFieldTheory(lattice, m2);
        using var hmc = new HybridMonteCarlo(new Phi4Action(lattice, Phi4Parameters.FromMass(m2, 0)), chains,
            new HmcOptions { TrajectoryLength = 1.0 }, seed: 11);
        hmc.Thermalize(100, adaptStepSize: true);
        var m2s = new List<double[]>();
        var energies = new List<double[]>();
        var correlators = new List<double[,]>();
        var expH = new List<double[]>();
        for (int i = 0; i < 400; i++)
        {
            var outcome = hmc.Trajectory();
            expH.Add(outcome.DeltaH.Select(d => Math.Exp(-d)).ToArray());
            var m = Phi4Observables.Measure(hmc.Fields);
            m2s.Add(m.MagnetizationSquared.Select(x => x / lattice.Volume).ToArray());
            energies.Add(m.IsingEnergy);
            correlators.Add(m.Correlator);
        }
        AssertWithin(ChainStatistics.MeanOverChains(m2s), exact.Susceptibility, "χ₂");
        AssertWithin(ChainStatistics.MeanOverChains(energies), exact.IsingEnergy, "Ising energy");
        var g = exact.ZeroMomentumCorrelator();
        for (int t = 0; t <= l / 2; t++)
            AssertWithin(ChainStatistics.MeanOverChains(correlators.Select(c => Enumerable.Range(0, chains).Select(k => c[k, t]).ToArray()).ToList()), g[t], $"G_c({t})");
        // Creutz's equality ⟨e^{−ΔH}⟩ = 1 holds for an exact, area-preserving, reversible integrator.
        AssertWithin(ChainStatistics.MeanOverChains(expH), 1.0, "⟨e^{−ΔH}⟩");
    }

    [Fact]
    public void TutorialPointReproducesTheLiteratureSusceptibility()
    {
        // Albergo et al. tutorial (2101.08176), L = 8, m² = −4, λ = 8: χ₂ = 0.75 ± 0.01 from HMC.
        var lattice = new SquareLattice(8);
        using var hmc = new HybridMonteCarlo(new Phi4Action(lattice, Phi4Parameters.FromMass(-4, 8)), 64,
            new HmcOptions(), seed: 2024);
        hmc.Thermalize(200, adaptStepSize: true);
        var chi = new List<double[]>();
        int accepted = 0, total = 0;
        for (int i = 0; i < 600; i++)
        {
            var outcome = hmc.Trajectory();
            accepted += outcome.Accepted.Count(a => a);
            total += outcome.Accepted.Length;
            chi.Add(Phi4Observables.Measure(hmc.Fields).MagnetizationSquared.Select(x => x / lattice.Volume).ToArray());
        }
        var (mean, error) = ChainStatistics.MeanOverChains(chi);
        Assert.True(error < 0.01, $"statistical error {error} too large to test against the literature");
        double combined = Math.Sqrt(error * error + 0.01 * 0.01);
        Assert.True(Math.Abs(mean - 0.75) < 3 * combined, $"χ₂ = {mean} ± {error}, literature 0.75 ± 0.01");
        Assert.InRange(accepted / (double)total, 0.65, 0.95);
    }

    [Fact]
    public void StepSizeAdaptationReachesTheTargetAcceptance()
    {
        using var hmc = new HybridMonteCarlo(new Phi4Action(new SquareLattice(8), Phi4Parameters.FromMass(-4, 8)), 32,
            new HmcOptions { InitialStepSize = 0.9, TargetAcceptance = 0.7, Integrator = MolecularDynamicsIntegrator.Leapfrog }, seed: 5);
        hmc.Thermalize(200, adaptStepSize: true);
        double frozen = hmc.StepSize;
        var rates = Enumerable.Range(0, 200).Select(_ => hmc.Trajectory().DeltaH.Average(d => Math.Min(1, Math.Exp(-d)))).ToArray();
        Assert.Equal(frozen, hmc.StepSize);
        Assert.InRange(rates.Average(), 0.6, 0.8);
    }

    [Fact]
    public void AdaptationPinnedAtTheStepFloorStopsWithADiagnosis()
    {
        // m² = 10⁶: the oscillation period is ~2·10⁻³, so with at most 5 steps per trajectory (ε ≥ 0.2) no proposal is
        // ever accepted and adaptation keeps asking for smaller steps than allowed. It must stop, not crawl.
        using var hmc = new HybridMonteCarlo(new Phi4Action(new SquareLattice(4), Phi4Parameters.FromMass(1e6, 0)), 4,
            new HmcOptions { InitialStepSize = 0.2, MaxStepsPerTrajectory = 5 }, seed: 1);
        var e = Assert.Throws<SamplerDivergenceException>(() => hmc.Thermalize(200, adaptStepSize: true));
        Assert.Contains("too stiff", e.Message);
        Assert.Contains("5 molecular-dynamics steps", e.Message);
    }

    [Fact]
    public void TrajectoriesNeedingTooManyStepsAreRefused()
    {
        var e = Assert.Throws<ArgumentException>(() => new HmcOptions { TrajectoryLength = 1e6 }.Validate());
        Assert.Contains("at most 10000", e.Message);
    }

    [Fact]
    public void SamplesACorrelatedGaussianIn50Dimensions()
    {
        // Σ = A Aᵀ/d + ½ I with A standard normal: eigenvalues from ½ to about 4.5, strongly correlated directions.
        const int d = 50, chains = 32, measured = 1000;
        using var scope = NewDisposeScope();
        var target = CorrelatedGaussian.Random(d, 17);
        var covariance = target.Covariance;
        using var hmc = new HybridMonteCarlo(target, chains, new HmcOptions { TrajectoryLength = 1.5 }, seed: 3);
        hmc.Thermalize(200, adaptStepSize: true);
        var action = new double[chains][];
        var x0x1 = new double[chains][];
        var x0x0 = new double[chains][];
        for (int c = 0; c < chains; c++) (action[c], x0x1[c], x0x0[c]) = (new double[measured], new double[measured], new double[measured]);
        for (int t = 0; t < measured; t++)
        {
            using var inner = NewDisposeScope();
            hmc.Trajectory();
            var s = target.Action(hmc.Fields).data<double>().ToArray();
            var x = hmc.Fields.data<double>().ToArray();
            for (int c = 0; c < chains; c++)
            {
                action[c][t] = s[c];
                x0x1[c][t] = x[c * d] * x[c * d + 1];
                x0x0[c][t] = x[c * d] * x[c * d];
            }
        }
        // ⟨S⟩ = d/2 exactly (⟨xᵀΣ⁻¹x⟩ = tr 1 = d); ⟨x₀x₁⟩ = Σ₀₁ and ⟨x₀²⟩ = Σ₀₀. Γ-method errors, 4σ.
        var sEstimate = Hybrid.Analysis.Statistics.Statistics.GammaMethod(action);
        AssertWithin((sEstimate.Mean, sEstimate.Error), d / 2.0, "⟨S⟩");
        var c01 = Hybrid.Analysis.Statistics.Statistics.GammaMethod(x0x1);
        AssertWithin((c01.Mean, c01.Error), covariance[0, 1].item<double>(), "⟨x₀x₁⟩");
        var c00 = Hybrid.Analysis.Statistics.Statistics.GammaMethod(x0x0);
        AssertWithin((c00.Mean, c00.Error), covariance[0, 0].item<double>(), "⟨x₀²⟩");
        Assert.InRange(sEstimate.RHat, 0.95, 1.05);
        Assert.Equal(new long[] { chains, d }, hmc.Fields.shape);
    }

    [Fact]
    public void ConfigurationsOfAnotherShapeAreRefused()
    {
        using var scope = NewDisposeScope();
        var target = new CorrelatedGaussian(eye(3, dtype: ScalarType.Float64));
        using var hmc = new HybridMonteCarlo(target, 2, new HmcOptions(), seed: 1);
        var e = Assert.Throws<ArgumentException>(() => hmc.SetFields(zeros(2, 4, dtype: ScalarType.Float64)));
        Assert.Contains("expected [2, 3]", e.Message);
    }

    private static void AssertWithin((double Mean, double Error) measured, double exact, string what)
    {
        double pulls = Math.Abs(measured.Mean - exact) / measured.Error;
        Assert.True(pulls < 4, $"{what} = {measured.Mean} ± {measured.Error}, exact {exact} ({pulls:F1}σ)");
    }
}
