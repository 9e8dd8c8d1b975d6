using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Text;
using Hybrid.Nnft;
using TorchSharp;

namespace Hybrid.Bench.Nnft;

/// <summary>
/// The fused route's roofline and the profile of its parts. A network's unavoidable work is its N(d + 2) + 1 normals, its
/// N·P activations, the N·P·(d + 1) multiply-adds of its pre-activations and readout, and the float64 accumulation of
/// its products: one multiply-add per G₄ multiset (C(P + 3, 4)), one per pair product and one per G₂ multiset
/// (C(P + 1, 2) each) and one per G₁ point. A bound that charges only the normals is out of reach of any
/// implementation at 16 points (3876 multisets against 31 normals at width 10), so each part is charged at the rate of
/// its bare vectorised kernel measured in the same run: the normals at the generator's (<see cref="GaussianLanes"/>),
/// the activations at <see cref="VectorExp"/>'s over data in L1, the multiply-adds at the core's FMA peak (many
/// independent register accumulators) in the evaluation's precision and in float64. The roofline is the inverse of the
/// summed times: what the fused route would reach if every part ran at its bare rate with nothing else in between.
/// Summing assumes the parts do not overlap, which holds where they compete for the same vector pipes (all of them are
/// vector floating-point work); a core that overlapped them could beat the bound by the overlap.
/// </summary>
public static class FusedRoofline
{
    /// <summary>The bare rates (per second) the roofline charges: normals, exponentials and FMAs in the dtype, FMAs in float64.</summary>
    public sealed record Rates(double Normals, double Exponentials, double Fma, double Fma64);

    /// <summary>Element operations one network needs, by part.</summary>
    public static (double Normals, double Activations, double EvaluationFma, double AccumulationFma) Work(int width, int points, int dimension) =>
        ((dimension + 2.0) * width + 1, (double)width * points, (double)width * points * (dimension + 1),
         Binomial(points + 3, 4) + 2 * Binomial(points + 1, 2) + points);

    /// <summary>Networks per second if every part ran at its bare rate.</summary>
    public static double NetworksPerSecond(int width, int points, int dimension, Rates rates)
    {
        var w = Work(width, points, dimension);
        return 1 / (w.Normals / rates.Normals + w.Activations / rates.Exponentials + w.EvaluationFma / rates.Fma + w.AccumulationFma / rates.Fma64);
    }

    private static double Binomial(int n, int k)
    {
        double c = 1;
        for (int i = 1; i <= k; i++) c = c * (n - k + i) / i;
        return c;
    }

    private static readonly GaussianLanes GeneratorLanes = new(5);
    // 64 vectors (4 KB), refilled: in L1 like the kernel's draws of a group, so that the bound is the generator's arithmetic.
    private static readonly Vector512<float>[] SingleNormals = new Vector512<float>[64];
    private static readonly Vector512<double>[] DoubleNormals = new Vector512<double>[64];
    private static readonly Vector512<float>[] SingleArguments = Arguments<float>();
    private static readonly Vector512<double>[] DoubleArguments = Arguments<double>();
    private static double sink;   // keeps the bare loops' results alive

    /// <summary>Pre-activations as the Gauss-net sees them, spread over [−4, 1], 16 KB: in L1 like the kernel's registers.</summary>
    private static Vector512<T>[] Arguments<T>() where T : unmanaged, IFloatingPointIeee754<T>
    {
        var a = new Vector512<T>[16384 / Vector512<T>.Count / Unsafe.SizeOf<T>() * Vector512<T>.Count];
        int lanes = Vector512<T>.Count;
        var lane = new T[lanes];
        for (int v = 0; v < a.Length; v++)
        {
            for (int l = 0; l < lanes; l++) lane[l] = T.CreateTruncating(-4.0 + 5.0 * ((v * lanes + l) * 0.618034 % 1.0));
            a[v] = Vector512.Create(lane);
        }
        return a;
    }

    /// <summary>Units per second of <paramref name="work"/>: the fastest of short trials by the thread's CPU time (<see cref="ThreadClock"/>).</summary>
    private static double Rate(Func<long> work, double seconds) => ThreadClock.BestRate(work, seconds);

    /// <summary>Normals per second of the bare generator.</summary>
    public static double GeneratorRate(bool single, double seconds = 0.3) => Rate(() =>
    {
        if (single) { GeneratorLanes.Fill(SingleNormals); return SingleNormals.Length * Vector512<float>.Count; }
        GeneratorLanes.Fill(DoubleNormals);
        return DoubleNormals.Length * Vector512<double>.Count;
    }, seconds);

    /// <summary>Exponentials per second of the bare <see cref="VectorExp"/> over L1-resident arguments, four independent sums.</summary>
    public static double ExpRate(bool single, double seconds = 0.3) => single
        ? Rate(() => ExpSweep(SingleArguments), seconds)
        : Rate(() => ExpSweep(DoubleArguments), seconds);

    private static long ExpSweep<T>(Vector512<T>[] a) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Vector512<T> s0 = default, s1 = default, s2 = default, s3 = default;
        for (int v = 0; v < a.Length; v += 4)
        {
            s0 += Exp(a[v]);
            s1 += Exp(a[v + 1]);
            s2 += Exp(a[v + 2]);
            s3 += Exp(a[v + 3]);
        }
        sink += double.CreateTruncating(Vector512.Sum(s0 + s1 + s2 + s3));
        return (long)a.Length * Vector512<T>.Count;
    }

    private static Vector512<T> Exp<T>(Vector512<T> x) where T : unmanaged, IFloatingPointIeee754<T> =>
        typeof(T) == typeof(float) ? VectorExp.Exp(x.AsSingle()).As<float, T>() : VectorExp.Exp(x.AsDouble()).As<double, T>();

    /// <summary>Element FMAs per second: twelve independent vector accumulators, more than the FMA latency × pipes.</summary>
    public static double FmaRate(bool single, double seconds = 0.3) => single ? Rate(FmaLoop<float>, seconds) : Rate(FmaLoop<double>, seconds);

    private static long FmaLoop<T>() where T : unmanaged, IFloatingPointIeee754<T>
    {
        var m = Vector512.Create(T.CreateTruncating(0.999999));
        var c = Vector512.Create(T.CreateTruncating(1e-7));
        Vector512<T> a0 = Vector512<T>.One, a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
        const int iterations = 1 << 16;
        for (int i = 0; i < iterations; i++)
        {
            a0 = Fma(a0, m, c); a1 = Fma(a1, m, c); a2 = Fma(a2, m, c);
            a3 = Fma(a3, m, c); a4 = Fma(a4, m, c); a5 = Fma(a5, m, c);
            a6 = Fma(a6, m, c); a7 = Fma(a7, m, c); a8 = Fma(a8, m, c);
            a9 = Fma(a9, m, c); a10 = Fma(a10, m, c); a11 = Fma(a11, m, c);
        }
        sink += double.CreateTruncating(Vector512.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11));
        return 12L * iterations * Vector512<T>.Count;
    }

    private static Vector512<T> Fma<T>(Vector512<T> a, Vector512<T> b, Vector512<T> c) where T : unmanaged, IFloatingPointIeee754<T> =>
        typeof(T) == typeof(float) ? Vector512.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>()
        : Vector512.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();

    /// <summary>The bare rates for <paramref name="single"/> (float32) or float64 evaluation, one run each.</summary>
    public static Rates Measure(bool single, double seconds = 0.3) =>
        new(GeneratorRate(single, seconds), ExpRate(single, seconds), FmaRate(single, seconds), FmaRate(false, seconds));

    /// <summary>
    /// Nanoseconds per network of the fused route's parts on one chunk of <paramref name="chunk"/> networks, the fastest of
    /// <paramref name="repetitions"/> interleaved rounds: the normals (the bare generator over the kernel's draws), the
    /// evaluation without activations (a ReLU-net's kernel, whose max is nearly free, less the normals), the
    /// activations (the Gauss-net's kernel less the ReLU-net's) and the accumulation (<see cref="CorrelatorSums.Add(ReadOnlySpan{double}, long, ReadOnlySpan{double})"/>
    /// on the chunk's φ).
    /// </summary>
    public static (double Normals, double Evaluation, double Activations, double Accumulation) Split(int width, int points, bool single, int chunk = 16384, int repetitions = 3, double seconds = 0.3)
    {
        var inputs = Enumerable.Range(0, points).Select(i => new[] { points == 1 ? 0.0 : -1.0 + 2.0 * i / (points - 1) }).ToArray();
        var dtype = single ? torch.ScalarType.Float32 : torch.ScalarType.Float64;
        var gauss = new FusedSingleLayerEnsemble(new SingleLayerNetwork(NetworkActivation.Gauss, 1, width, 0.6, 0.3), inputs, dtype);
        var relu = new FusedSingleLayerEnsemble(new SingleLayerNetwork(NetworkActivation.Relu, 1, width, 0.6, 0.3), inputs, dtype);
        var sums = new CorrelatorSums(points, 64, 4);
        var phi = new double[chunk * points];
        long seed = 1;
        var normals = new List<double>();
        var evaluation = new List<double>();
        var gaussTimes = new List<double>();
        var accumulation = new List<double>();
        // The accumulation on a whole chunk (its blocks' dot products as long as the ensemble's); the kernels on a
        // part of one, about 10⁵ units so that a trial holds several calls.
        int part = Math.Clamp(163840 / width / 64 * 64, 64, chunk);
        gauss.Evaluate(seed, chunk, phi);
        relu.Evaluate(seed, part, phi);
        sums.Add(phi, 0);
        for (int r = 0; r < repetitions; r++)
        {
            double generator = GeneratorRate(single, seconds);
            double reluRate = Rate(() => { relu.Evaluate(++seed, part, phi); return part; }, seconds);
            double gaussRate = Rate(() => { gauss.Evaluate(++seed, part, phi); return part; }, seconds);
            double addRate = Rate(() => { sums.Add(phi, 0); return chunk; }, seconds);
            normals.Add(1e9 * gauss.NormalsPerNetwork / generator);
            evaluation.Add(1e9 / reluRate);
            gaussTimes.Add(1e9 / gaussRate);
            accumulation.Add(1e9 / addRate);
        }
        double n = normals.Min(), relus = evaluation.Min(), g = gaussTimes.Min(), a = accumulation.Min();
        return (n, relus - n, g - relus, a);
    }

    /// <summary>The profile alone (target nnft-profile).</summary>
    public static string Profile(BenchContext context)
    {
        var md = new StringBuilder();
        md.AppendLine("# NN-FT fused route: where its time goes (Gauss-net, d = 1)");
        md.AppendLine();
        md.AppendLine(context.Describe());
        md.AppendLine();
        ProfileTable(md);
        return md.ToString();
    }

    /// <summary>Each part's time per network against the roofline's, at 16 and 4 points.</summary>
    public static void ProfileTable(StringBuilder md)
    {
        md.AppendLine("| width | points | dtype | normals ns | evaluation ns | activations ns | accumulation ns | sum ns | roofline ns (normals + exp + FMA + float64 FMA) |");
        md.AppendLine("|---:|---:|---|---:|---:|---:|---:|---:|---|");
        foreach (int points in new[] { 16, 4 })
            foreach (int width in new[] { 10, 100, 1000 })
                foreach (bool single in new[] { true, false })
                {
                    var s = Split(width, points, single);
                    var rates = Measure(single);
                    var w = Work(width, points, 1);
                    string roof = string.Create(CultureInfo.InvariantCulture,
                        $"{1e9 / NetworksPerSecond(width, points, 1, rates):F1} ({1e9 * w.Normals / rates.Normals:F1} + {1e9 * w.Activations / rates.Exponentials:F1} + {1e9 * w.EvaluationFma / rates.Fma:F1} + {1e9 * w.AccumulationFma / rates.Fma64:F1})");
                    var row = string.Create(CultureInfo.InvariantCulture,
                        $"| {width} | {points} | {(single ? "float32" : "float64")} | {s.Normals:F1} | {s.Evaluation:F1} | {s.Activations:F1} | {s.Accumulation:F1} | {s.Normals + s.Evaluation + s.Activations + s.Accumulation:F1} | {roof} |");
                    Console.WriteLine(row);
                    md.AppendLine(row);
                }
        GC.KeepAlive(sink);
    }
}

/// <summary>
/// The calling thread's CPU time (Linux CLOCK_THREAD_CPUTIME_ID; wall time elsewhere). The benchmark's work runs on
/// one thread (one intra-op thread for libtorch), so on an idle machine this is its wall time, and on a shared one the
/// time other processes hold the core does not count: rates measured while the machine is busy stay comparable.
/// </summary>
public static class ThreadClock
{
    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds, Nanoseconds;
    }

    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out TimeSpec time);

    private static readonly bool Available = OperatingSystem.IsLinux() && Probe();
    private static readonly Stopwatch Wall = Stopwatch.StartNew();

    private static bool Probe()
    {
        try { return ClockGetTime(3, out _) == 0; }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return false; }
    }

    /// <summary>Whether the clock is the thread's CPU time (otherwise wall time).</summary>
    public static bool IsThreadTime => Available;

    /// <summary>Seconds of CPU time of the calling thread (or of wall time) since an arbitrary origin.</summary>
    public static double Seconds()
    {
        if (!Available) return Wall.Elapsed.TotalSeconds;
        ClockGetTime(3, out var t);
        return t.Seconds + 1e-9 * t.Nanoseconds;
    }

    /// <summary>
    /// Units per second of the fastest trial of <paramref name="work"/> (returning the units it did), trials of
    /// ≥ <paramref name="trial"/> s for ≥ <paramref name="seconds"/> s in all: what is left of other work's
    /// disturbance (caches, a shared core) only slows a trial down.
    /// </summary>
    public static double BestRate(Func<long> work, double seconds, double trial = 0.02)
    {
        // Reading the thread's CPU time is a system call (about a microsecond in a virtual machine), as long as a
        // call of the bare kernels: the clock is read only around batches of calls, the batch doubled until it
        // fills a trial.
        double start = Seconds(), best = 0;
        long calls = 1;
        do
        {
            double t0 = Seconds();
            long units = 0;
            for (long c = 0; c < calls; c++) units += work();
            double elapsed = Seconds() - t0;
            if (elapsed < trial) calls *= 2;
            else best = Math.Max(best, units / elapsed);
        }
        while (Seconds() - start < seconds || best == 0);
        return best;
    }
}
