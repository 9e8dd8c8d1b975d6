using System.Diagnostics;
using System.Globalization;
using System.Text;
using Hybrid.O3;
using Hybrid.Runtime;
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

    /// <summary>The core's float64 GEMM rate (GFLOP/s): torch.mm of two 512 × 512 matrices, median of 3 runs of ≥ 0.3 s.</summary>
    internal static double GemmRate(Device device)
    {
        const int size = 512;
        using var g = new TorchSharp.torch.Generator(1, device);
        using var a = randn(new long[] { size, size }, dtype: ScalarType.Float64, device: device, generator: g);
        using var b = randn(new long[] { size, size }, dtype: ScalarType.Float64, device: device, generator: g);
        using (var warm = a.mm(b)) warm.sum().item<double>();
        var rates = new List<double>();
        for (int rep = 0; rep < Repetitions; rep++)
        {
            var clock = Stopwatch.StartNew();
            long products = 0;
            do
            {
                using var c = a.mm(b);
                c[0, 0].item<double>();
                products++;
            } while (clock.Elapsed.TotalSeconds < MinSeconds);
            rates.Add(2.0 * size * size * size * products / clock.Elapsed.TotalSeconds / 1e9);
        }
        return rates.Order().ElementAt(rates.Count / 2);
    }

    /// <summary>The argument that makes the bench process measure the previous route for its parent.</summary>
    public const string PreviousRouteArgument = "o3-local-energy-previous-route";

    private static readonly int[] Sizes = { 16, 32, 64 };

    /// <summary>
    /// The previous route as it ran before Hybrid tuned the native heap: the dense placement in a process whose glibc
    /// keeps its start-up policy (started with HYBRID_MALLOC=system), which cannot be restored in a process that has
    /// called mallopt. Prints one line per (L, ansatz, chunk): "L ansatz chunk conf/s".
    /// </summary>
    public static int PreviousRouteChild(Device device)
    {
        foreach (int sites in Sizes)
            foreach (var (name, psi) in new[] { ("window", LocalEnergyThroughput.Ansatz(sites, 16, device)), ("mp", LocalEnergyThroughput.MessagePassing(sites, device)) })
            {
                using var g = new TorchSharp.torch.Generator(3, device);
                using var n = RotorChain.Uniform(Batch, sites, g, device);
                psi.SlotRoute = SlotRoute.Dense;
                foreach (int chunk in Chunks)
                {
                    var h = new RotorChainHamiltonian(sites, 1.0, LaplacianRoute.Forward, chunk);
                    using (var warm = NewDisposeScope()) h.LocalValues(psi, n).sum().item<double>();
                    var rates = new List<double>();
                    for (int rep = 0; rep < Repetitions; rep++)
                    {
                        var clock = Stopwatch.StartNew();
                        long configurations = 0;
                        do
                        {
                            using var scope = NewDisposeScope();
                            h.LocalValues(psi, n).sum().item<double>();
                            configurations += Batch;
                        } while (clock.Elapsed.TotalSeconds < MinSeconds);
                        rates.Add(configurations / clock.Elapsed.TotalSeconds);
                    }
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{sites} {name} {chunk} {rates.Order().ElementAt(rates.Count / 2):R}"));
                }
                psi.Dispose();
            }
        return 0;
    }

    /// <summary>The previous route's rates from a child process (<see cref="PreviousRouteChild"/>), or why not.</summary>
    private static (Dictionary<(int, string, int), double> Rates, string Note) PreviousRoute()
    {
        var rates = new Dictionary<(int, string, int), double>();
        // This process again: its apphost, or `dotnet Hybrid.Bench.dll` when it runs under the dotnet host.
        var path = Environment.ProcessPath;
        var entry = System.Reflection.Assembly.GetEntryAssembly()?.Location;
        if (path is null || entry is null) return (rates, "the bench's own executable was not found");
        var start = new ProcessStartInfo(path) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(path) == "dotnet") start.ArgumentList.Add(entry);
        start.ArgumentList.Add(PreviousRouteArgument);
        start.Environment[NativeHeap.EnvironmentVariable] = "system";
        try
        {
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(900_000)) { process.Kill(); return (rates, "timed out"); }
            if (process.ExitCode != 0) return (rates, stderr.Result.Trim().Split('\n').LastOrDefault() ?? $"exit {process.ExitCode}");
            foreach (var line in stdout.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                var f = line.Trim().Split(' ');
                if (f.Length == 4 && int.TryParse(f[0], out int l) && int.TryParse(f[2], out int c)
                    && double.TryParse(f[3], NumberStyles.Float, CultureInfo.InvariantCulture, out double r))
                    rates[(l, f[1], c)] = r;
            }
            return (rates, "");
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return (rates, e.Message);
        }
    }

    /// <summary>The eager-PyTorch anchor's configurations per second (window ansatz, one thread), or null with why.</summary>
    private static (double? Rate, string Note) Anchor(int sites)
    {
        string? script = new[] { Path.Combine("..", "shared", "anchors"), Path.Combine("shared", "anchors") }
            .Select(d => Path.GetFullPath(Path.Combine(d, "o3_local_energy_torch.py"))).FirstOrDefault(File.Exists);
        if (script is null || !File.Exists("/usr/bin/python3")) return (null, "no /usr/bin/python3 or no anchor script beside the checkout");
        var start = new ProcessStartInfo("/usr/bin/python3")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            ArgumentList = { script, "bench", "--L", $"{sites}", "--batch", "16", "--seconds", $"{MinSeconds.ToString(CultureInfo.InvariantCulture)}" },
        };
        start.Environment["OMP_NUM_THREADS"] = "1";
        try
        {
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(300_000)) { process.Kill(); return (null, "timed out"); }
            if (process.ExitCode != 0) return (null, stderr.Result.Trim().Split('\n').LastOrDefault() ?? $"exit {process.ExitCode}");
            using var json = System.Text.Json.JsonDocument.Parse(stdout.Result.Trim().Split('\n').Last());
            var rates = json.RootElement.GetProperty("loop_conf_per_s").EnumerateArray().Select(e => e.GetDouble()).Order().ToList();
            return (rates[rates.Count / 2], "");
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or System.Text.Json.JsonException or InvalidOperationException or KeyNotFoundException)
        {
            return (null, e.Message);
        }
    }

    /// <summary>Runs the benchmark and returns its Markdown report.</summary>
    public static string Run(BenchContext context)
    {
        var device = context.Device;
        var md = new StringBuilder();
        md.AppendLine("# O(3) rotor chain: local energy, slot placement and native heap");
        md.AppendLine();
        md.AppendLine(context.Describe());
        md.AppendLine();
        string load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "unknown";
        double gemm = GemmRate(device);
        var (glibc, glibcNote) = PreviousRoute();
        var chunkText = string.Join(" or ", Chunks);
        md.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"Forward-Laplacian local energies (float64) of the singlet ansätze of `bench o3`: window (star to L/2 and a window of min(L, 6) sites, tanh 16, 16) and mp (the star embedded, two rounds of range-1 messages, tanh 16, 16, 16). K features, D slots. Two choices are crossed. The first layer places each feature's two gradient rows into the slots of its two sites either by a dense contraction with the one-hot [2K, D] map (dense, the former route) or sparsely (the default): one matrix product per slot that several features feed, one in-place broadcast multiply-add per run of slots fed by one feature each. libtorch's tensors come from glibc either under its own policy (system: a fresh mmap for every block above the mmap threshold, set here to 32 MiB, the largest its dynamic threshold reaches, with a trim threshold of 64 MiB, so that this column is glibc's default at its most favourable) or from heaps that keep freed memory (keep: Hybrid's default, `NativeHeap`). The previous route as it ran before (dense · glibc) is measured first in a process of its own started with HYBRID_MALLOC=system, where glibc keeps its start-up policy (a dynamic mmap threshold from 128 KiB, trimming the heap's top), which a process that has called mallopt cannot get back; the current route is sparse · keep. {Batch} configurations evaluated in chunks of {chunkText} (`bench o3` uses 64, o3-vmc 256 by default), the same wavefunction and configurations for every variant; configurations per second, median of {Repetitions} repetitions of ≥ {MinSeconds} s, the four variants interleaved in one process (the heap policy switched with mallopt between them); ratios are medians of the repetitions' ratios. Useful FLOPs per configuration are counted from the shapes (2 per multiply-add; linear maps, the sparse slot placement, message mixing and tanh's gradient work). The float64 GEMM rate of this core, measured in the same run (torch.mm, 512 × 512, one thread): {gemm:F1} GFLOP/s; the last column is the current route's useful rate as a fraction of it. |ΔE| is the largest difference of the routes' local energies relative to the largest |E|. Load average (1 min) at the start: {load}."));
        md.AppendLine();
        md.AppendLine("| L | ansatz | K | D | chunk | dense · glibc | dense · system | sparse · system | dense · keep | sparse · keep (conf/s) | current / previous | current / dense · system | keep / system (sparse) | sparse / dense (keep) | useful MFLOP/conf | useful GFLOP/s | of GEMM | rel. \\|ΔE\\| |");
        md.AppendLine("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        var variants = new[] { (SlotRoute.Dense, false), (SlotRoute.Sparse, false), (SlotRoute.Dense, true), (SlotRoute.Sparse, true) };
        var anchors = new List<string>();
        bool keptAtStart = NativeHeap.KeepsFreedMemory;
        try
        {
            foreach (int sites in Sizes)
            {
                double windowCurrent = double.NaN;
                foreach (var (name, psi) in new[] { ("window", LocalEnergyThroughput.Ansatz(sites, 16, device)), ("mp", LocalEnergyThroughput.MessagePassing(sites, device)) })
                {
                    using var g = new TorchSharp.torch.Generator(3, device);
                    using var n = RotorChain.Uniform(Batch, sites, g, device);
                    var (useful, _, _) = Flops(psi.Network, sites);
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
                        var rates = variants.ToDictionary(v => v, _ => new List<double>());
                        for (int rep = 0; rep < Repetitions; rep++)
                        {
                            foreach (var variant in variants)
                            {
                                NativeHeap.KeepFreedMemory(variant.Item2);
                                psi.SlotRoute = variant.Item1;
                                var clock = Stopwatch.StartNew();
                                long configurations = 0;
                                do
                                {
                                    using var scope = NewDisposeScope();
                                    h.LocalValues(psi, n).sum().item<double>();
                                    configurations += Batch;
                                } while (clock.Elapsed.TotalSeconds < MinSeconds);
                                rates[variant].Add(configurations / clock.Elapsed.TotalSeconds);
                            }
                        }
                        psi.SlotRoute = SlotRoute.Sparse;
                        NativeHeap.KeepFreedMemory(keptAtStart);
                        static double Median(IEnumerable<double> values) => values.Order().ElementAt(values.Count() / 2);
                        double Rate((SlotRoute, bool) v) => Median(rates[v]);
                        double Ratio((SlotRoute, bool) a, (SlotRoute, bool) b) => Median(rates[a].Zip(rates[b], (x, y) => x / y));
                        var previous = (SlotRoute.Dense, false);
                        var current = (SlotRoute.Sparse, true);
                        double currentRate = Rate(current);
                        double Glibc() => glibc.TryGetValue((sites, name, chunk), out double r) ? r : double.NaN;
                        if (name == "window" && chunk == Chunks[0]) windowCurrent = currentRate;
                        var row = string.Create(CultureInfo.InvariantCulture,
                            $"| {sites} | {name} | {psi.Network.Features.Count} | {psi.Network.Features.Offsets} | {chunk} | {Glibc():F0} | {Rate(previous):F0} | {Rate((SlotRoute.Sparse, false)):F0} | {Rate((SlotRoute.Dense, true)):F0} | {currentRate:F0} | {currentRate / Glibc():F1} | {Ratio(current, previous):F1} | {Ratio(current, (SlotRoute.Sparse, false)):F2} | {Ratio(current, (SlotRoute.Dense, true)):F2} | {useful / 1e6:F2} | {useful * currentRate / 1e9:F2} | {useful * currentRate / 1e9 / gemm:P0} | {difference:E1} |");
                        Console.WriteLine(row);
                        md.AppendLine(row);
                    }
                    psi.Dispose();
                }
                var (anchor, why) = Anchor(sites);
                anchors.Add(anchor is double a
                    ? string.Create(CultureInfo.InvariantCulture, $"| {sites} | {a:F1} | {windowCurrent:F0} | {windowCurrent / a:F0} |")
                    : $"| {sites} | not run: {why} | | |");
            }
        }
        finally
        {
            NativeHeap.KeepFreedMemory(keptAtStart);
        }
        if (glibcNote != "") md.AppendLine($"\nThe previous route in its own process was not measured: {glibcNote}.");
        md.AppendLine();
        md.AppendLine("## Beside the eager-PyTorch anchor");
        md.AppendLine();
        md.AppendLine("`../shared/anchors/o3_local_energy_torch.py bench --L L --batch 16` (PyTorch 1.13 with reference BLAS, one thread, the window ansatz, the Laplacian by 3L double-backward passes), run from this process after each L's rows, beside the current route's window rate in chunks of 64 from those rows.");
        md.AppendLine();
        md.AppendLine("| L | anchor (conf/s) | Hybrid, sparse · keep (conf/s) | Hybrid / anchor |");
        md.AppendLine("|---:|---:|---:|---:|");
        foreach (var line in anchors) md.AppendLine(line);
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
