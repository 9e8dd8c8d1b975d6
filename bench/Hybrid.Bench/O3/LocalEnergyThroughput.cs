using System.Diagnostics;
using System.Globalization;
using System.Text;
using Hybrid.O3;
using Hybrid.Vmc;
using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Bench.O3;

/// <summary>
/// VMC of the O(3) rotor chain: local-energy throughput (configurations × sites per second) with the forward Laplacian
/// and with autodiff side by side; the stochastic-reconfiguration solve and the one-pass per-sample Jacobian against
/// the parameter count; the memory of a local-energy evaluation against the number of configurations at a fixed chunk
/// (flat) and against L.
/// </summary>
public static class LocalEnergyThroughput
{
    // The experiments' default ansatz: the star with a window of min(L, 6) sites, tanh layers 16, 16.
    internal static SingletWavefunction Ansatz(int sites, int width, Device device) =>
        Randomised(new SingletWavefunction(sites, new[] { width, width }, 1, PairFeatures.StarAndWindow(sites / 2, Math.Min(6, sites))), device);

    // The message-passing ansatz (`--ansatz mp --hidden 16,16,16`): the star embedded, two rounds of range-1 messages.
    internal static SingletWavefunction MessagePassing(int sites, Device device) =>
        Randomised(new SingletWavefunction(sites, new[] { 16, 16, 16 }, 1, messageRange: 1), device);

    private static SingletWavefunction Randomised(SingletWavefunction psi, Device device)
    {
        using (no_grad())
        using (var g = new Generator(2))
            foreach (var p in psi.parameters()) p.copy_(randn(p.shape, dtype: p.dtype, generator: g).mul(0.3));
        psi.to(device);
        return psi;
    }

    private static double Rate(RotorChainHamiltonian h, IRotorWavefunction psi, Tensor n) =>
        Timing.MedianRate(() =>
        {
            using var scope = NewDisposeScope();
            var e = h.LocalValues(psi, n);
            e.sum().item<double>();
            return (int)(n.shape[0] * n.shape[1]);
        }, repetitions: 3, minSeconds: 1.0);

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int MallocTrim(UIntPtr pad);

    // The resident set of the process, sampled every millisecond while work runs: its rise over the value before is
    // the peak memory of the work (libtorch's CPU allocations are invisible to the .NET heap counters). Freed memory
    // goes back to the system first (glibc's malloc_trim), or a later evaluation would reuse what an earlier one
    // left and seem to need nothing.
    internal static long PeakRise(Action work)
    {
        var process = Process.GetCurrentProcess();
        GC.Collect();
        if (OperatingSystem.IsLinux()) MallocTrim(UIntPtr.Zero);
        process.Refresh();
        long before = process.WorkingSet64, peak = before;
        using var done = new ManualResetEventSlim();
        var sampler = new Thread(() =>
        {
            while (!done.IsSet)
            {
                process.Refresh();
                peak = Math.Max(peak, process.WorkingSet64);
                Thread.Sleep(1);
            }
        });
        sampler.Start();
        // The sampler allocates while the work's TorchSharp calls run: without the hold a collection it triggers could
        // free one of TorchSharp's temporary scalars under libtorch (docs/runtime.md).
        using (Hybrid.Runtime.FinaliserHold.Enter())
            work();
        done.Set();
        sampler.Join();
        return Math.Max(0, peak - before);
    }

    /// <summary>Runs the benchmark and returns its Markdown report.</summary>
    public static string Run(BenchContext context)
    {
        var device = context.Device;
        var md = new StringBuilder();
        md.AppendLine("# O(3) rotor chain: local energies, stochastic reconfiguration, memory");
        md.AppendLine();
        md.AppendLine(context.Describe());
        md.AppendLine();
        md.AppendLine("## Local energy: forward Laplacian against autodiff (float64)");
        md.AppendLine();
        md.AppendLine("Singlet ansätze of the experiments: window (star to L/2 and a window of min(L, 6) sites, tanh 16, 16; the default) and mp (the star embedded, two rounds of range-1 messages, tanh 16, 16, 16: each site's gradient spans up to L slots). Chunks of 64 configurations; configurations × sites per second, median of 3 repetitions of ≥ 1 s, both routes in the same run on the same configurations. Autodiff takes one backward pass per coordinate (3L).");
        md.AppendLine();
        md.AppendLine("| L | ansatz | parameters | forward (conf·sites/s) | autodiff (conf·sites/s) | forward / autodiff |");
        md.AppendLine("|---:|---|---:|---:|---:|---:|");
        foreach (int sites in new[] { 8, 32, 64 })
        {
            foreach (var (name, psi) in new[] { ("window", Ansatz(sites, 16, device)), ("mp", MessagePassing(sites, device)) })
            {
                using var g = new Generator(3, device);
                using var n = RotorChain.Uniform(64, sites, g, device);
                double forward = Rate(new RotorChainHamiltonian(sites, 1.0, LaplacianRoute.Forward, 64), psi, n);
                double autodiff = Rate(new RotorChainHamiltonian(sites, 1.0, LaplacianRoute.Autodiff, 64), psi, n);
                var row = string.Create(CultureInfo.InvariantCulture,
                    $"| {sites} | {name} | {VariationalState.ParameterCount(psi)} | {forward:E3} | {autodiff:E3} | {forward / autodiff:F1} |");
                Console.WriteLine(row);
                md.AppendLine(row);
            }
        }
        md.AppendLine();
        md.AppendLine("## Stochastic reconfiguration against the parameter count");
        md.AppendLine();
        md.AppendLine("N = 512 samples at L = 16; the ansatz's width sets P. Per-sample log-derivatives O (one forward and one backward pass with per-sample parameter copies), then the SR solve: the P × P system while P ≤ N, minSR's N × N system beyond. Median of 5, milliseconds.");
        md.AppendLine();
        md.AppendLine("| width | P | solve in | Jacobian (ms) | SR solve (ms) |");
        md.AppendLine("|---:|---:|---|---:|---:|");
        foreach (int width in new[] { 4, 8, 16, 32, 64 })
        {
            var psi = Ansatz(16, width, device);
            using var g = new Generator(5, device);
            using var n = RotorChain.Uniform(512, 16, g, device);
            using var eps = randn(new long[] { 512 }, dtype: ScalarType.Float64, device: device, generator: g);
            Tensor? o = null;
            double jacobian = Timing.MedianSeconds(() => { o?.Dispose(); o = VariationalState.LogDerivatives(psi, n); o.sum().item<double>(); }, 5) * 1e3;
            using var centred = o! - o!.mean(new long[] { 0 }, keepdim: true);
            bool sampleSpace = false;
            double solve = Timing.MedianSeconds(() =>
            {
                using var scope = NewDisposeScope();
                StochasticReconfiguration.Direction(centred, eps, 1e-3, out sampleSpace).sum().item<double>();
            }, 5) * 1e3;
            var row = string.Create(CultureInfo.InvariantCulture,
                $"| {width} | {o!.shape[1]} | {(sampleSpace ? "samples (minSR)" : "parameters")} | {jacobian:F1} | {solve:F1} |");
            o.Dispose();
            Console.WriteLine(row);
            md.AppendLine(row);
        }
        md.AppendLine();
        md.AppendLine("## Memory of a local-energy evaluation");
        md.AppendLine();
        md.AppendLine("Rise of the process's resident set during one evaluation (sampled every millisecond), chunks of 64 configurations: flat in the number of configurations, growing with L (each configuration's jets hold L × offsets × 3 × width numbers).");
        md.AppendLine();
        md.AppendLine("| L | configurations | peak rise (MiB) | seconds |");
        md.AppendLine("|---:|---:|---:|---:|");
        foreach (var (sites, configurations) in new[] { (32, 256), (32, 1024), (32, 4096), (8, 1024), (64, 1024) })
        {
            var psi = Ansatz(sites, 16, device);
            using var g = new Generator(7, device);
            using var n = RotorChain.Uniform(configurations, sites, g, device);
            var h = new RotorChainHamiltonian(sites, 1.0, LaplacianRoute.Forward, 64);
            h.LocalValues(psi, n.narrow(0, 0, 64)).Dispose();   // warm-up
            var clock = Stopwatch.StartNew();
            long rise = PeakRise(() => { using var e = h.LocalValues(psi, n); e.sum().item<double>(); });
            var row = string.Create(CultureInfo.InvariantCulture, $"| {sites} | {configurations} | {rise / 1048576.0:F1} | {clock.Elapsed.TotalSeconds:F2} |");
            Console.WriteLine(row);
            md.AppendLine(row);
        }
        return md.ToString();
    }
}
