using System.Globalization;
using System.Text;
using Hybrid.O3;

namespace Hybrid.Bench.O3;

/// <summary>
/// The path-integral reference of the rotor chain: sites flipped per second by Wolff clusters, sites per second of a
/// heat-bath sweep and of a whole measured sweep (clusters with the improved estimators), beside a memory-bandwidth
/// roofline measured in the same run: a triad a[i] = b[i] + s·c[i] over arrays as large as the lattice's spins, turned
/// into sites per second by the bytes one cluster visit moves at the least (its spin read and written, its four
/// neighbours' spins and cluster marks read: 24·2 + 4·(24 + 4) = 160 bytes). The cluster is a chain of dependent
/// random accesses, so the roofline is a bound, not a target.
/// </summary>
public static class ClusterThroughput
{
    private const double BytesPerVisit = 160;

    private static double TriadBytesPerSecond(int doubles)
    {
        var a = new double[doubles];
        var b = new double[doubles];
        var c = new double[doubles];
        for (int i = 0; i < doubles; i++) { b[i] = i; c[i] = 1.0 / (i + 1); }
        double rate = Timing.MedianRate(() =>
        {
            for (int i = 0; i < a.Length; i++) a[i] = b[i] + 0.5 * c[i];
            return a.Length;
        });
        return rate * 24;   // two reads and one write of 8 bytes per element
    }

    /// <summary>Runs the benchmark and returns its Markdown table.</summary>
    public static string Run(BenchContext context)
    {
        var cases = new (int Sites, double G2, double Extent, double TimeStep)[]
        {
            (8, 0.79, 60, 0.2),      // a step-scaling 2L chain at L = 4
            (16, 0.67, 120, 0.2),    // 2L = 16, the largest chain of the VMC comparison
            (32, 0.63, 250, 0.2),    // 2L = 32
            (128, 0.75, 160, 0.1),   // an infinite-volume box for c²
        };
        var table = new StringBuilder();
        table.AppendLine("# Path-integral reference: cluster throughput against a memory roofline\n");
        table.AppendLine(context.Describe() + "\n");
        table.AppendLine("One thread. Sites per second; the roofline is the triad bandwidth over the same amount of memory divided by 160 bytes per cluster visit.\n");
        table.AppendLine("| L × N_t (g², a_t) | mean cluster / V | cluster flips /s | heat-bath sites /s | measured sweep: sites /s | triad GB/s | roofline sites /s | clusters / roofline |");
        table.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var (sites, g2, extent, timeStep) in cases)
        {
            var lattice = new RotorPathIntegral(sites, RotorPathIntegral.SlicesFor(extent, timeStep), g2, timeStep);
            var sampler = new ClusterSampler(lattice, 1);
            for (int i = 0; i < 20 * lattice.Volume / 100 + 1000; i++) sampler.Update();   // thermalise and warm up
            long flipped = 0, clusters = 0;
            double flips = Timing.MedianRate(() =>
            {
                int n = 0;
                for (int k = 0; k < 64; k++) n += sampler.Update();
                flipped += n;
                clusters += 64;
                return n;
            });
            double heatBath = Timing.MedianRate(() => { sampler.HeatBathSweep(); return lattice.Volume; });
            double measured = Timing.MedianRate(() => { sampler.Run(2, 10, 2, 0); return 12 * lattice.Volume; });
            double triad = TriadBytesPerSecond(3 * lattice.Volume);
            double roofline = triad / BytesPerVisit;
            table.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {sites} × {lattice.Slices} ({g2}, {timeStep}) | {(double)flipped / clusters / lattice.Volume:F3} | {flips:E3} | {heatBath:E3} | {measured:E3} | {triad / 1e9:F1} | {roofline:E3} | {flips / roofline:P0} |"));
        }
        return table.ToString();
    }
}
