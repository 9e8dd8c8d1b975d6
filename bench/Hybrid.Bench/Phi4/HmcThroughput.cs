using System.Globalization;
using System.Text;
using Hybrid.Lattice;
using Hybrid.Phi4;
using Hybrid.Sampling;

namespace Hybrid.Bench.Phi4;

/// <summary>
/// HMC throughput for lattice φ⁴ at m² = −4, λ = 8: trajectories × sites per second at L = 8, 32, 128
/// with 1 and 64 chains per batch. Fixed integration (Omelyan, ε = 0.1, τ = 1: 10 steps, 20 gradients),
/// so every configuration does the same work per site; measurement and adaptation are not timed.
/// </summary>
public static class HmcThroughput
{
    /// <summary>Runs the benchmark and returns its Markdown report.</summary>
    public static string Run(BenchContext context)
    {
        var table = new StringBuilder();
        table.AppendLine("# HMC throughput, lattice φ⁴ (m² = −4, λ = 8)");
        table.AppendLine();
        table.AppendLine(context.Describe());
        table.AppendLine();
        table.AppendLine("Omelyan integrator, ε = 0.1, τ = 1 (10 steps, 20 action gradients per trajectory), float64; median of 3 repetitions of ≥ 1 s.");
        table.AppendLine();
        table.AppendLine("| L | chains | trajectories/s | site-trajectories/s | µs per gradient per chain |");
        table.AppendLine("|---:|---:|---:|---:|---:|");
        foreach (int l in new[] { 8, 32, 128 })
            foreach (int chains in new[] { 1, 64 })
            {
                var lattice = new SquareLattice(l);
                using var hmc = new HybridMonteCarlo(new Phi4Action(lattice, Phi4Parameters.FromMass(-4, 8)), chains,
                    new HmcOptions { InitialStepSize = 0.1, TrajectoryLength = 1.0 }, seed: 1, context.Device);
                hmc.Thermalize(3, adaptStepSize: false);
                double rate = Timing.MedianRate(() => { hmc.Trajectory(); return 1; });
                double sites = rate * chains * lattice.Volume;
                double usPerGradient = 1e6 / (rate * hmc.GradientsPerTrajectory * chains);
                var row = string.Create(CultureInfo.InvariantCulture, $"| {l} | {chains} | {rate:F1} | {sites:E3} | {usPerGradient:F2} |");
                Console.WriteLine(row);
                table.AppendLine(row);
            }
        return table.ToString();
    }
}
