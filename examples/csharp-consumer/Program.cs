using Hybrid.Analysis.Statistics;
using Hybrid.Lattice;
using Hybrid.Phi4;
using Hybrid.Sampling;

// HMC at the tutorial point L = 8, m² = −4, λ = 8 (Albergo et al. 2101.08176: χ₂ = 0.75 ± 0.01).
var lattice = new SquareLattice(8);
var action = new Phi4Action(lattice, Phi4Parameters.FromMass(massSquared: -4, lambda: 8));
const int chains = 16, trajectories = 400;
using var hmc = new HybridMonteCarlo(action, chains, new HmcOptions(), seed: 2026);
hmc.Thermalize(100, adaptStepSize: true);
var m = Enumerable.Range(0, chains).Select(_ => new double[trajectories]).ToArray();
for (int t = 0; t < trajectories; t++)
{
    hmc.Trajectory();
    var measured = Phi4Observables.Measure(hmc.Fields);
    for (int c = 0; c < chains; c++) m[c][t] = measured.MagnetizationSquared[c] / lattice.Volume;
}
var chi2 = Statistics.GammaMethod(m);
Console.WriteLine($"chi2 = {Statistics.Format(chi2)} (tau_int {chi2.TauInt:F2}, R-hat {chi2.RHat:F3}); literature 0.75(1)");
double pull = Math.Abs(chi2.Mean - 0.75) / Math.Sqrt(chi2.Error * chi2.Error + 0.01 * 0.01);
Console.WriteLine(pull < 4 ? "consumer: OK" : $"consumer: chi2 is {pull:F1} sigma from the literature");
return pull < 4 ? 0 : 1;
