using System.Diagnostics;
using System.Globalization;
using System.Text;
using Hybrid.O3;
using static TorchSharp.torch;

namespace Hybrid.Bench.O3;

/// <summary>
/// The O(3) rotor chain's forward-Laplacian local energy with the first layer's two slot routes side by side: the
/// sparse placement of each feature's gradient rows into their slots (the default) against the dense contraction with
/// the one-hot feature → slot map, on the same wavefunction and configurations, interleaved in one process.
/// </summary>
public static class SlotRouteThroughput
{
    private const int Batch = 64;
    private static readonly int[] Chunks = { 64, 16 };
    private const int Repetitions = 3;
    private const double MinSeconds = 0.3;

    /// <summary>
    /// FLOPs per configuration of one forward-Laplacian evaluation, counted from the shapes (2 per multiply-add): the
    /// linear maps on values, gradients and Laplacians, the weighting of the invariants' gradient rows, the mixing
    /// of message slots, tanh's gradient work, and the slot placement (dense: 2 · 2K · D per row of 3H; sparse: 2K
    /// adds). Returns the total with the sparse placement (the useful count), with the dense one, and the dense
    /// placement alone.
    /// </summary>
    internal static (double Useful, double Dense, double Placement) Flops(InvariantNetwork network, int sites)
    {
        double k = network.Features.Count, d = network.Features.Offsets, r = network.MessageRange;
        var hidden = network.Hidden;
        double common = 0, sparse = 0, dense = 0;
        void Input(double h)
        {
            common += sites * (2 * k * h + k + 2 * k * h + 2 * k * 3 * h);   // value, −4c and Laplacian, weighted rows
            sparse += sites * 2 * k * 3 * h;
            dense += sites * 2 * (2 * k) * d * 3 * h;
        }
        void Tanh(double slots, double h) => common += sites * (3 * slots * 3 * h + 6 * h);
        Input(1);
        if (hidden.Count > 0)
        {
            Input(hidden[0]);
            double slots = d;
            Tanh(slots, hidden[0]);
            for (int layer = 1; layer < hidden.Count; layer++)
            {
                double a = hidden[layer - 1], b = hidden[layer], blocks = 2 * r + 1;
                common += blocks * sites * 2 * a * b * (2 + 3 * slots);
                if (r > 0)
                {
                    common += blocks * sites * slots * 3 * b;                  // reframed slots added up
                    slots = Math.Min(slots + 2 * r, sites);
                }
                Tanh(slots, b);
            }
            common += sites * 2 * hidden[^1] * (2 + 3 * slots);
        }
        return (common + sparse, common + dense, dense);
    }

    /// <summary>Runs the benchmark and returns its Markdown report.</summary>
    public static string Run(BenchContext context)
    {
        var device = context.Device;
        var md = new StringBuilder();
        md.AppendLine("# O(3) rotor chain: local energy, sparse against dense slot placement");
        md.AppendLine();
        md.AppendLine(context.Describe());
        md.AppendLine();
        var chunkText = string.Join(" or ", Chunks);
        md.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"Forward-Laplacian local energies (float64) of the singlet ansätze of `bench o3`: window (star to L/2 and a window of min(L, 6) sites, tanh 16, 16) and mp (the star embedded, two rounds of range-1 messages, tanh 16, 16, 16). K features, D slots. The first layer places each feature's two gradient rows into the slots of its two sites either by a dense contraction with the one-hot [2K, D] map (dense, the former route) or sparsely (the default): one matrix product per slot that several features feed, one in-place broadcast multiply-add per run of slots fed by one feature each. {Batch} configurations evaluated in chunks of {chunkText} (`bench o3` uses 64, o3-vmc 256 by default), the same wavefunction and configurations for both routes; configurations per second, median of {Repetitions} repetitions of ≥ {MinSeconds} s, the two routes interleaved (dense, sparse, dense, …) in one process; sparse / dense is the median of the repetitions' ratios. FLOPs per configuration are counted from the shapes (2 per multiply-add; linear maps, slot placement, message mixing and tanh's gradient work): useful (executed by the sparse route), executed by the dense route, and the dense placement's share of the latter. |ΔE| is the largest difference of the two routes' local energies relative to the largest |E|."));
        md.AppendLine();
        md.AppendLine("| L | ansatz | K | D | chunk | dense (conf/s) | sparse (conf/s) | sparse / dense | useful MFLOP/conf | dense MFLOP/conf | dense placement share | useful GFLOP/s (sparse) | rel. \\|ΔE\\| |");
        md.AppendLine("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (int sites in new[] { 16, 32, 64 })
        {
            foreach (var (name, psi) in new[] { ("window", LocalEnergyThroughput.Ansatz(sites, 16, device)), ("mp", LocalEnergyThroughput.MessagePassing(sites, device)) })
            {
                using var g = new TorchSharp.torch.Generator(3, device);
                using var n = RotorChain.Uniform(Batch, sites, g, device);
                var (useful, executed, placement) = Flops(psi.Network, sites);
                foreach (int chunk in Chunks)
                {
                    var h = new RotorChainHamiltonian(sites, 1.0, LaplacianRoute.Forward, chunk);
                    double difference;
                    using (var scope = NewDisposeScope())
                    {
                        psi.SlotRoute = SlotRoute.Dense;
                        var dense = h.LocalValues(psi, n);
                        psi.SlotRoute = SlotRoute.Sparse;
                        var sparse = h.LocalValues(psi, n);
                        difference = (sparse - dense).abs().max().item<double>() / dense.abs().max().item<double>();
                    }
                    var rates = new Dictionary<SlotRoute, List<double>> { [SlotRoute.Dense] = new(), [SlotRoute.Sparse] = new() };
                    for (int rep = 0; rep < Repetitions; rep++)
                    {
                        foreach (var route in new[] { SlotRoute.Dense, SlotRoute.Sparse })
                        {
                            psi.SlotRoute = route;
                            var clock = Stopwatch.StartNew();
                            long configurations = 0;
                            do
                            {
                                using var scope = NewDisposeScope();
                                h.LocalValues(psi, n).sum().item<double>();
                                configurations += Batch;
                            } while (clock.Elapsed.TotalSeconds < MinSeconds);
                            rates[route].Add(configurations / clock.Elapsed.TotalSeconds);
                        }
                    }
                    psi.SlotRoute = SlotRoute.Sparse;
                    static double Median(IEnumerable<double> values) => values.Order().ElementAt(values.Count() / 2);
                    double denseRate = Median(rates[SlotRoute.Dense]), sparseRate = Median(rates[SlotRoute.Sparse]);
                    double ratio = Median(rates[SlotRoute.Sparse].Zip(rates[SlotRoute.Dense], (a, b) => a / b));
                    var row = string.Create(CultureInfo.InvariantCulture,
                        $"| {sites} | {name} | {psi.Network.Features.Count} | {psi.Network.Features.Offsets} | {chunk} | {denseRate:F0} | {sparseRate:F0} | {ratio:F2} | {useful / 1e6:F2} | {executed / 1e6:F2} | {placement / executed:P0} | {useful * sparseRate / 1e9:F2} | {difference:E1} |");
                    Console.WriteLine(row);
                    md.AppendLine(row);
                }
                psi.Dispose();
            }
        }
        md.AppendLine();
        md.AppendLine("## Memory of one evaluation");
        md.AppendLine();
        md.AppendLine("Rise of the process's resident set during one local-energy evaluation of 64 configurations in one chunk (as in `bench o3`), each route after a warm-up, dense first.");
        md.AppendLine();
        md.AppendLine("| L | ansatz | dense peak rise (MiB) | sparse peak rise (MiB) |");
        md.AppendLine("|---:|---|---:|---:|");
        foreach (int sites in new[] { 32, 64 })
        {
            foreach (var (name, psi) in new[] { ("window", LocalEnergyThroughput.Ansatz(sites, 16, device)), ("mp", LocalEnergyThroughput.MessagePassing(sites, device)) })
            {
                using var g = new TorchSharp.torch.Generator(7, device);
                using var n = RotorChain.Uniform(Batch, sites, g, device);
                var h = new RotorChainHamiltonian(sites, 1.0, LaplacianRoute.Forward, Batch);
                var rise = new Dictionary<SlotRoute, long>();
                foreach (var route in new[] { SlotRoute.Dense, SlotRoute.Sparse })
                {
                    psi.SlotRoute = route;
                    h.LocalValues(psi, n.narrow(0, 0, 8)).Dispose();   // warm-up
                    rise[route] = LocalEnergyThroughput.PeakRise(() => { using var e = h.LocalValues(psi, n); e.sum().item<double>(); });
                }
                var row = string.Create(CultureInfo.InvariantCulture,
                    $"| {sites} | {name} | {rise[SlotRoute.Dense] / 1048576.0:F1} | {rise[SlotRoute.Sparse] / 1048576.0:F1} |");
                Console.WriteLine(row);
                md.AppendLine(row);
                psi.Dispose();
            }
        }
        return md.ToString();
    }
}
