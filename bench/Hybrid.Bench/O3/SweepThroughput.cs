using System.Diagnostics;
using System.Globalization;
using System.Text;
using Hybrid.O3;
using Hybrid.Sampling;
using Hybrid.Vmc;
using static TorchSharp.torch;

namespace Hybrid.Bench.O3;

/// <summary>
/// Metropolis sweeps of the O(3) rotor chain's Born density with the two move evaluations side by side: single-site
/// moves evaluated from the wavefunction's cached site terms (local, the default of o3-vmc) against the full
/// re-evaluation of ln ψ on every step (full), on the same ansatz, chains and random numbers, interleaved in one process.
/// </summary>
public static class SweepThroughput
{
    private const int Chains = 128;
    private const int Repetitions = 5;
    private const double MinSeconds = 1.0;
    private const int MemorySteps = 10_000;

    private static MetropolisHastings Sampler(IWavefunction psi, int sites, MoveEvaluation route, Device device)
    {
        using var g = new Generator(4, device);
        using var start = RotorChain.Uniform(Chains, sites, g, device);
        return new MetropolisHastings(new BornDensity(psi), new RandomRotationProposal(RotationMove.SingleSite, 1.0), Chains, 17, 0.5, device, start, route);
    }

    /// <summary>Configurations per second (sweeps of L steps × chains) over whole sweeps lasting ≥ <see cref="MinSeconds"/>.</summary>
    private static double Rate(MetropolisHastings sampler, int sites)
    {
        var clock = Stopwatch.StartNew();
        long sweeps = 0;
        do
        {
            for (int t = 0; t < sites; t++) sampler.Step();
            sweeps++;
        } while (clock.Elapsed.TotalSeconds < MinSeconds);
        return sweeps * Chains / clock.Elapsed.TotalSeconds;
    }

    /// <summary>Runs the benchmark and returns its Markdown report.</summary>
    public static string Run(BenchContext context)
    {
        var device = context.Device;
        var md = new StringBuilder();
        md.AppendLine("# O(3) rotor chain: Metropolis sweeps, local against full move evaluation");
        md.AppendLine();
        md.AppendLine(context.Describe());
        md.AppendLine();
        md.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"Single-site random rotations (o3-vmc's proposal) on |ψ|² of the default singlet ansatz of `bench o3` and o3-vmc (window: star to L/2 and a window of min(L, 6) sites, tanh 16, 16; K features), {Chains} chains. A configuration is one sweep (L single-site steps) of one chain. full: every step evaluates ln ψ of the whole proposed configuration (O(L·K·H) per step); local: the step's change of ln ψ from the cached first-layer pre-activations and site outputs, only the site terms whose features contain the moved site recomputed (L/2 + 1 of them for the star: O(K·H + L·H²) per step), tanh as 2σ(2x) − 1, the cache updated on acceptance and rebuilt from a full evaluation every eight sweeps. Both samplers start from the same chains with the same seed: the states after two sweeps are compared. Configurations per second, median of {Repetitions} repetitions of whole sweeps lasting ≥ {MinSeconds} s, the routes interleaved (full, local, full, …) in one process; local / full is the median of the repetitions' ratios. The exponent is d ln(time per configuration)/d ln L between consecutive sizes (from 16 to 64 in the last row)."));
        md.AppendLine();
        md.AppendLine("| L | K | full (conf/s) | local (conf/s) | local / full | full exponent | local exponent | same states |");
        md.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---|");
        var sizes = new[] { 16, 32, 64 };
        var fullRates = new double[sizes.Length];
        var localRates = new double[sizes.Length];
        for (int s = 0; s < sizes.Length; s++)
        {
            int sites = sizes[s];
            var psi = LocalEnergyThroughput.Ansatz(sites, 16, device);
            using var full = Sampler(psi, sites, MoveEvaluation.Full, device);
            using var local = Sampler(psi, sites, MoveEvaluation.Local, device);
            bool same = true;
            for (int t = 0; t < 2 * sites; t++)
            {
                var a = full.Step();
                var b = local.Step();
                same &= a.SequenceEqual(b);
            }
            using (var scope = NewDisposeScope()) same &= full.State.equal(local.State).all().item<bool>();
            var rates = new Dictionary<MoveEvaluation, List<double>> { [MoveEvaluation.Full] = new(), [MoveEvaluation.Local] = new() };
            for (int rep = 0; rep < Repetitions; rep++)
            {
                rates[MoveEvaluation.Full].Add(Rate(full, sites));
                rates[MoveEvaluation.Local].Add(Rate(local, sites));
            }
            static double Median(IEnumerable<double> values) => values.Order().ElementAt(values.Count() / 2);
            fullRates[s] = Median(rates[MoveEvaluation.Full]);
            localRates[s] = Median(rates[MoveEvaluation.Local]);
            double ratio = Median(rates[MoveEvaluation.Local].Zip(rates[MoveEvaluation.Full], (a, b) => a / b));
            string Exponent(double[] r) => s == 0 ? "" : (Math.Log(r[s - 1] / r[s]) / Math.Log(sizes[s] / (double)sizes[s - 1])).ToString("F2", CultureInfo.InvariantCulture);
            var row = string.Create(CultureInfo.InvariantCulture,
                $"| {sites} | {psi.Network.Features.Count} | {fullRates[s]:F0} | {localRates[s]:F0} | {ratio:F1} | {Exponent(fullRates)} | {Exponent(localRates)} | {(same ? "yes" : "NO")} |");
            Console.WriteLine(row);
            md.AppendLine(row);
            psi.Dispose();
        }
        double Overall(double[] r) => Math.Log(r[0] / r[^1]) / Math.Log(sizes[^1] / (double)sizes[0]);
        var summary = string.Create(CultureInfo.InvariantCulture,
            $"| 16 → 64 | | | | | {Overall(fullRates):F2} | {Overall(localRates):F2} | |");
        Console.WriteLine(summary);
        md.AppendLine(summary);
        md.AppendLine();
        md.AppendLine("## Resident memory over many steps");
        md.AppendLine();
        md.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"The local route at L = 32, {Chains} chains: the process's resident set after every {MemorySteps / 10} of {MemorySteps} single-site steps (the cache's rebuilds every eight sweeps included), against its value after a warm-up sweep."));
        md.AppendLine();
        md.AppendLine("| steps | resident (MiB) | rise (MiB) |");
        md.AppendLine("|---:|---:|---:|");
        {
            const int sites = 32;
            var psi = LocalEnergyThroughput.Ansatz(sites, 16, device);
            using var local = Sampler(psi, sites, MoveEvaluation.Local, device);
            for (int t = 0; t < sites; t++) local.Step();
            var process = Process.GetCurrentProcess();
            GC.Collect();
            process.Refresh();
            long baseline = process.WorkingSet64;
            for (int t = 1; t <= MemorySteps; t++)
            {
                local.Step();
                if (t % (MemorySteps / 10) != 0) continue;
                GC.Collect();
                process.Refresh();
                long now = process.WorkingSet64;
                var row = string.Create(CultureInfo.InvariantCulture, $"| {t} | {now / 1048576.0:F1} | {(now - baseline) / 1048576.0:F1} |");
                Console.WriteLine(row);
                md.AppendLine(row);
            }
            psi.Dispose();
        }
        return md.ToString();
    }
}
