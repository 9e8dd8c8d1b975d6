using System.Text.Json;
using Hybrid.Lattice;
using Hybrid.IO;
using Hybrid.Sampling;
using Hybrid.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Hybrid.Phi4.Flows;

/// <summary>Settings of <see cref="ReverseKlTrainer"/>.</summary>
public sealed record FlowTrainingOptions
{
    /// <summary>Batch size of each optimizer step.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Adam learning rate at step 0.</summary>
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>Steps at which the learning rate is multiplied by <see cref="LearningRateDecay"/> (a step schedule).</summary>
    public IReadOnlyList<int> DecaySteps { get; init; } = Array.Empty<int>();

    /// <summary>Factor applied at each of <see cref="DecaySteps"/>.</summary>
    public double LearningRateDecay { get; init; } = 0.1;

    /// <summary>Adam's decay rates (β₁, β₂) of the first and second moment estimates.</summary>
    public (double Beta1, double Beta2) AdamBetas { get; init; } = (0.9, 0.999);

    /// <summary>Maximal gradient norm (clipping); 0 switches clipping off.</summary>
    public double GradientClipNorm { get; init; } = 100;

    /// <summary>Floating-point type of the flow and its samples.</summary>
    public ScalarType DType { get; init; } = ScalarType.Float32;

    /// <summary>
    /// For flows with an ODE solver (<see cref="IOdeFlow"/>): every this many steps the trainer measures the solver's
    /// error on fixed latent fields (<see cref="SolverAccuracy"/>); 0 switches the guard off. Reverse KL sees only the
    /// solver's log q and, left alone, can learn to exploit the solver's error (the loss falls below −ln Z while the
    /// true ESS collapses). When the error exceeds the tolerance (<see cref="SolverTolerance"/>,
    /// <see cref="SolverRelativeTolerance"/>), training returns to the state of the
    /// last check that passed and continues with half the learning rate; after <see cref="MaxSolverBackoffs"/> halvings
    /// the next failed check ends training there, the furthest this solver allows.
    /// </summary>
    public int SolverCheckInterval { get; init; } = 50;

    /// <summary>The guard's absolute tolerance on the mean |log q(n) − log q(2n)|: near convergence it governs.</summary>
    public double SolverTolerance { get; init; } = SolverAccuracy.DefaultTolerance;

    /// <summary>
    /// The guard's tolerance relative to the spread σ of the training batch's log-weights −S − log q: a check passes
    /// while the mean shift is at most max(<see cref="SolverTolerance"/>, this · σ). Early in training, when log w
    /// spreads over tens to thousands, a solver error far below that spread cannot be what lowers the loss, and the
    /// flow must be free to move far; as the flow converges σ falls below one and the absolute tolerance takes over.
    /// </summary>
    public double SolverRelativeTolerance { get; init; } = 0.1;

    /// <summary>How often the guard may halve the learning rate; the next failed check ends training (<see cref="ReverseKlTrainer.HasEnded"/>) at the last accurate state.</summary>
    public int MaxSolverBackoffs { get; init; } = 4;

    /// <summary>
    /// These settings with another flow's optimiser (learning rate and Adam's betas, e.g. from
    /// <see cref="IFlowDefinition.RecommendedTraining"/>) and a step schedule for <paramref name="steps"/> steps:
    /// the rate decays by <see cref="LearningRateDecay"/> at 80% and 95% of the steps.
    /// </summary>
    public FlowTrainingOptions WithOptimizer(FlowTrainingOptions optimizer, int steps)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        return this with { LearningRate = optimizer.LearningRate, AdamBetas = optimizer.AdamBetas, DecaySteps = new[] { steps * 4 / 5, steps * 19 / 20 } };
    }

    /// <summary>The learning rate in effect at <paramref name="step"/>.</summary>
    public double LearningRateAt(int step) => Schedule.At(step);

    /// <summary>The learning-rate schedule these settings describe.</summary>
    public LearningRateSchedule Schedule => new(LearningRate, DecaySteps, LearningRateDecay);

    /// <summary>The settings of the generic <see cref="Trainer"/>: Adam, this schedule, clipping and dtype.</summary>
    public TrainerOptions ToTrainerOptions() => new()
    {
        Schedule = Schedule,
        Optimizer = OptimizerKind.Adam,
        AdamBetas = AdamBetas,
        GradientClipNorm = GradientClipNorm,
        DType = DType,
        StalledSteps = ReverseKlTrainer.StalledSteps,
    };

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first bad value.</summary>
    public void Validate()
    {
        if (BatchSize < 2) throw new ArgumentException($"batch size {BatchSize} is not allowed; it must be ≥ 2");
        if (!(LearningRate > 0) || !double.IsFinite(LearningRate)) throw new ArgumentException($"learning rate {LearningRate} is not allowed; it must be a finite number > 0");
        if (!(LearningRateDecay > 0) || LearningRateDecay > 1) throw new ArgumentException($"learning-rate decay {LearningRateDecay} is not allowed; it must lie in (0, 1]");
        if (!(GradientClipNorm >= 0) || !double.IsFinite(GradientClipNorm)) throw new ArgumentException($"gradient clip norm {GradientClipNorm} is not allowed; it must be a finite number ≥ 0 (0: off)");
        if (!(AdamBetas.Beta1 >= 0 && AdamBetas.Beta1 < 1 && AdamBetas.Beta2 >= 0 && AdamBetas.Beta2 < 1))
            throw new ArgumentException($"Adam betas ({AdamBetas.Beta1}, {AdamBetas.Beta2}) are not allowed; each must lie in [0, 1)");
        if (DType is not (ScalarType.Float32 or ScalarType.Float64)) throw new ArgumentException($"dtype {DType} is not allowed; use Float32 or Float64");
        if (SolverCheckInterval < 0) throw new ArgumentException($"solver check interval {SolverCheckInterval} is not allowed; it must be ≥ 0 (0: off)");
        if (!(SolverTolerance > 0) || !double.IsFinite(SolverTolerance)) throw new ArgumentException($"solver tolerance {SolverTolerance} is not allowed; it must be a finite number > 0");
        if (!(SolverRelativeTolerance >= 0) || !double.IsFinite(SolverRelativeTolerance)) throw new ArgumentException($"relative solver tolerance {SolverRelativeTolerance} is not allowed; it must be a finite number ≥ 0");
        if (MaxSolverBackoffs < 0) throw new ArgumentException($"maximal solver back-offs {MaxSolverBackoffs} is not allowed; it must be ≥ 0");
    }
}
