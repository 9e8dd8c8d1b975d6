using Hybrid.Nnqm;
using Hybrid.Training;
using static TorchSharp.torch;

namespace Hybrid.Core.Tests.Nnqm;

public class DeepNnqmTests
{
    [Fact]
    public void TwoPointFunctionFromTheHermiteExpansionMatchesSampledPaths()
    {
        using var model = new DeepNnqm(2, 8, new[] { 1.0, 2.5 }, seed: 3);
        using (no_grad())
            foreach (var p in model.parameters()) if (p.shape.Length == 2 && p.shape[0] == 1 && p.shape[1] == 8) p.copy_(full_like(p, 0.4));   // switch the tanh part on
        double[] lags = { 0, 0.5, 1.0 };
        using var times = tensor(lags, dtype: ScalarType.Float64);
        double[] exact;
        using (no_grad()) using (var g = model.TwoPoint(times)) exact = g.data<double>().ToArray();
        // Order 15 leaves a small part of ⟨y²⟩ outside the expansion, far below the sampling error here.
        Assert.True(model.TruncationError() < 1e-4 * exact[0], $"truncation {model.TruncationError()}");
        using var generator = new Generator(17);
        using var paths = model.SamplePaths(40_000, 11, 0.1, generator);
        var v = paths.data<double>().ToArray();
        for (int i = 0; i < lags.Length; i++)
        {
            int lag = (int)Math.Round(lags[i] / 0.1);
            double sum = 0, sumSq = 0;
            for (int p = 0; p < 40_000; p++) { double z = v[p * 11] * v[p * 11 + lag]; sum += z; sumSq += z * z; }
            double mean = sum / 40_000, error = Math.Sqrt((sumSq / 40_000 - mean * mean) / 40_000);
            Assert.True(Math.Abs(mean - exact[i]) < 4 * error, $"t = {lags[i]}: sampled {mean} ± {error} against {exact[i]}");
        }
        // Odd φ: only odd total Hermite orders, so every gap is an odd combination of the rates; the lowest is ω₁.
        var spectrum = model.Spectrum();
        Assert.Equal(1.0, spectrum[0].Gap, 10);
        Assert.Equal(exact[0], spectrum.Sum(s => s.Weight), 8);
    }

    [Fact]
    public void TrainingOnAnOrnsteinUhlenbeckTargetFindsItsRateAndWeight()
    {
        // G(t) = 0.3 e^{−1.7 t}: the linear skip path alone can represent it exactly.
        var t = Enumerable.Range(0, 16).Select(i => 0.2 * i).ToArray();
        var target = t.Select(s => 0.3 * Math.Exp(-1.7 * s)).ToArray();
        using var model = new DeepNnqm(1, 4, new[] { 1.0 }, seed: 5);
        var objective = new TwoPointMatching(model, t, target);
        using var trainer = new Trainer(model, objective, new TrainerOptions { Schedule = new LearningRateSchedule(0.02, new[] { 1500 }, 0.2), DType = ScalarType.Float64 }, 1);
        for (int s = 0; s < 2000; s++) trainer.Step();
        var spectrum = model.Spectrum(1e-6);
        Assert.Equal(1.7, spectrum[0].Gap, 3);
        Assert.Equal(0.3, spectrum[0].Weight, 3);
        Assert.Throws<ArgumentException>(() => new TwoPointMatching(model, t, target.Select(v => -v).ToArray()));
    }
}
