using Hybrid.Lattice;
using Hybrid.Phi4;
using Hybrid.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Core.Tests;

/// <summary>
/// Errors here come from the spread of per-chain means across independent chains (each chain far longer
/// than its autocorrelation time), an estimate that does not rely on the Γ-method under test elsewhere.
/// </summary>
internal static class ChainStatistics
{
    public static (double Mean, double Error) MeanOverChains(IReadOnlyList<double[]> perTrajectory, Func<int, double[], double>? pick = null)
    {
        int chains = perTrajectory[0].Length;
        var chainMeans = Enumerable.Range(0, chains).Select(c => perTrajectory.Average(row => row[c])).ToArray();
        double mean = chainMeans.Average();
        double variance = chainMeans.Sum(m => (m - mean) * (m - mean)) / (chains - 1);
        return (mean, Math.Sqrt(variance / chains));
    }
}
