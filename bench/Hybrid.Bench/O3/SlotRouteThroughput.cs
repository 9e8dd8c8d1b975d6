using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Hybrid.O3;
using Hybrid.Runtime;
using static TorchSharp.torch;

namespace Hybrid.Bench.O3;

/// <summary>
/// The O(3) rotor chain's forward-Laplacian local energy by its three routes side by side: the fused CPU loop (the
/// default for per-site singlets), the tensor route with the sparse placement of each feature's gradient rows into
/// their slots, and the tensor route with the dense contraction against the one-hot feature → slot map; on the same
/// wavefunction and configurations, interleaved in one process with the eager-PyTorch anchor and a float64 GEMM.
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

    /// <summary>The anchor script, looked for beside the checkout (../shared/anchors) or in it.</summary>
    private static string? AnchorScript()
    {
        foreach (var dir in new[] { Path.Combine("..", "shared", "anchors"), Path.Combine("shared", "anchors") })
        {
            var path = Path.GetFullPath(Path.Combine(dir, "o3_local_energy_torch.py"));
            if (File.Exists(path)) return path;
        }
        return null;
    }

    /// <summary>
    /// Configurations per second of the eager-PyTorch anchor (one thread, 3L double-backward passes, 64 configurations
    /// per evaluation; the median of its three repetitions of ≥ <see cref="MinSeconds"/> s), or null with the reason.
    /// </summary>
    private static (double? Rate, string Note) Anchor(string script, int sites)
    {
        var start = new ProcessStartInfo("/usr/bin/python3")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            ArgumentList = { script, "bench", "--L", $"{sites}", "--batch", $"{Batch}", "--seconds", MinSeconds.ToString(CultureInfo.InvariantCulture) },
        };
        try
        {
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(300_000)) { process.Kill(); return (null, "timed out"); }
            if (process.ExitCode != 0) return (null, stderr.Result.Trim().Split('\n').LastOrDefault() ?? $"exit {process.ExitCode}");
            using var json = JsonDocument.Parse(stdout.Result.Trim().Split('\n').Last());
            var rates = json.RootElement.GetProperty("loop_conf_per_s").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            return (Median(rates), "");
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or JsonException or InvalidOperationException or KeyNotFoundException)
        {
            return (null, e.Message);
        }
    }

    private static double Median(IEnumerable<double> values) => values.Order().ElementAt(values.Count() / 2);

    /// <summary>
    /// The float64 matrix-product rate of this libtorch (torch.mm, one thread, GFLOP/s, 2 per multiply-add) at
    /// [m, k] × [k, n], median of 3 repetitions of ≥ 0.2 s.
    /// </summary>
    private static double GemmRate(long m, long k, long n)
    {
        using var scope = NewDisposeScope();
        using var g = new TorchSharp.torch.Generator(11);
        var a = randn(new[] { m, k }, dtype: ScalarType.Float64, generator: g);
        var b = randn(new[] { k, n }, dtype: ScalarType.Float64, generator: g);
        a.mm(b).Dispose();
        var rates = new List<double>();
        for (int rep = 0; rep < 3; rep++)
        {
            var clock = Stopwatch.StartNew();
            long calls = 0;
            do { a.mm(b).Dispose(); calls++; } while (clock.Elapsed.TotalSeconds < 0.2);
            rates.Add(2.0 * m * k * n * calls / clock.Elapsed.TotalSeconds / 1e9);
        }
        return Median(rates);
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

    /// <summary>Runs the benchmark and returns its Markdown report.</summary>
    public static string Run(BenchContext context)
    {
        var device = context.Device;
        var md = new StringBuilder();
        md.AppendLine("# O(3) rotor chain: local energy, fused loop against the sparse and dense slot routes");
        md.AppendLine();
        md.AppendLine(context.Describe());
        md.AppendLine();
        string load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "unknown";
        md.AppendLine($"Load average (1 min) when the run started: {load}.");
        var (glibc, glibcNote) = PreviousRoute();
        md.AppendLine();
        var chunkText = string.Join(" or ", Chunks);
        md.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"Forward-Laplacian local energies (float64) of the singlet ansätze of `bench o3`: window (star to L/2 and a window of min(L, 6) sites, tanh 16, 16) and mp (the star embedded, two rounds of range-1 messages, tanh 16, 16, 16). K features, D slots. Three routes on the same wavefunction and configurations: *fused* (the default for per-site singlets in float64 on the CPU: one vectorised C# loop over configurations and sites, a site's jet in cache), *sparse* (tensor ops; the first layer places each feature's gradient rows into its slots by one matrix product per shared slot and one in-place multiply-add per run of single slots) and *dense* (tensor ops with a dense contraction against the one-hot [2K, D] feature → slot map). For mp the fused route is the managed site-jet kernel (`SiteJetKernel`), message rounds included. {Batch} configurations evaluated in chunks of {chunkText}; configurations per second, median of {Repetitions} repetitions of ≥ {MinSeconds} s, the routes interleaved (dense, sparse, fused, anchor, dense, …) in one process; ratios are medians of the repetitions' ratios. *Previous*: the dense route as it ran before the native heap was tuned, measured first in a process of its own started with HYBRID_MALLOC=system (glibc's start-up policy: a fresh mmap per large block, the heap's top trimmed), which a process that has called mallopt cannot get back; the other routes run with freed memory kept (`NativeHeap`, Hybrid's default); *current* is the fastest route. *Anchor*: the eager-PyTorch script (`/work/shared/anchors/o3_local_energy_torch.py bench`, PyTorch 1.13 with reference BLAS, one thread, 3L double-backward passes) on the window ansatz with 64 configurations per evaluation, started once per repetition from this process; its rate stands in both chunk rows. FLOPs per configuration are counted from the shapes (2 per multiply-add): the useful count is the work of the sparse placement and the layers (values, Laplacians and 3D gradient rows through every linear map, tanh's gradient work), the dense count adds the one-hot contraction. *GEMM fraction*: useful GFLOP/s of the fused loop over the float64 torch.mm rate measured in this run (the larger of the two shapes below). |ΔE|: largest difference of the fused local energies (sparse where no fused route applies) from the dense route's, relative to the largest |E|."));
        md.AppendLine();
        // The GEMM reference: the shape of the dominant product (the second layer on the gradient rows of 16
        // configurations at L = 64: [16·64·3·33, 16] × [16, 16]) and a square product near libtorch's peak.
        double gemmThin = GemmRate(16 * 64 * 3 * 33, 16, 16), gemmSquare = GemmRate(512, 512, 512);
        double gemm = Math.Max(gemmThin, gemmSquare);
        md.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"float64 torch.mm, one thread: {gemmThin:F2} GFLOP/s at [33792, 16] × [16, 16] (the second layer's gradient rows of 16 configurations at L = 64), {gemmSquare:F2} GFLOP/s at 512³; the fraction below is against {gemm:F2} GFLOP/s."));
        md.AppendLine();
        md.AppendLine("| L | ansatz | K | D | chunk | previous (conf/s) | current / previous | dense (conf/s) | sparse (conf/s) | fused (conf/s) | fused / dense | fused / sparse | sparse / dense | anchor (conf/s) | fused / anchor | useful MFLOP/conf | dense MFLOP/conf | useful GFLOP/s (fastest) | GEMM fraction | rel. \\|ΔE\\| |");
        md.AppendLine("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        var anchorScript = File.Exists("/usr/bin/python3") ? AnchorScript() : null;
        var anchorNotes = new List<string>();
        foreach (int sites in new[] { 16, 32, 64 })
        {
            foreach (var (name, psi) in new[] { ("window", LocalEnergyThroughput.Ansatz(sites, 16, device)), ("mp", LocalEnergyThroughput.MessagePassing(sites, device)) })
            {
                using var g = new TorchSharp.torch.Generator(3, device);
                using var n = RotorChain.Uniform(Batch, sites, g, device);
                var (useful, executed, _) = Flops(psi.Network, sites);
                // Fused: the per-site loop for the window ansatz, the managed site-jet kernel for message passing.
                bool fusedApplies;
                using (no_grad()) fusedApplies = psi.Network.FusedDerivatives(n.narrow(0, 0, 1)) is not null || psi.Network.UsesManagedKernel(n);
                var routes = fusedApplies ? new[] { SlotRoute.Dense, SlotRoute.Sparse, SlotRoute.Fused } : new[] { SlotRoute.Dense, SlotRoute.Sparse };
                bool withAnchor = name == "window" && anchorScript is not null;
                var anchorRates = new List<double>();
                foreach (int chunk in Chunks)
                {
                    var h = new RotorChainHamiltonian(sites, 1.0, LaplacianRoute.Forward, chunk);
                    double difference;
                    using (var scope = NewDisposeScope())
                    {
                        psi.SlotRoute = SlotRoute.Dense;
                        var dense = h.LocalValues(psi, n);
                        psi.SlotRoute = routes[^1];
                        var best = h.LocalValues(psi, n);
                        difference = (best - dense).abs().max().item<double>() / dense.abs().max().item<double>();
                    }
                    var rates = routes.ToDictionary(r => r, _ => new List<double>());
                    for (int rep = 0; rep < Repetitions; rep++)
                    {
                        foreach (var route in routes)
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
                        // The anchor in the first chunk's repetitions only: it has no chunks of its own.
                        if (withAnchor && chunk == Chunks[0])
                        {
                            var (rate, note) = Anchor(anchorScript!, sites);
                            if (rate is { } r) anchorRates.Add(r);
                            else anchorNotes.Add($"L = {sites}: {note}");
                        }
                    }
                    psi.SlotRoute = SlotRoute.Fused;
                    double Rate(SlotRoute r) => rates.TryGetValue(r, out var list) ? Median(list) : double.NaN;
                    double Ratio(SlotRoute a, SlotRoute b) => rates.ContainsKey(a) && rates.ContainsKey(b) ? Median(rates[a].Zip(rates[b], (x, y) => x / y)) : double.NaN;
                    string Text(double v, string format) => double.IsNaN(v) ? "–" : v.ToString(format, CultureInfo.InvariantCulture);
                    double fastest = fusedApplies ? Rate(SlotRoute.Fused) : Rate(SlotRoute.Sparse);
                    double anchor = anchorRates.Count > 0 ? Median(anchorRates) : double.NaN;
                    double usefulRate = useful * fastest / 1e9;
                    double previous = glibc.TryGetValue((sites, name, chunk), out double p) ? p : double.NaN;
                    var row = string.Create(CultureInfo.InvariantCulture,
                        $"| {sites} | {name} | {psi.Network.Features.Count} | {psi.Network.Features.Offsets} | {chunk} | {Text(previous, "F0")} | {Text(fastest / previous, "F1")} | {Rate(SlotRoute.Dense):F0} | {Rate(SlotRoute.Sparse):F0} | {Text(Rate(SlotRoute.Fused), "F0")} | {Text(Ratio(SlotRoute.Fused, SlotRoute.Dense), "F1")} | {Text(Ratio(SlotRoute.Fused, SlotRoute.Sparse), "F1")} | {Ratio(SlotRoute.Sparse, SlotRoute.Dense):F2} | {Text(anchor, "F0")} | {Text(fusedApplies ? Rate(SlotRoute.Fused) / anchor : double.NaN, "F0")} | {useful / 1e6:F2} | {executed / 1e6:F2} | {usefulRate:F2} | {usefulRate / gemm:P0} | {difference:E1} |");
                    Console.WriteLine(row);
                    md.AppendLine(row);
                }
                psi.Dispose();
            }
        }
        if (glibcNote != "") md.AppendLine().AppendLine($"The previous route in its own process was not measured: {glibcNote}.");
        if (anchorScript is null) md.AppendLine().AppendLine("The anchor did not run: /usr/bin/python3 or /work/shared/anchors/o3_local_energy_torch.py is missing.");
        foreach (var note in anchorNotes) md.AppendLine().AppendLine($"Anchor failed at {note}");
        md.AppendLine();
        md.AppendLine("## Memory of one evaluation");
        md.AppendLine();
        md.AppendLine("Rise of the process's resident set during one local-energy evaluation of 64 configurations in one chunk (as in `bench o3`), each route after a warm-up, dense first; the fused loop's workspace is one site's jet, so its rise is the inputs and outputs alone.");
        md.AppendLine();
        md.AppendLine("| L | ansatz | dense peak rise (MiB) | sparse peak rise (MiB) | fused peak rise (MiB) |");
        md.AppendLine("|---:|---|---:|---:|---:|");
        foreach (int sites in new[] { 32, 64 })
        {
            foreach (var (name, psi) in new[] { ("window", LocalEnergyThroughput.Ansatz(sites, 16, device)), ("mp", LocalEnergyThroughput.MessagePassing(sites, device)) })
            {
                using var g = new TorchSharp.torch.Generator(7, device);
                using var n = RotorChain.Uniform(Batch, sites, g, device);
                var h = new RotorChainHamiltonian(sites, 1.0, LaplacianRoute.Forward, Batch);
                var rise = new Dictionary<SlotRoute, long>();
                foreach (var route in new[] { SlotRoute.Dense, SlotRoute.Sparse, SlotRoute.Fused })
                {
                                        psi.SlotRoute = route;
                    h.LocalValues(psi, n.narrow(0, 0, 8)).Dispose();   // warm-up
                    rise[route] = LocalEnergyThroughput.PeakRise(() => { using var e = h.LocalValues(psi, n); e.sum().item<double>(); });
                }
                var row = string.Create(CultureInfo.InvariantCulture,
                    $"| {sites} | {name} | {rise[SlotRoute.Dense] / 1048576.0:F1} | {rise[SlotRoute.Sparse] / 1048576.0:F1} | {(rise.TryGetValue(SlotRoute.Fused, out var f) ? (f / 1048576.0).ToString("F1", CultureInfo.InvariantCulture) : "–")} |");
                Console.WriteLine(row);
                md.AppendLine(row);
                psi.Dispose();
            }
        }
        return md.ToString();
    }
}
