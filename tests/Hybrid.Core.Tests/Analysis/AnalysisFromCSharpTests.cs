using Hybrid.Analysis.Statistics;
using Hybrid.Analysis.Fitting;

namespace Hybrid.Core.Tests.Analysis;

/// <summary>The F# analysis as C# code sees it, through the <see cref="Statistics"/> facade: arrays, Func and lists.</summary>
public class AnalysisFromCSharpTests
{
    private static double[] Gaussian(int n, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble())).ToArray();
    }

    [Fact]
    public void GammaMethodOfIndependentDataGivesTheNaiveError()
    {
        var x = Gaussian(4000, 1);
        var e = Statistics.GammaMethod(new[] { x });
        double naive = Math.Sqrt(x.Select(v => (v - x.Average()) * (v - x.Average())).Sum() / (x.Length - 1) / x.Length);
        Assert.Equal(x.Average(), e.Mean, 12);
        Assert.InRange(e.Error / naive, 0.9, 1.1);
        Assert.InRange(e.RHat, 0.98, 1.02);
        Assert.Matches(@"^-?0\.0\d+\(\d+\)$", Statistics.Format(e));
    }

    [Fact]
    public void DerivedAndBootstrapTakeFuncs()
    {
        var a = Gaussian(2000, 2).Select(v => 2 + 0.1 * v).ToArray();
        var b = Gaussian(2000, 3).Select(v => 4 + 0.1 * v).ToArray();
        var ratio = Statistics.Derived(m => m[0] / m[1], new[] { new[] { a }, new[] { b } });
        var boot = Statistics.Bootstrap(m => m[0] / m[1], new[] { a, b }, seed: 1, resamples: 400);
        Assert.Equal(a.Average() / b.Average(), ratio.Mean, 12);
        Assert.Equal(ratio.Mean, boot.Mean, 12);
        Assert.InRange(boot.Error / ratio.Error, 0.85, 1.15);   // 400 resamples: the bootstrap error is good to ~4%
    }

    [Fact]
    public void FitsAStraightLineWithAPrior()
    {
        double[] x = { 0, 1, 2, 3 };
        var result = Fit.LeastSquares(new[] { "a", "b" }, new[] { Prior.Flat, Prior.NewGaussian(2.0, 1.0) },
            p => x.Select(t => p[0] + p[1] * t).ToArray(),
            x.Select(t => 1 + 2 * t).ToArray(), new double[,] { { 0.01, 0, 0, 0 }, { 0, 0.01, 0, 0 }, { 0, 0, 0.01, 0 }, { 0, 0, 0, 0.01 } },
            new[] { 0.0, 0.0 });
        Assert.True(result.Converged);
        var estimates = Fit.Estimates(result);
        Assert.Equal("b", estimates[1].Key);
        Assert.Equal(2.0, estimates[1].Value.Mean, 6);
        Assert.Equal(1.0, estimates[0].Value.Mean, 6);
    }

    [Fact]
    public void FitsASpectrumAndAMatrixPencilFromCSharp()
    {
        var t = Enumerable.Range(1, 12).Select(i => (double)i).ToArray();
        var c = t.Select(x => Math.Exp(-0.4 * x) + 0.5 * Math.Exp(-1.0 * x)).ToArray();
        var covariance = new double[12, 12];
        for (int i = 0; i < 12; i++) covariance[i, i] = 1e-8 * c[i] * c[i];
        var fit = Fit.Spectrum(t, c, covariance, 2, groundMedian: 0.5, gapMedian: 0.5, amplitudeMedian: 0.5, svdCut: 0);
        Assert.True(fit.Fit.Converged);
        Assert.Equal(0.4, fit.Energies[0].Mean, 6);
        Assert.Equal(1.0, fit.Energies[1].Mean, 4);
        var pencil = Fit.MatrixPencil(c, 2);
        Assert.Equal(0.4, pencil[0], 8);
        Assert.Equal(1.0, pencil[1], 8);
    }
}
