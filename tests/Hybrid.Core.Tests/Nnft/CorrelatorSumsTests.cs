using Hybrid.Nnft;
using static TorchSharp.torch;

namespace Hybrid.Core.Tests.Nnft;

public class CorrelatorSumsTests
{
    [Fact]
    public void MultisetsAreLexicographicAndComplete()
    {
        var quads = CorrelatorSums.Multisets(3, 4).ToList();
        Assert.Equal(15, quads.Count);                     // C(3 + 4 − 1, 4)
        Assert.Equal(new[] { 0, 0, 0, 0 }, quads[0]);
        Assert.Equal(new[] { 0, 0, 0, 1 }, quads[1]);
        Assert.Equal(new[] { 2, 2, 2, 2 }, quads[^1]);
        Assert.All(quads, q => Assert.True(q.Zip(q.Skip(1), (a, b) => a <= b).All(x => x)));
        Assert.Equal(quads.Count, quads.Select(q => string.Join(",", q)).Distinct().Count());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void HostSumsAreTheTensorSums(bool weighted)
    {
        // 45 networks in 4 blocks (uneven), 5 points, every order, twice (the second chunk from network 48).
        var rng = new Random(9);
        var values = Enumerable.Range(0, 45 * 5).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
        var weights = Enumerable.Range(0, 45).Select(_ => rng.NextDouble()).ToArray();
        var host = new CorrelatorSums(5, 4, 6);
        var device = new CorrelatorSums(5, 4, 6);
        foreach (long first in new long[] { 0, 48 })
        {
            host.Add(values, first, weighted ? weights : default);
            using var phi = tensor(values, new long[] { 45, 5 }, dtype: ScalarType.Float64);
            using var w = tensor(weights, dtype: ScalarType.Float64);
            device.Add(phi, first, weighted ? w : null);
        }
        Assert.Equal(device.Counts, host.Counts);
        for (int b = 0; b < 4; b++)
        {
            Assert.Equal(device.WeightSums[b], host.WeightSums[b], 12);
            Assert.Equal(device.WeightSquares[b], host.WeightSquares[b], 12);
            foreach (int order in new[] { 1, 2, 4, 6 })
                for (int c = 0; c < host.Indices(order).Count; c++)
                    Assert.Equal(device.Sums(order, b)[c], host.Sums(order, b)[c], 12);
        }
    }

    [Fact]
    public void SumsEqualBruteForceProductsForEveryOrder()
    {
        var rng = new Random(5);
        var values = Enumerable.Range(0, 7 * 3).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
        var sums = new CorrelatorSums(3, 2, 6);
        using (var phi = tensor(values, new long[] { 7, 3 }, dtype: ScalarType.Float64))
            sums.Add(phi, 0);
        Assert.Equal(new long[] { 4, 3 }, sums.Counts);   // network g in block g mod 2
        foreach (int order in new[] { 1, 2, 4, 6 })
        {
            var combos = sums.Indices(order);
            for (int c = 0; c < combos.Count; c++)
            {
                for (int block = 0; block < 2; block++)
                {
                    double expected = 0;
                    for (int m = block; m < 7; m += 2) expected += combos[c].Aggregate(1.0, (p, i) => p * values[m * 3 + i]);
                    Assert.Equal(expected, sums.Sums(order, block)[c], 12);
                }
            }
        }
    }

    [Fact]
    public void BadSizesAreRefusedByName()
    {
        Assert.Contains("points 0", Assert.Throws<ArgumentException>(() => new CorrelatorSums(0, 4, 4)).Message);
        Assert.Contains("blocks 1", Assert.Throws<ArgumentException>(() => new CorrelatorSums(3, 1, 4)).Message);
        Assert.Contains("maximal order 5", Assert.Throws<ArgumentException>(() => new CorrelatorSums(3, 4, 5)).Message);
        using var phi = zeros(4, 3, dtype: ScalarType.Float64);
        Assert.Contains("first network 2", Assert.Throws<ArgumentException>(() => new CorrelatorSums(3, 4, 4).Add(phi, 2)).Message);
    }
}
