using System.Diagnostics;
using System.Globalization;
using System.Text;
using Hybrid.Analysis.Correlators;
using Hybrid.Analysis.Fitting;
using Hybrid.Nnqm;
using Hybrid.Sampling;
using static TorchSharp.torch;

namespace Hybrid.Bench.Nnqm;

/// <summary>
/// NN-QM paths and their analysis: time steps × paths per second of the exact Ornstein–Uhlenbeck sampler and of the
/// Metropolis-adjusted ground-state diffusion of the anharmonic oscillator, each beside a bandwidth roofline measured
/// in the same run on the same device (drawing the same noise and writing the same path once, which no sampler can
/// beat); the per-path two-point function by direct sums and by FFT as the path grows; and the time of one
/// Källén–Lehmann fit.
/// </summary>
public static class PathThroughput
{
    private const long Paths = 4096;

    /// <summary>Drawing P × T normal numbers and writing a P × T path once: the floor of any exact sampler.</summary>
    private static double RooflineRate(long paths, int steps, Device device)
    {
        using var generator = new Generator(3, device);
        return Timing.MedianRate(() =>
        {
            using var scope = NewDisposeScope();
            var noise = randn(new[] { paths, (long)steps }, dtype: ScalarType.Float64, device: device, generator: generator);
            var path = noise.clone();
            path.sum().item<double>();   // wait for the device
            return (int)(paths * steps);
        });
    }

    private static double OuRate(int steps, Device device)
    {
        var ou = new OrnsteinUhlenbeck(1.0);
        using var generator = new Generator(4, device);
        return Timing.MedianRate(() =>
        {
            using var y = ou.Sample(Paths, steps, 0.1, generator, device);
            y.sum().item<double>();
            return (int)(Paths * steps);
        });
    }

    private static double DiffusionRate(Device device, out double potentialShare)
    {
        var potential = new GroundStatePotential(AnharmonicOscillator.Solve(1.0, 2));
        using var diffusion = new ReversibleDiffusion(potential, 0.005, (int)Paths, 5, device);
        diffusion.Equilibrate(0.05);
        double rate = Timing.MedianRate(() =>
        {
            using var x = diffusion.Record(2, 50);
            return (int)(Paths * 50);
        });
        // The share of one step spent in the potential (U at the proposal, U′ at both ends): the managed Hermite sum.
        using var probe = diffusion.State.clone();
        double evaluations = Timing.MedianRate(() =>
        {
            using var scope = NewDisposeScope();
            potential.Action(probe);
            potential.Gradient(probe);
            potential.Gradient(probe);
            return 1;
        });
        potentialShare = rate / (Paths * evaluations);   // (seconds per step in the potential) / (seconds per step)
        return rate;
    }

    /// <summary>Runs the benchmark and returns its Markdown report.</summary>
    public static string Run(BenchContext context)
    {
        var device = context.Device;
        var md = new StringBuilder();
        md.AppendLine("# NN-QM paths: sampling, correlators, fits");
        md.AppendLine();
        md.AppendLine(context.Describe());
        md.AppendLine();
        md.AppendLine($"## Path sampling ({Paths} paths, float64)");
        md.AppendLine();
        md.AppendLine("Time steps × paths per second, median of 3 repetitions of ≥ 1 s; the roofline draws the same normal numbers and writes the same path once with bare tensor ops, in the same run.");
        md.AppendLine();
        md.AppendLine("| sampler | steps per path | steps·paths/s | roofline | fraction of roofline |");
        md.AppendLine("|---|---:|---:|---:|---:|");
        foreach (int steps in new[] { 256, 1024 })
        {
            double rate = OuRate(steps, device), roof = RooflineRate(Paths, steps, device);
            var row = string.Create(CultureInfo.InvariantCulture, $"| Ornstein–Uhlenbeck (exact) | {steps} | {rate:E3} | {roof:E3} | {rate / roof:P0} |");
            Console.WriteLine(row);
            md.AppendLine(row);
        }
        {
            double rate = DiffusionRate(device, out double share), roof = RooflineRate(Paths, 1, device);
            var row = string.Create(CultureInfo.InvariantCulture, $"| anharmonic ground-state diffusion (MALA, g = 1) | — | {rate:E3} | {roof:E3} | {rate / roof:P1} |");
            Console.WriteLine(row);
            md.AppendLine(row);
            md.AppendLine();
            md.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"The diffusion's roofline is one column of noise per step; a step also evaluates the ground-state potential three times (a Hermite sum of a few dozen terms per path, managed code), which takes {share:P0} of its time, and Metropolis bookkeeping the rest."));
        }
        md.AppendLine();
        md.AppendLine("## Two-point function of one path, all lags up to T/2");
        md.AppendLine();
        md.AppendLine("Milliseconds per path (median of 5): direct sums O(T²) against FFT O(T log T) (MathNet's managed transform); `Correlator.pathAutocorrelation` takes direct sums up to T·lags = 4·10⁶, FFT beyond.");
        md.AppendLine();
        md.AppendLine("| T | direct (ms) | FFT (ms) | direct / FFT |");
        md.AppendLine("|---:|---:|---:|---:|");
        var random = new Random(7);
        foreach (int t in new[] { 256, 1024, 4096, 16384 })
        {
            var path = Enumerable.Range(0, t).Select(_ => random.NextDouble() - 0.5).ToArray();
            Correlator.pathAutocorrelationFft(path, t / 2);   // warm-up (JIT, twiddle tables)
            double direct = Timing.MedianSeconds(() => Correlator.pathAutocorrelationDirect(path, t / 2), 5) * 1e3;
            double fft = Timing.MedianSeconds(() => Correlator.pathAutocorrelationFft(path, t / 2), 5) * 1e3;
            var row = string.Create(CultureInfo.InvariantCulture, $"| {t} | {direct:F3} | {fft:F3} | {direct / fft:F1} |");
            Console.WriteLine(row);
            md.AppendLine(row);
        }
        md.AppendLine();
        md.AppendLine("## Källén–Lehmann fit");
        md.AppendLine();
        // Synthetic data: the Mehler correlator of erf(u) at 30 lags with 1% correlated-free errors.
        var times = Enumerable.Range(1, 30).Select(i => 0.1 * i).ToArray();
        var values = times.Select(s => 2 / Math.PI * Math.Asin(2.0 / 3 * Math.Exp(-s))).ToArray();
        var data = LeastSquares.ofErrors(values, values.Select(v => 0.01 * v).ToArray());
        var priors = new SpectralPriors(Prior.NewLogNormal(1, 1), Prior.NewLogNormal(2, 1), Prior.NewLogNormal(0.4, 2));
        foreach (int states in new[] { 1, 2, 3 })
        {
            double seconds = Timing.MedianSeconds(() => Spectral.fit(CorrelatorShape.OpenEnded, times, data, states, priors, 1e-8), 5);
            var row = string.Create(CultureInfo.InvariantCulture, $"{states}-state fit to 30 times (staged from 1 state): {seconds * 1e3:F1} ms.");
            Console.WriteLine(row);
            md.AppendLine(row);
            md.AppendLine();
        }
        return md.ToString();
    }
}
