using System.Diagnostics;
using System.Globalization;
using System.Text;
using Hybrid.Phi4.Flows;
using Hybrid.Lattice;
using Hybrid.Phi4;
using Hybrid.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Bench.Phi4;

/// <summary>What the flow-quality benchmark trains and when it measures.</summary>
/// <param name="Sizes">Lattice extents L.</param>
/// <param name="Flows">"realnvp" and/or "cnf".</param>
/// <param name="Steps">Measure after these numbers of optimizer steps (equal steps).</param>
/// <param name="Seconds">Measure after these training wall-clock budgets (equal time).</param>
public sealed record FlowQualityPlan(IReadOnlyList<int> Sizes, IReadOnlyList<string> Flows, IReadOnlyList<int> Steps, IReadOnlyList<int> Seconds)
{
    /// <summary>A file-name tag for plans other than the default, e.g. <c>L12-cnf</c>.</summary>
    public string Tag => $"L{string.Join("-", Sizes)}" + (Flows.Count == 1 ? "-" + Flows[0] : "");
}

/// <summary>
/// Flow benchmarks (issue 3): training throughput of realNVP and the equivariant continuous flow with the CNF's
/// operation count (<see cref="Throughput"/>); ESS and F_q after equal numbers of steps and equal wall-clock
/// budgets, with the CNF's solver accuracy (<see cref="Quality"/>). All at m² = −4 with λ from docs/phi4.md
/// (ξ ≈ L/4), batch 64, float32, and the optimiser settings of phi4-flow.
/// </summary>
public static class FlowBenchmarks
{
    /// <summary>λ at m² = −4 with ξ ≈ L/4: docs/phi4.md, plus L = 6 from Gerdes et al.'s released models.</summary>
    public static double ReferenceLambda(int l) => l switch
    {
        6 => 6.975, 8 => 6.008, 10 => 5.550, 12 => 5.276, 14 => 5.113, 20 => 4.807, 32 => 4.572, 64 => 4.398,
        _ => throw new ArgumentException($"no reference λ for L = {l}; known: 6, 8, 10, 12, 14, 20, 32, 64"),
    };

    private static (ReverseKlTrainer Trainer, FlowDistribution Model, Phi4Action Action) Trainer(string kind, int l, Device device, bool solverGuard = true)
    {
        var lattice = new SquareLattice(l);
        var action = new Phi4Action(lattice, Phi4Parameters.FromMass(-4, ReferenceLambda(l)));
        var definition = FlowDefinitions.Default(kind);
        var model = new FlowDistribution(definition.Build(lattice, 1), lattice);
        // The optimiser settings of phi4-flow: each flow's recommended ones (the tutorial's, Gerdes et al.'s), batch 64.
        var options = definition.RecommendedTraining with { BatchSize = 64 };
        if (!solverGuard) options = options with { SolverCheckInterval = 0 };
        return (new ReverseKlTrainer(model, action, options, 1, device), model, action);
    }

    /// <summary>Training throughput at 1 and 2 intra-op threads, and the CNF's operations per evaluation.</summary>
    public static string Throughput(BenchContext context)
    {
        var md = new Report();
        md.Line("# Flow training throughput, lattice φ⁴ (m² = −4, λ at ξ ≈ L/4)");
        md.Line("");
        md.Line(context.Describe());
        md.Line("");
        md.Line("Batch 64, float32, one optimizer step = sample with log q, action, backward, Adam. realNVP: 16 couplings, conv 1→8→8→2, kernel 3. " +
                "CNF: 49 frequencies + linear, 20 feature and 20 time channels, RK4 with 50 steps (its solver guard is off here). " +
                "Median of 3 timed runs of ≥ 4 s each after 3 warm-up steps. The last column counts the CNF's tensor operations per vector-field evaluation (forward).");
        md.Line("");
        int cores = Environment.ProcessorCount;
        var threadCounts = cores >= 2 ? new[] { 1, 2 } : new[] { 1 };
        md.Line("| L | " + string.Join(" | ", threadCounts.Select(t => $"realNVP steps/s ({t} thr)")) + " | " +
                string.Join(" | ", threadCounts.Select(t => $"CNF steps/s ({t} thr)")) + " | CNF ops/evaluation |");
        md.Line("|---:|" + string.Concat(Enumerable.Repeat("---:|", 2 * threadCounts.Length + 1)));
        int original = get_num_threads();
        try
        {
            foreach (int l in new[] { 6, 8, 12, 20 })
            {
                var rates = new List<string>();
                int ops = 0;
                foreach (var kind in FlowDefinitions.Kinds)
                {
                    foreach (int threads in threadCounts)
                    {
                        set_num_threads(threads);
                        var (trainer, model, _) = Trainer(kind, l, context.Device, solverGuard: false);
                        if (model.Flow is EquivariantContinuousFlow cnf) ops = cnf.OperationsPerEvaluation;
                        using (trainer)
                        {
                            for (int i = 0; i < 3; i++) trainer.Step();
                            double rate = Timing.MedianRate(() => { trainer.Step(); return 1; }, repetitions: 3, minSeconds: 4.0);
                            rates.Add(rate.ToString("F2", CultureInfo.InvariantCulture));
                        }
                        model.Flow.Dispose();
                    }
                }
                md.Line($"| {l} | {string.Join(" | ", rates)} | {ops} |");
            }
        }
        finally
        {
            set_num_threads(original);
        }
        md.Line("");
        md.Line("Anchors (eager PyTorch, 2 threads, same batch): realNVP 15 steps/s at L = 8 and 13 at L = 12; CNF 1.4 steps/s at L = 6 and 0.48 at L = 12.");
        return md.ToString();
    }

    /// <summary>
    /// realNVP training throughput with float32 CPU convolutions on ATen's kernels (Hybrid's default) and on oneDNN
    /// (libtorch's default), alternated in one process so that the ratio is measured side by side.
    /// </summary>
    public static string ConvolutionRoute(BenchContext context)
    {
        var md = new Report();
        md.Line("# realNVP training throughput by CPU convolution route");
        md.Line("");
        md.Line(context.Describe());
        md.Line("");
        md.Line("Batch 64, float32, realNVP of 16 couplings (conv 1→8→8→2, kernel 3, circular padding), m² = −4, λ at ξ ≈ L/4. " +
                "Hybrid runs float32 CPU convolutions on ATen's kernels because oneDNN's gave NaN gradients at random steps on an AMD EPYC host " +
                "(README, \"TorchSharp runtime\"). Each route: 3 warm-up steps, then the median of 3 timed runs of ≥ 4 s, the routes alternating twice.");
        md.Line("");
        md.Line("| L | ATen steps/s | oneDNN steps/s | ATen / oneDNN |");
        md.Line("|---:|---:|---:|---:|");
        var original = Hybrid.Runtime.TorchRuntime.CpuConvolutions;
        try
        {
            foreach (int l in new[] { 8, 12 })
            {
                var rates = new Dictionary<Hybrid.Runtime.CpuConvolutionRoute, List<double>>
                {
                    [Hybrid.Runtime.CpuConvolutionRoute.Aten] = new(),
                    [Hybrid.Runtime.CpuConvolutionRoute.OneDnn] = new(),
                };
                var (trainer, model, _) = Trainer("realnvp", l, context.Device);
                using (trainer)
                {
                    for (int round = 0; round < 2; round++)
                        foreach (var route in rates.Keys)
                        {
                            Hybrid.Runtime.TorchRuntime.CpuConvolutions = route;
                            for (int i = 0; i < 3; i++) trainer.Step();
                            rates[route].Add(Timing.MedianRate(() => { trainer.Step(); return 1; }, repetitions: 3, minSeconds: 4.0));
                        }
                }
                model.Flow.Dispose();
                double aten = rates[Hybrid.Runtime.CpuConvolutionRoute.Aten].Average(), onednn = rates[Hybrid.Runtime.CpuConvolutionRoute.OneDnn].Average();
                md.Line(string.Create(CultureInfo.InvariantCulture, $"| {l} | {aten:F2} | {onednn:F2} | {aten / onednn:F2} |"));
            }
        }
        finally
        {
            Hybrid.Runtime.TorchRuntime.CpuConvolutions = original;
        }
        return md.ToString();
    }

    /// <summary>ESS/N with a bootstrap error, and F_q with its error, from 4096 fresh proposals.</summary>
    private static (double Ess, double EssError, double FreeEnergy, double FreeEnergyError) Measure(FlowDistribution model, Phi4Action action, Device device)
    {
        using var g = new Generator(12345, device);
        var logW = model.Propose(action, 4096, 256, g, ScalarType.Float32, device, _ => { });
        var ess = Hybrid.Analysis.Statistics.Statistics.BootstrapStatistic(s => ImportanceWeights.EffectiveSampleSizeFraction(s[0]), new[] { logW }, seed: 1, resamples: 100);
        var (f, df) = ImportanceWeights.VariationalFreeEnergy(logW);
        return (ess.Mean, ess.Error, f, df);
    }

    /// <summary>Trains each flow of the plan at each L, measuring at every step and time milestone; then the CNF's solver accuracy.</summary>
    public static string Quality(BenchContext context, FlowQualityPlan plan)
    {
        var md = new Report();
        md.Line("# Flow quality, lattice φ⁴ (m² = −4, λ at ξ ≈ L/4)");
        md.Line("");
        md.Line(context.Describe());
        md.Line("");
        md.Line("Batch 64, float32, optimiser settings of phi4-flow (realNVP: Adam 1e-3; CNF: Adam 5e-3, β = (0.8, 0.9), RK4 with 50 steps, solver guard every 50 steps). " +
                "ESS/N (± bootstrap) and F_q (± standard error) from 4096 fresh proposals at each milestone: after equal numbers of optimizer steps, and after equal training wall-clock budgets " +
                "(measured at the first step past the budget; measurement time is not counted). Back-offs: how often the CNF's solver guard returned to an earlier state and halved the learning rate; after four, the next failed check ends training at the last accurate state (\"ended by the solver guard\").");
        md.Line("");
        md.Line("| L | λ | flow | milestone | steps | training s | ESS/N | F_q | back-offs |");
        md.Line("|---:|---:|---|---|---:|---:|---:|---:|---:|");
        var trained = new List<(int L, FlowDistribution Model, Phi4Action Action)>();
        foreach (int l in plan.Sizes)
        {
            foreach (var kind in plan.Flows)
            {
                var (trainer, model, action) = Trainer(kind, l, context.Device);
                using (trainer)
                {
                    var steps = new Queue<int>(plan.Steps.Order());
                    var seconds = new Queue<int>(plan.Seconds.Order());
                    var clock = new Stopwatch();
                    var lastReport = Stopwatch.StartNew();
                    while (steps.Count > 0 || seconds.Count > 0)
                    {
                        clock.Start();
                        var s = trainer.Step();
                        clock.Stop();
                        if (lastReport.Elapsed.TotalSeconds > 30)
                        {
                            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                                $"  L = {l} {kind}: step {s.Step}, {clock.Elapsed.TotalSeconds:F0} s, {s.Step / clock.Elapsed.TotalSeconds:F2} steps/s, batch F_q {s.FreeEnergy:F3}, batch ESS {s.EffectiveSampleSize:F3}, back-offs {trainer.SolverBackoffs}"));
                            lastReport.Restart();
                        }
                        var milestones = new List<string>();
                        if (trainer.HasEnded)
                        {
                            // The solver guard ended training: the remaining milestones cannot be reached.
                            Console.WriteLine("  " + trainer.EndReason);
                            milestones.Add($"ended by the solver guard (flow of step {trainer.LastAccurateStep})");
                            steps.Clear();
                            seconds.Clear();
                        }
                        while (steps.Count > 0 && s.Step >= steps.Peek()) milestones.Add($"{steps.Dequeue()} steps");
                        while (seconds.Count > 0 && clock.Elapsed.TotalSeconds >= seconds.Peek()) milestones.Add($"{seconds.Dequeue()} s");
                        if (milestones.Count == 0) continue;
                        var (ess, essError, f, fError) = Measure(model, action, context.Device);
                        md.Line(string.Create(CultureInfo.InvariantCulture,
                            $"| {l} | {ReferenceLambda(l)} | {kind} | {string.Join(", ", milestones)} | {s.Step} | {clock.Elapsed.TotalSeconds:F0} | {ess:F3} ± {essError:F3} | {f:F3} ± {fError:F3} | {trainer.SolverBackoffs} |"));
                    }
                }
                if (model.Flow is IOdeFlow) trained.Add((l, model, action));
                else model.Flow.Dispose();
            }
        }
        if (trained.Count == 0) return md.ToString();
        md.Line("");
        md.Line("## CNF solver accuracy: the trained CNF integrated with n and 2n RK4 steps (1024 fresh latent fields)");
        md.Line("");
        md.Line("log q is exact only up to the ODE solver's error, and flow-MCMC is exact only if log q is the density of the samples: the number of RK4 steps is the accuracy knob.");
        md.Line("");
        md.Line("| L | n | mean \\|log q(n) − log q(2n)\\| | max | max \\|φ(n) − φ(2n)\\| | ESS(n) | ESS(2n) |");
        md.Line("|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var (l, model, action) in trained)
        {
            var flow = (EquivariantContinuousFlow)model.Flow;
            foreach (int n in new[] { 10, 20, 50 })
            {
                using var scope = NewDisposeScope();
                using var noGrad = no_grad();
                using var g = new Generator(7, context.Device);
                var z = randn(new long[] { 1024, l, l }, dtype: ScalarType.Float32, device: context.Device, generator: g);
                // One integration per step count serves both the solver's accuracy and the ESS.
                var withN = flow.Forward(z, n);
                var with2N = flow.Forward(z, 2 * n);
                var accuracy = SolverAccuracy.Compare(n, withN, with2N);
                double Ess((Tensor Phi, Tensor LogJacobian) integrated)
                {
                    var logq = FlowDistribution.PriorLogDensity(z) - integrated.LogJacobian;
                    return ImportanceWeights.EffectiveSampleSizeFraction((action.Action(integrated.Phi) + logq).neg().to(ScalarType.Float64).cpu().data<double>().ToArray());
                }
                md.Line(string.Create(CultureInfo.InvariantCulture,
                    $"| {l} | {n} | {accuracy.LogQShiftMean:E2} | {accuracy.LogQShiftMax:E2} | {accuracy.FieldShiftMax:E2} | {Ess(withN):F3} | {Ess(with2N):F3} |"));
            }
            model.Flow.Dispose();
        }
        return md.ToString();
    }

    /// <summary>Markdown that is echoed to the console as it is written, so long runs show where they are.</summary>
    private sealed class Report
    {
        private readonly StringBuilder text = new();

        public void Line(string s)
        {
            text.AppendLine(s);
            Console.WriteLine(s);
        }

        public override string ToString() => text.ToString();
    }
}
