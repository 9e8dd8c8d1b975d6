using Hybrid.IO;
using Hybrid.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Hybrid.Core.Tests.Training;

/// <summary>The generic trainer on a toy objective whose steps have closed forms.</summary>
public class TrainerTests
{
    /// <summary>One parameter vector θ, nothing else.</summary>
    private sealed class Vector : nn.Module
    {
        private readonly Parameter theta;

        public Vector(double[] start) : base("vector")
        {
            theta = new Parameter(tensor(start, dtype: ScalarType.Float64));
            RegisterComponents();
        }

        public double[] Values => theta.detach().cpu().to(ScalarType.Float64).data<double>().ToArray();

        public Tensor Theta => theta;
    }

    private static readonly double[] Curvature = { 1, 2, 4, 0.5, 3 };
    private static readonly double[] Minimum = { 1, -1, 0.5, 2, -3 };

    /// <summary>
    /// L(θ) = ½ Σᵢ hᵢ (θᵢ − tᵢ − εᵢ)², with εᵢ the mean of <c>noise</c>·N(0,1) over a batch of 8 draws, so that
    /// the noise exercises the generator; noise 0 makes every step exact.
    /// </summary>
    private sealed class Quadratic(Vector model, double noise, params ITrainingHook[] hooks) : ITrainingObjective
    {
        public string Name => "quadratic";
        public string ValueName => "L";
        public IReadOnlyList<ITrainingHook> Hooks => hooks;
        public double Break { get; set; } = double.NaN;   // a step value that makes the loss NaN when set

        public ObjectiveEvaluation Evaluate(Generator generator)
        {
            var eps = randn(new long[] { 8, Curvature.Length }, dtype: ScalarType.Float64, generator: generator).mean(new long[] { 0 }) * noise;
            var d = model.Theta - tensor(Minimum, dtype: ScalarType.Float64) - eps;
            var loss = 0.5 * (tensor(Curvature, dtype: ScalarType.Float64) * d * d).sum();
            if (!double.IsNaN(Break)) loss = loss * Break;
            double value = loss.item<double>();
            return new ObjectiveEvaluation(loss, value, 0, new[] { KeyValuePair.Create("distance", d.norm().item<double>()) });
        }
    }

    /// <summary>Newton's preconditioner for the quadratic: g ← g / h.</summary>
    private sealed class DivideByCurvature : IGradientTransform
    {
        public int Calls { get; private set; }

        public void Apply(IReadOnlyList<Parameter> parameters, ObjectiveEvaluation evaluation)
        {
            Calls++;
            using var h = tensor(Curvature, dtype: ScalarType.Float64);
            parameters[0].grad!.div_(h);
        }
    }

    private static readonly double[] Start = { 0, 0, 0, 0, 0 };

    private static TrainerOptions Sgd(double rate) => new() { Optimizer = OptimizerKind.Sgd, Schedule = LearningRateSchedule.Constant(rate), DType = ScalarType.Float64, GradientClipNorm = 0 };

    [Fact]
    public void PlainGradientDescentTakesTheClosedFormStep()
    {
        var model = new Vector(Start);
        using var trainer = new Trainer(model, new Quadratic(model, 0), Sgd(0.1), 1);
        var record = trainer.Step();
        var expected = Start.Select((t, i) => t - 0.1 * Curvature[i] * (t - Minimum[i])).ToArray();
        for (int i = 0; i < Start.Length; i++) Assert.Equal(expected[i], model.Values[i], 12);
        Assert.Equal(1, record.Step);
        Assert.Equal(0.5 * Curvature.Zip(Minimum, (h, t) => h * t * t).Sum(), record.Loss, 12);
        Assert.Equal(Math.Sqrt(Minimum.Sum(t => t * t)), record["distance"], 12);
        Assert.Equal(Math.Sqrt(Curvature.Zip(Minimum, (h, t) => h * h * t * t).Sum()), record.GradientNorm, 12);
    }

    [Fact]
    public void AGradientTransformActsBetweenBackwardAndTheOptimiserStep()
    {
        // With g ← g / h, gradient descent at rate 1 is Newton's method: one step lands on the minimum.
        var model = new Vector(Start);
        var transform = new DivideByCurvature();
        using var trainer = new Trainer(model, new Quadratic(model, 0), Sgd(1), 1, gradientTransform: transform);
        var record = trainer.Step();
        Assert.Equal(1, transform.Calls);
        for (int i = 0; i < Start.Length; i++) Assert.Equal(Minimum[i], model.Values[i], 12);
        Assert.Equal(Math.Sqrt(Minimum.Sum(t => t * t)), record.GradientNorm, 12);   // the norm of the transformed gradient
        Assert.Equal(0, trainer.Step().Loss, 15);
    }

    [Fact]
    public void TheScheduleSetsEachStepsRate()
    {
        var model = new Vector(Start);
        var options = Sgd(0.1) with { Schedule = new LearningRateSchedule(0.1, new[] { 2, 4 }, 0.5) };
        using var trainer = new Trainer(model, new Quadratic(model, 0), options, 1);
        var rates = Enumerable.Range(0, 5).Select(_ => trainer.Step().LearningRate).ToArray();
        Assert.Equal(new[] { 0.1, 0.1, 0.05, 0.05, 0.025 }, rates);
    }

    [Fact]
    public void ResumeFromACheckpointIsBitForBit()
    {
        var header = new CheckpointHeader("toy", "{\"n\":5}", "{\"kind\":\"quadratic\",\"noise\":0.3}", "Float64");
        var path = Path.Combine(Path.GetTempPath(), $"hybrid-trainer-{Guid.NewGuid():N}.bin");
        var options = new TrainerOptions { Schedule = new LearningRateSchedule(0.05, new[] { 4 }, 0.5), DType = ScalarType.Float64 };
        var straight = new Vector(Start);
        using (var t = new Trainer(straight, new Quadratic(straight, 0.3), options, 7))
            for (int i = 0; i < 6; i++) t.Step();
        var first = new Vector(Start);
        using (var t = new Trainer(first, new Quadratic(first, 0.3), options, 7))
        {
            for (int i = 0; i < 3; i++) t.Step();
            t.SaveCheckpoint(path, header);
        }
        var resumed = new Vector(Start);
        using (var t = new Trainer(resumed, new Quadratic(resumed, 0.3), options, 12345))   // another seed: the generator comes from the file
        {
            t.LoadCheckpoint(path, header);
            Assert.Equal(3, t.CompletedSteps);
            for (int i = 0; i < 3; i++) t.Step();
        }
        File.Delete(path);
        Assert.Equal(straight.Values, resumed.Values);
    }

    [Fact]
    public void AMismatchedCheckpointIsRefusedNamingEachDifference()
    {
        var header = new CheckpointHeader("toy", "{\"n\":5,\"width\":8}", "{\"kind\":\"quadratic\",\"noise\":0.3}", "Float64");
        var path = Path.Combine(Path.GetTempPath(), $"hybrid-trainer-{Guid.NewGuid():N}.bin");
        var model = new Vector(Start);
        using var t = new Trainer(model, new Quadratic(model, 0.3), Sgd(0.1), 1);
        t.Step();
        t.SaveCheckpoint(path, header);
        var before = model.Values;
        var other = new CheckpointHeader("other", "{\"n\":5,\"width\":16}", "{\"kind\":\"quadratic\",\"noise\":0.5}", "Float32");
        var e = Assert.Throws<InvalidDataException>(() => t.LoadCheckpoint(path, other));
        File.Delete(path);
        Assert.Contains("kind: checkpoint has toy, this run has other", e.Message);
        Assert.Contains("model width: checkpoint has 8, this run has 16", e.Message);
        Assert.Contains("target noise: checkpoint has 0.3, this run has 0.5", e.Message);
        Assert.Contains("dtype: checkpoint has Float64, this run has Float32", e.Message);
        Assert.DoesNotContain("model n", e.Message);
        Assert.Equal(before, model.Values);   // refused before anything changed
    }

    [Fact]
    public void ANonFiniteLossStopsWithADiagnosisBeforeTheStep()
    {
        var model = new Vector(Start);
        var objective = new Quadratic(model, 0);
        using var trainer = new Trainer(model, objective, Sgd(0.1), 1);
        trainer.Step();
        var before = model.Values;
        objective.Break = double.PositiveInfinity;
        var e = Assert.Throws<TrainingDivergenceException>(() => trainer.Step());
        Assert.Contains("training diverged at step 2: the loss L is Infinity", e.Message);
        Assert.Contains("last finite L = ", e.Message);
        Assert.Equal(before, model.Values);
        Assert.Equal(1, trainer.CompletedSteps);
    }

    /// <summary>Returns to the state after step 1 at step 3, halves the rate, and ends training at step 4.</summary>
    private sealed class RewindOnce : ITrainingHook
    {
        private byte[] saved = Array.Empty<byte>();

        public void Attach(Trainer trainer) { }

        public IReadOnlyList<KeyValuePair<string, double>> AfterStep(Trainer trainer, TrainingRecord record)
        {
            if (record.Step == 1) saved = trainer.Snapshot();
            if (record.Step == 3) { trainer.Restore(saved); trainer.LearningRateScale = 0.5; }
            if (record.Step == 4) trainer.End("the toy hook ended training");
            return new[] { KeyValuePair.Create("hook_step", (double)record.Step) };
        }

        public void Save(BinaryWriter writer) => writer.Write(saved.Length);
        public void Load(BinaryReader reader, Trainer trainer) => reader.ReadInt32();
    }

    [Fact]
    public void HooksAddDiagnosticsRestoreSnapshotsScaleTheRateAndEndTraining()
    {
        var model = new Vector(Start);
        using var trainer = new Trainer(model, new Quadratic(model, 0, new RewindOnce()), Sgd(0.1), 1);
        var first = trainer.Step();
        var afterFirst = model.Values;
        Assert.Equal(new[] { "distance", "hook_step" }, first.Diagnostics.Select(d => d.Key));
        trainer.Step();
        trainer.Step();
        Assert.Equal(afterFirst, model.Values);
        Assert.Equal(0.05, trainer.LearningRate, 15);
        Assert.False(trainer.HasEnded);
        Assert.Equal(0.05, trainer.Step().LearningRate, 15);
        Assert.True(trainer.HasEnded);
        var e = Assert.Throws<InvalidOperationException>(() => trainer.Step());
        Assert.Equal("the toy hook ended training", e.Message);
    }
}
