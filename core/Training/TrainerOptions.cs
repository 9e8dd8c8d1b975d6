using static TorchSharp.torch;

namespace Hybrid.Training;

/// <summary>A step schedule: the rate starts at <paramref name="Initial"/> and is multiplied by <paramref name="Decay"/> at each of <paramref name="DecaySteps"/>.</summary>
/// <param name="Initial">Learning rate at step 0.</param>
/// <param name="DecaySteps">Steps at which the rate is multiplied by <paramref name="Decay"/>.</param>
/// <param name="Decay">Factor applied at each decay step, in (0, 1].</param>
public sealed record LearningRateSchedule(double Initial, IReadOnlyList<int> DecaySteps, double Decay)
{
    /// <summary>A constant rate.</summary>
    public static LearningRateSchedule Constant(double rate) => new(rate, Array.Empty<int>(), 1);

    /// <summary>The rate in effect at <paramref name="step"/> (0-based: the step about to be taken).</summary>
    public double At(int step) => Initial * Math.Pow(Decay, DecaySteps.Count(s => step >= s));

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first bad value.</summary>
    public void Validate()
    {
        if (!(Initial > 0) || !double.IsFinite(Initial)) throw new ArgumentException($"learning rate {Initial} is not allowed; it must be a finite number > 0");
        if (!(Decay > 0) || Decay > 1) throw new ArgumentException($"learning-rate decay {Decay} is not allowed; it must lie in (0, 1]");
    }
}

/// <summary>The first-order optimisers the trainer steps with; a gradient transform (<see cref="IGradientTransform"/>) preconditions either.</summary>
public enum OptimizerKind
{
    /// <summary>Adam with decay rates <see cref="TrainerOptions.AdamBetas"/>.</summary>
    Adam,
    /// <summary>Plain gradient descent θ ← θ − η g: with stochastic reconfiguration as the transform, the natural-gradient step of VMC.</summary>
    Sgd,
}

/// <summary>Settings of <see cref="Trainer"/> that do not depend on what is trained.</summary>
public sealed record TrainerOptions
{
    /// <summary>The learning-rate schedule.</summary>
    public LearningRateSchedule Schedule { get; init; } = LearningRateSchedule.Constant(1e-3);

    /// <summary>The optimiser.</summary>
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Adam;

    /// <summary>Adam's decay rates (β₁, β₂) of the first and second moment estimates.</summary>
    public (double Beta1, double Beta2) AdamBetas { get; init; } = (0.9, 0.999);

    /// <summary>Maximal gradient norm (clipping, after the gradient transform); 0 switches clipping off.</summary>
    public double GradientClipNorm { get; init; } = 100;

    /// <summary>Floating-point type of the model's parameters.</summary>
    public ScalarType DType { get; init; } = ScalarType.Float32;

    /// <summary>Consecutive steps with a gradient of exactly zero after which training stops with a diagnosis (0: never).</summary>
    public int StalledSteps { get; init; } = 20;

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first bad value.</summary>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Schedule);
        Schedule.Validate();
        if (!(GradientClipNorm >= 0) || !double.IsFinite(GradientClipNorm)) throw new ArgumentException($"gradient clip norm {GradientClipNorm} is not allowed; it must be a finite number ≥ 0 (0: off)");
        if (!(AdamBetas.Beta1 >= 0 && AdamBetas.Beta1 < 1 && AdamBetas.Beta2 >= 0 && AdamBetas.Beta2 < 1))
            throw new ArgumentException($"Adam betas ({AdamBetas.Beta1}, {AdamBetas.Beta2}) are not allowed; each must lie in [0, 1)");
        if (DType is not (ScalarType.Float32 or ScalarType.Float64)) throw new ArgumentException($"dtype {DType} is not allowed; use Float32 or Float64");
        if (StalledSteps < 0) throw new ArgumentException($"stalled steps {StalledSteps} is not allowed; it must be ≥ 0 (0: never stop)");
    }
}
