using System.Diagnostics;
using System.Globalization;
using System.Text;
using Hybrid.Nnft;
using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Bench.Nnft;

/// <summary>
/// Ensemble throughput of random-network field theories: Gauss-nets (d = 1) of widths 10, 100, 1000 at 4 and 16
/// points, float32 and float64, in networks × points per second through <see cref="NetworkEnsemble"/> (drawing,
/// evaluation and float64 accumulation of G₂, G₄). Beside it a roofline measured in the same run on the same device:
/// the same number of Gaussians drawn and the same exponentials and multiply-adds done with bare tensor ops and no
/// accumulation, which no ensemble code can beat. Then the resident memory after 10⁶ and 10⁸ networks, which must
/// not grow with the ensemble.
/// </summary>
public static class EnsembleThroughput
{
    private static readonly double[][] Points4 = { new[] { -0.3 }, new[] { 0.0 }, new[] { 0.2 }, new[] { 0.5 } };

    private static double[][] Points(int p) => p == 4 ? Points4 : Enumerable.Range(0, p).Select(i => new[] { -1.0 + 2.0 * i / (p - 1) }).ToArray();

    /// <summary>Networks per second of the ensemble (median of 3 repetitions of ≥ 1 s).</summary>
    private static double EnsembleRate(int width, int points, ScalarType dtype, Device device)
    {
        var net = new SingleLayerNetwork(NetworkActivation.Gauss, 1, width, 0.6, 0.3);
        var ensemble = new NetworkEnsemble(net, Points(points), new EnsembleOptions { Networks = long.MaxValue / 2, DType = dtype, Blocks = 64 }, 1, device);
        ensemble.Step();   // warm-up
        return Timing.MedianRate(() => (int)ensemble.Step());
    }

    /// <summary>The same arithmetic with bare tensor ops: randn of W0, b0, W1, b1; the pre-activations; exp; the readout.</summary>
    private static double RooflineRate(int width, int points, int chunk, ScalarType dtype, Device device)
    {
        using var x = tensor(Points(points).SelectMany(p => p).ToArray(), new long[] { points, 1 }, dtype: dtype, device: device);
        using var generator = new Generator(2, device);
        return Timing.MedianRate(() =>
        {
            using var scope = NewDisposeScope();
            var w0 = randn(new long[] { chunk, width, 1 }, dtype: dtype, device: device, generator: generator);
            var b0 = randn(new long[] { chunk, width, 1 }, dtype: dtype, device: device, generator: generator);
            var w1 = randn(new long[] { chunk, 1, width }, dtype: dtype, device: device, generator: generator);
            var b1 = randn(new long[] { chunk, 1 }, dtype: dtype, device: device, generator: generator);
            var phi = matmul(w1, matmul(w0, x.t()).add_(b0).exp_()).squeeze(1).add_(b1);
            phi.sum().to(ScalarType.Float64).item<double>();   // wait for the device
            return chunk;
        });
    }

    private static double ResidentMegabytes()
    {
        using var p = Process.GetCurrentProcess();
        p.Refresh();
        return p.WorkingSet64 / 1048576.0;
    }

    /// <summary>Runs the benchmark and returns its Markdown report.</summary>
    public static string Run(BenchContext context)
    {
        var md = new StringBuilder();
        md.AppendLine("# NN-FT ensemble throughput (Gauss-net, d = 1)");
        md.AppendLine();
        md.AppendLine(context.Describe());
        md.AppendLine();
        md.AppendLine("Networks × points per second through `NetworkEnsemble` (draw, evaluate, accumulate G₂ and G₄ in float64), and the roofline of the same draws and arithmetic with bare tensor ops at the same chunk size; median of 3 repetitions of ≥ 1 s each.");
        md.AppendLine();
        md.AppendLine("| width | points | dtype | chunk | networks·points/s | roofline | fraction of roofline |");
        md.AppendLine("|---:|---:|---|---:|---:|---:|---:|");
        foreach (int width in new[] { 10, 100, 1000 })
            foreach (int points in new[] { 4, 16 })
                foreach (var dtype in new[] { ScalarType.Float32, ScalarType.Float64 })
                {
                    var probe = new NetworkEnsemble(new SingleLayerNetwork(NetworkActivation.Gauss, 1, width, 0.6, 0.3), Points(points), new EnsembleOptions { Networks = long.MaxValue / 2, DType = dtype }, 1, context.Device);
                    double rate = EnsembleRate(width, points, dtype, context.Device) * points;
                    double roof = RooflineRate(width, points, probe.ChunkSize, dtype, context.Device) * points;
                    var row = string.Create(CultureInfo.InvariantCulture,
                        $"| {width} | {points} | {(dtype == ScalarType.Float32 ? "float32" : "float64")} | {probe.ChunkSize} | {rate:E3} | {roof:E3} | {rate / roof:P0} |");
                    Console.WriteLine(row);
                    md.AppendLine(row);
                }
        md.AppendLine();
        md.AppendLine("Resident memory of this process while an ensemble grows (width 10, 4 points, float32): it must stay flat.");
        md.AppendLine();
        md.AppendLine("| networks | resident MB | seconds |");
        md.AppendLine("|---:|---:|---:|");
        var net = new SingleLayerNetwork(NetworkActivation.Gauss, 1, 10, 0.6, 0.3);
        var big = new NetworkEnsemble(net, Points4, new EnsembleOptions { Networks = 100_000_000, DType = ScalarType.Float32 }, 3, context.Device);
        var clock = Stopwatch.StartNew();
        foreach (long target in new[] { 1_000_000L, 100_000_000L })
        {
            while (big.Sums.Networks < target) big.Step();
            var row = string.Create(CultureInfo.InvariantCulture, $"| {big.Sums.Networks:E1} | {ResidentMegabytes():F0} | {clock.Elapsed.TotalSeconds:F0} |");
            Console.WriteLine(row);
            md.AppendLine(row);
        }
        return md.ToString();
    }
}
