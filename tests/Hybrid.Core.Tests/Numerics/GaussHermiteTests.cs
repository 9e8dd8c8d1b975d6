using Hybrid.Numerics;
using Xunit;

namespace Hybrid.Core.Tests.Numerics;

public class GaussHermiteTests
{
    [Fact]
    public void GaussHermiteIntegratesGaussianMomentsExactly()
    {
        var (x, w) = GaussHermite.Probabilists(12);
        double Moment(int p) => x.Zip(w, (a, b) => b * Math.Pow(a, p)).Sum();
        Assert.Equal(1.0, Moment(0), 12);
        Assert.Equal(0.0, Moment(3), 12);
        Assert.Equal(1.0, Moment(2), 12);
        Assert.Equal(3.0, Moment(4), 11);
        Assert.Equal(945.0, Moment(10), 8);   // 9!!: exact up to degree 2n − 1 = 23
    }

}

public class GaussLegendreTests
{
    [Fact]
    public void CompositeRuleIntegratesPolynomialsAndSmoothFunctions()
    {
        var (x, w) = GaussLegendre.Composite8(-1, 2, 3);
        Assert.Equal(24, x.Length);
        Assert.Equal(3.0, w.Sum(), 13);
        // Degree 15 is exact on each panel: ∫_{−1}^{2} t¹⁵ dt = (2¹⁶ − 1)/16.
        Assert.Equal((Math.Pow(2, 16) - 1) / 16, x.Zip(w, (t, v) => v * Math.Pow(t, 15)).Sum(), 9);
        var (y, u) = GaussLegendre.Composite8(0, Math.PI, 4);
        Assert.Equal(2.0, y.Zip(u, (t, v) => v * Math.Sin(t)).Sum(), 14);
        Assert.Throws<ArgumentException>(() => GaussLegendre.Composite8(0, 1, 0));
    }
}
