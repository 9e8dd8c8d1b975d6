using System.Diagnostics;
using System.Globalization;
using System.Runtime.Intrinsics;
using System.Text;
using System.Text.Json;
using Hybrid.Nnft;
using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Bench.Nnft;

/// <summary>
/// Ensemble throughput of random-network field theories: Gauss-nets (d = 1) of widths 10, 100, 1000 at 4 and 16
/// points, float32 and float64, in networks per second through <see cref="NetworkEnsemble"/> (drawing, evaluation and
/// float64 accumulation of every G₂ and G₄ multiset), by the fused CPU kernel and by the tensor route, interleaved in
/// one process. Beside them two rooflines measured in the same run: the fused kernel's (<see cref="FusedRoofline"/>:
/// every unavoidable part of a network, normals, activations, multiply-adds and the float64 accumulation, at the rate of
/// its bare vectorised kernel) and the tensor route's (the same draws and arithmetic with bare tensor ops, no
/// accumulation); then the fused route's time split into those parts, its resident memory after 10⁶ and 10⁸ networks,
/// which must not grow with the ensemble, and the eager-PyTorch anchor when python3 with torch is there. Times are
/// the thread's CPU time (<see cref="ThreadClock"/>), so that other work on a shared machine does not count.
/// </summary>
public static class EnsembleThroughput
{
    private static readonly double[][] Points4 = { new[] { -0.3 }, new[] { 0.0 }, new[] { 0.2 }, new[] { 0.5 } };

    private static double[][] Points(int p) => p == 4 ? Points4 : Enumerable.Range(0, p).Select(i => new[] { -1.0 + 2.0 * i / (p - 1) }).ToArray();

    private static NetworkEnsemble Ensemble(int width, int points, ScalarType dtype, EnsembleEngine engine, Device device) =>
        new(new SingleLayerNetwork(NetworkActivation.Gauss, 1, width, 0.6, 0.3), Points(points),
            new EnsembleOptions { Networks = long.MaxValue / 2, DType = dtype, Blocks = 64, Engine = engine }, 1, device);

    /// <summary>Networks per second: the fastest trial of ≥ 0.02 s (at least one call) within ≥ <paramref name="seconds"/> s of the thread's CPU time.</summary>
    private static double Rate(Func<int> work, double seconds = 1.0) => ThreadClock.BestRate(() => work(), seconds);

    private static double Median(List<double> values)
    {
        values.Sort();
        return values[values.Count / 2];
    }

    /// <summary>The same arithmetic as the tensor route with bare tensor ops: randn of W0, b0, W1, b1; the pre-activations; exp; the readout.</summary>
    private static double TensorRooflineRate(int width, int points, int chunk, ScalarType dtype, Device device)
    {
        using var x = tensor(Points(points).SelectMany(p => p).ToArray(), new long[] { points, 1 }, dtype: dtype, device: device);
        using var generator = new Generator(2, device);
        return Median(Enumerable.Range(0, 3).Select(_ => Rate(() =>
        {
            using var scope = NewDisposeScope();
            var w0 = randn(new long[] { chunk, width, 1 }, dtype: dtype, device: device, generator: generator);
            var b0 = randn(new long[] { chunk, width, 1 }, dtype: dtype, device: device, generator: generator);
            var w1 = randn(new long[] { chunk, 1, width }, dtype: dtype, device: device, generator: generator);
            var b1 = randn(new long[] { chunk, 1 }, dtype: dtype, device: device, generator: generator);
            var phi = matmul(w1, matmul(w0, x.t()).add_(b0).exp_()).squeeze(1).add_(b1);
            phi.sum().to(ScalarType.Float64).item<double>();   // wait for the device
            return chunk;
        })).ToList());
    }

    private static double ResidentMegabytes()
    {
        using var p = Process.GetCurrentProcess();
        p.Refresh();
        return p.WorkingSet64 / 1048576.0;
    }

    /// <summary>The anchor script, looked for beside the checkout (../shared/anchors) or in it.</summary>
    private static string? AnchorScript()
    {
        foreach (var dir in new[] { Path.Combine("..", "shared", "anchors"), Path.Combine("shared", "anchors") })
        {
            var path = Path.GetFullPath(Path.Combine(dir, "nnft_ensemble_torch.py"));
            if (File.Exists(path)) return path;
        }
        return null;
    }

    /// <summary>Networks per second of the eager-PyTorch anchor (one thread), or null with the reason.</summary>
    private static (double? Rate, string Note) Anchor(string script, int width, int points, ScalarType dtype)
    {
        long networks = width switch { 10 => 400_000, 100 => 100_000, _ => 20_000 };
        var start = new ProcessStartInfo("/usr/bin/python3")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            ArgumentList = { script, "--width", $"{width}", "--points", $"{points}", "--networks", $"{networks}", "--dtype", dtype == ScalarType.Float32 ? "float32" : "float64", "--threads", "1" },
        };
        try
        {
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(120_000)) { process.Kill(); return (null, "timed out"); }
            if (process.ExitCode != 0) return (null, stderr.Result.Trim().Split('\n').LastOrDefault() ?? $"exit {process.ExitCode}");
            using var json = JsonDocument.Parse(stdout.Result.Trim().Split('\n').Last());
            return (json.RootElement.GetProperty("networks_per_s").GetDouble(), "");
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or JsonException or InvalidOperationException)
        {
            return (null, e.Message);
        }
    }

    /// <summary>Runs the benchmark and returns its Markdown report.</summary>
    public static string Run(BenchContext context)
    {
        var md = new StringBuilder();
        md.AppendLine("# NN-FT ensemble throughput (Gauss-net, d = 1)");
        md.AppendLine();
        md.AppendLine(context.Describe());
        md.AppendLine();
        // Other work on the machine moves absolute rates by tens of per cent: say how busy it was.
        string load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "unknown";
        md.AppendLine($"Load average (1 min) when the table was written: {load}. The two routes were measured interleaved (fused, tensor, fused, …) so that their ratio is fair whatever else runs; compare within a row.");
        md.AppendLine();
        FusedRoofline.Measure(true, 1.0);   // tiered JIT
        FusedRoofline.Measure(false, 1.0);
        var measured = new Dictionary<bool, List<FusedRoofline.Rates>> { [true] = new(), [false] = new() };
        md.AppendLine("Networks per second through `NetworkEnsemble` (draw, evaluate, accumulate every G₂ and G₄ multiset in float64) by the fused route and by the tensor route; median of 3 interleaved repetitions, each the fastest trial within ≥ 1 s of the thread's CPU time (each bare rate of the roofline within ≥ 0.5 s). *Fused roofline*: what the fused route would reach if each unavoidable part of a network ran at the rate of its bare vectorised kernel, measured in the same repetitions (bare rates below): the 3N + 1 normals at the generator's rate, the N·P activations at the vector exponential's, the N·P·(d + 1) multiply-adds of pre-activations and readout at the FMA peak of the dtype, and the C(P+3, 4) + 2·C(P+1, 2) + P float64 multiply-adds of the G₄ multisets, pair products, G₂ multisets and G₁ at the float64 FMA peak (1 / the summed times). *Tensor roofline*: the same draws and arithmetic with bare tensor ops at the tensor route's chunk, no accumulation.");
        md.AppendLine();
        md.AppendLine("| width | points | dtype | chunk fused / tensor | fused networks/s | tensor networks/s | fused / tensor | fused roofline | fused fraction | tensor roofline | tensor fraction |");
        md.AppendLine("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (int width in new[] { 10, 100, 1000 })
            foreach (int points in new[] { 4, 16 })
                foreach (var dtype in new[] { ScalarType.Float32, ScalarType.Float64 })
                {
                    bool single = dtype == ScalarType.Float32;
                    var fused = Ensemble(width, points, dtype, EnsembleEngine.Fused, context.Device);
                    var tensorRoute = Ensemble(width, points, dtype, EnsembleEngine.Tensor, context.Device);
                    fused.Step();   // warm-up
                    tensorRoute.Step();
                    var fusedRates = new List<double>();
                    var tensorRates = new List<double>();
                    var roofRates = new List<double>();
                    for (int r = 0; r < 3; r++)
                    {
                        fusedRates.Add(Rate(() => (int)fused.Step()));
                        tensorRates.Add(Rate(() => (int)tensorRoute.Step()));
                        var rates = FusedRoofline.Measure(single, 0.5);
                        measured[single].Add(rates);
                        roofRates.Add(FusedRoofline.NetworksPerSecond(width, points, 1, rates));
                    }
                    double f = Median(fusedRates), t = Median(tensorRates);
                    double fusedRoof = Median(roofRates);
                    double tensorRoof = TensorRooflineRate(width, points, tensorRoute.ChunkSize, dtype, context.Device);
                    var row = string.Create(CultureInfo.InvariantCulture,
                        $"| {width} | {points} | {(single ? "float32" : "float64")} | {fused.ChunkSize} / {tensorRoute.ChunkSize} | {f:E3} | {t:E3} | {f / t:F1}× | {fusedRoof:E3} | {f / fusedRoof:P0} | {tensorRoof:E3} | {t / tensorRoof:P0} |");
                    Console.WriteLine(row);
                    md.AppendLine(row);
                }
        md.AppendLine();
        md.AppendLine("The bare rates the fused roofline charges, median over all rows (`Vector512`; hardware-accelerated: " + Vector512.IsHardwareAccelerated + "): the generator is xoshiro256** ×8 with Box–Muller, the exponential `VectorExp` on L1-resident arguments, the FMA peak twelve independent register accumulators.");
        md.AppendLine();
        md.AppendLine("| dtype | normals/s | exponentials/s | FMA/s (dtype) | FMA/s (float64) |");
        md.AppendLine("|---|---:|---:|---:|---:|");
        foreach (bool single in new[] { true, false })
        {
            var r = measured[single];
            var row = string.Create(CultureInfo.InvariantCulture,
                $"| {(single ? "float32" : "float64")} | {Median(r.Select(x => x.Normals).ToList()):E3} | {Median(r.Select(x => x.Exponentials).ToList()):E3} | {Median(r.Select(x => x.Fma).ToList()):E3} | {Median(r.Select(x => x.Fma64).ToList()):E3} |");
            Console.WriteLine(row);
            md.AppendLine(row);
        }
        md.AppendLine();
        md.AppendLine("Where the fused route's time goes, nanoseconds per network (fastest of 3 interleaved rounds): *normals* the bare generator over the kernel's draws; *evaluation* a ReLU-net's kernel (its max nearly free) less the normals: pre-activations, readout, writing φ; *activations* the Gauss-net's kernel less the ReLU-net's; *accumulation* `CorrelatorSums.Add` on a chunk of 16384 networks' φ in 64 blocks. Evaluation and activations are differences of whole kernels: where the exponentials overlap other work, the overlap shows as a shorter activation time. Beside them the roofline's time and its four parts (normals + exponentials + multiply-adds + float64 accumulation).");
        md.AppendLine();
        FusedRoofline.ProfileTable(md);
        md.AppendLine();
        md.AppendLine("Resident memory of this process while a fused-route ensemble grows (width 10, 4 points, float32): it must stay flat.");
        md.AppendLine();
        md.AppendLine("| networks | resident MB | seconds |");
        md.AppendLine("|---:|---:|---:|");
        var net = new SingleLayerNetwork(NetworkActivation.Gauss, 1, 10, 0.6, 0.3);
        var big = new NetworkEnsemble(net, Points4, new EnsembleOptions { Networks = 100_000_000, DType = ScalarType.Float32, Engine = EnsembleEngine.Fused }, 3, context.Device);
        var clock = Stopwatch.StartNew();
        foreach (long target in new[] { 1_000_000L, 10_000_000L, 100_000_000L })
        {
            while (big.Sums.Networks < target) big.Step();
            var row = string.Create(CultureInfo.InvariantCulture, $"| {big.Sums.Networks:E1} | {ResidentMegabytes():F0} | {clock.Elapsed.TotalSeconds:F0} |");
            Console.WriteLine(row);
            md.AppendLine(row);
        }
        md.AppendLine();
        md.AppendLine("The eager-PyTorch anchor (`../shared/anchors/nnft_ensemble_torch.py`, one thread, run from this process; it draws and evaluates the same Gauss-nets but accumulates G₂ and a single G₄, so it does less work at 16 points) beside the fused route's rate measured right after it.");
        md.AppendLine();
        var script = AnchorScript();
        if (script is null || !File.Exists("/usr/bin/python3"))
            md.AppendLine("Not run: no /usr/bin/python3 or no anchor script beside the checkout.");
        else
        {
            md.AppendLine("| width | points | dtype | PyTorch networks/s | fused / PyTorch |");
            md.AppendLine("|---:|---:|---|---:|---:|");
            foreach (int width in new[] { 10, 100, 1000 })
                foreach (int points in new[] { 4, 16 })
                {
                    var (rate, note) = Anchor(script, width, points, ScalarType.Float32);
                    var fused = Ensemble(width, points, ScalarType.Float32, EnsembleEngine.Fused, context.Device);
                    fused.Step();
                    double f = Timing.MedianRate(() => (int)fused.Step());
                    var row = rate is { } a
                        ? string.Create(CultureInfo.InvariantCulture, $"| {width} | {points} | float32 | {a:E3} | {f / a:F1}× |")
                        : $"| {width} | {points} | float32 | not run: {note} | |";
                    Console.WriteLine(row);
                    md.AppendLine(row);
                }
        }
        return md.ToString();
    }
}
