using Hybrid.Lattice;
using Hybrid.Phi4;
using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Core.Tests.Phi4;

public class FreeFieldTheoryTests
{
    [Fact]
    public void SusceptibilityIsTheZeroMomentumPropagatorAndSumsThePositionSpaceOne()
    {
        var free = new FreeFieldTheory(new SquareLattice(6), 0.5);
        Assert.Equal(1.0, free.Susceptibility, 14);
        double sum = 0;
        for (int t = 0; t < 6; t++) for (int x = 0; x < 6; x++) sum += free.Propagator(t, x);
        Assert.Equal(free.Susceptibility, sum, 12);
        Assert.Equal(free.Susceptibility, free.ZeroMomentumCorrelator().Sum(), 12);
    }

    [Fact]
    public void FreeEnergyIsMinusLogOfTheGaussianIntegral()
    {
        // Brute force: −ln Z = −(V/2) ln 2π + ½ ln det A with A = 2(−Δ + m²) built as a dense matrix.
        int l = 3; double m2 = 0.8; int v = l * l;
        var a = new double[v, v];
        for (int t = 0; t < l; t++)
            for (int x = 0; x < l; x++)
            {
                int i = t * l + x;
                a[i, i] += 2 * (4 + m2);
                foreach (var (dt, dx) in new[] { (1, 0), (-1, 0), (0, 1), (0, -1) })
                    a[i, ((t + dt + l) % l) * l + (x + dx + l) % l] -= 2;
            }
        using var matrix = tensor(a.Cast<double>().ToArray(), new long[] { v, v }, dtype: ScalarType.Float64);
        double logDet = linalg.slogdet(matrix).Item2.item<double>();
        var free = new FreeFieldTheory(new SquareLattice(l), m2);
        Assert.Equal(-0.5 * v * Math.Log(2 * Math.PI) + 0.5 * logDet, free.FreeEnergy, 10);
    }
}
