using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Hybrid.Bench;
using Hybrid.Bench.Phi4;

// Usage: Hybrid.Bench [hmc] [flows] [conv-route] [flows-quality] [nnft] [nnft-profile] [nnqm] [o3] [o3-local-energy] [o3-mc] [o3-sweep] [--out DIR] [--device auto|cpu|cuda]
//        [--quality-sizes 8,12,20] [--quality-flows realnvp,cnf] [--quality-steps 500,2000] [--quality-seconds 600]
// The O(3) local-energy benchmark's previous route, measured in a process of its own (its parent starts it).
if (args is [Hybrid.Bench.O3.SlotRouteThroughput.PreviousRouteArgument])
    return Hybrid.Bench.O3.SlotRouteThroughput.PreviousRouteChild(Hybrid.Runtime.TorchRuntime.Resolve(Hybrid.Runtime.ComputeDevice.Cpu));
var plan = new FlowQualityPlan(new[] { 8, 12 }, Hybrid.Phi4.Flows.FlowDefinitions.Kinds, new[] { 500, 2000 }, new[] { 600 });
var defaultPlan = plan;
var benchmarks = new Dictionary<string, Func<BenchContext, string>>
{
    ["hmc"] = HmcThroughput.Run,
    ["flows"] = FlowBenchmarks.Throughput,
    ["conv-route"] = FlowBenchmarks.ConvolutionRoute,
    ["flows-quality"] = context => FlowBenchmarks.Quality(context, plan),
    ["nnft"] = Hybrid.Bench.Nnft.EnsembleThroughput.Run,
    ["nnft-profile"] = Hybrid.Bench.Nnft.FusedRoofline.Profile,
    ["nnqm"] = Hybrid.Bench.Nnqm.PathThroughput.Run,
    ["o3"] = Hybrid.Bench.O3.LocalEnergyThroughput.Run,
    ["o3-local-energy"] = Hybrid.Bench.O3.SlotRouteThroughput.Run,
    ["o3-mc"] = Hybrid.Bench.O3.ClusterThroughput.Run,
    ["o3-sweep"] = Hybrid.Bench.O3.SweepThroughput.Run,
};
var selected = new List<string>();
string outDir = Path.Combine("bench", "results");
string device = "auto";
static List<int> IntList(string text) =>
    text.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(s => int.TryParse(s, out int v) && v >= 0 ? v
        : throw new ArgumentException($"'{s}' in '{text}' is not a non-negative integer")).Where(v => v > 0).ToList();
static List<string> FlowList(string text) =>
    text.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(s => Hybrid.Phi4.Flows.FlowDefinitions.Kinds.Contains(s) ? s
        : throw new ArgumentException($"flow '{s}' in '{text}' is not known; allowed: {string.Join(", ", Hybrid.Phi4.Flows.FlowDefinitions.Kinds)}")).ToList();
try
{
    for (int i = 0; i < args.Length; i++)
    {
        switch (args[i])
        {
            case "--out" when i + 1 < args.Length: outDir = args[++i]; break;
            case "--device" when i + 1 < args.Length: device = args[++i]; break;
            case "--quality-steps" when i + 1 < args.Length: plan = plan with { Steps = IntList(args[++i]) }; break;
            case "--quality-seconds" when i + 1 < args.Length: plan = plan with { Seconds = IntList(args[++i]) }; break;
            case "--quality-sizes" when i + 1 < args.Length:
                plan = plan with { Sizes = IntList(args[++i]) };
                foreach (int l in plan.Sizes) FlowBenchmarks.ReferenceLambda(l);   // unknown L: error before any work
                break;
            case "--quality-flows" when i + 1 < args.Length: plan = plan with { Flows = FlowList(args[++i]) }; break;
            case var name when benchmarks.ContainsKey(name): selected.Add(name); break;
            default:
                Console.Error.WriteLine($"error: unknown benchmark or option '{args[i]}'; allowed: {string.Join(", ", benchmarks.Keys)}, --out DIR, --device auto|cpu|cuda, --quality-sizes L,L, --quality-flows realnvp,cnf, --quality-steps N,N, --quality-seconds S,S");
                return 2;
        }
    }
}
catch (ArgumentException e) { Console.Error.WriteLine($"error: {e.Message}"); return 2; }
if (selected.Contains("flows-quality") && (plan.Sizes.Count == 0 || plan.Flows.Count == 0 || plan.Steps.Count + plan.Seconds.Count == 0))
{
    Console.Error.WriteLine("error: flows-quality needs at least one lattice size, one flow and one step or time milestone");
    return 2;
}
// flows-quality trains for an hour or more on a laptop CPU: it runs only when named.
if (selected.Count == 0) selected.AddRange(new[] { "hmc", "flows" });

Hybrid.Runtime.ComputeDevice choice;
try { choice = Hybrid.Runtime.TorchRuntime.ParseDevice(device); }
catch (ArgumentException e) { Console.Error.WriteLine($"error: {e.Message}"); return 2; }
var context = new BenchContext(Hybrid.Runtime.TorchRuntime.Resolve(choice));
Directory.CreateDirectory(outDir);
foreach (var name in selected)
{
    var markdown = benchmarks[name](context);
    // A partial quality plan (e.g. one L per process) gets its own file rather than overwriting the full one.
    string tag = name == "flows-quality" && plan.Tag != defaultPlan.Tag ? "-" + plan.Tag : "";
    var path = Path.Combine(outDir, $"{name}{tag}-{context.MachineSlug}.md");
    Hybrid.IO.AtomicFile.WriteAllBytes(path, System.Text.Encoding.UTF8.GetBytes(markdown));
    Console.WriteLine(markdown);
    Console.WriteLine($"written {path}");
}
return 0;

namespace Hybrid.Bench
{
    /// <summary>Where a benchmark runs, and how it describes that machine.</summary>
    public sealed record BenchContext(TorchSharp.torch.Device Device)
    {
        /// <summary>A short file-name-safe name of the machine kind, e.g. <c>linux-x64-2cpu</c> or <c>linux-x64-cuda</c>.</summary>
        public string MachineSlug =>
            $"{(OperatingSystem.IsLinux() ? "linux" : OperatingSystem.IsMacOS() ? "osx" : "windows")}-{RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant()}-" +
            (Device.type == TorchSharp.DeviceType.CUDA ? "cuda" : $"{Environment.ProcessorCount}cpu");

        /// <summary>A Markdown paragraph describing the machine and the runtime.</summary>
        public string Describe()
        {
            string cpu = "unknown CPU";
            if (File.Exists("/proc/cpuinfo"))
                cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name"))?.Split(':', 2)[1].Trim() ?? cpu;
            return string.Create(CultureInfo.InvariantCulture,
                $"Machine: {cpu}, {Environment.ProcessorCount} logical cores, {RuntimeInformation.OSDescription}; device {Device}; " +
                $"torch threads {TorchSharp.torch.get_num_threads()}; .NET {Environment.Version}; {Hybrid.Runtime.TorchRuntime.Description.Replace(Directory.GetCurrentDirectory(), ".")}. " +
                $"Measured {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC.");
        }
    }

    /// <summary>Median of repeated timings of a piece of work, in work units per second.</summary>
    public static class Timing
    {
        /// <summary>Runs <paramref name="work"/> (returning units done) repeatedly for at least <paramref name="minSeconds"/> per repetition.</summary>
        public static double MedianRate(Func<int> work, int repetitions = 3, double minSeconds = 1.0)
        {
            var rates = new List<double>();
            for (int r = 0; r < repetitions; r++)
            {
                var clock = Stopwatch.StartNew();
                long units = 0;
                do units += work(); while (clock.Elapsed.TotalSeconds < minSeconds);
                rates.Add(units / clock.Elapsed.TotalSeconds);
            }
            rates.Sort();
            return rates[rates.Count / 2];
        }

        /// <summary>The median wall time of <paramref name="repetitions"/> runs of <paramref name="work"/>, in seconds.</summary>
        public static double MedianSeconds(Action work, int repetitions)
        {
            var times = new List<double>();
            for (int r = 0; r < repetitions; r++)
            {
                var clock = Stopwatch.StartNew();
                work();
                times.Add(clock.Elapsed.TotalSeconds);
            }
            times.Sort();
            return times[times.Count / 2];
        }
    }
}
