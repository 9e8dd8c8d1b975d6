namespace Hybrid.Numerics;

/// <summary>Composite Gauss–Legendre quadrature for the core's integral operators (the F# analysis layer has its own for any order).</summary>
public static class GaussLegendre
{
    // The 8-point rule on [−1, 1] (exact for polynomials of degree 15), to 16 digits.
    private static readonly double[] Abscissas8 = { -0.9602898564975363, -0.7966664774136267, -0.5255324099163290, -0.1834346424956498, 0.1834346424956498, 0.5255324099163290, 0.7966664774136267, 0.9602898564975363 };
    private static readonly double[] Weights8 = { 0.1012285362903763, 0.2223810344533745, 0.3137066458778873, 0.3626837833783620, 0.3626837833783620, 0.3137066458778873, 0.2223810344533745, 0.1012285362903763 };

    /// <summary>Nodes and weights of <paramref name="panels"/> equal panels of the 8-point rule on [a, b], panel by panel.</summary>
    public static (double[] Nodes, double[] Weights) Composite8(double a, double b, int panels)
    {
        if (panels < 1) throw new ArgumentException($"panels {panels} is not allowed; it must be ≥ 1");
        double width = (b - a) / panels;
        var nodes = new double[8 * panels];
        var weights = new double[8 * panels];
        for (int p = 0; p < panels; p++)
            for (int i = 0; i < 8; i++)
            {
                nodes[8 * p + i] = a + (p + 0.5) * width + 0.5 * width * Abscissas8[i];
                weights[8 * p + i] = 0.5 * width * Weights8[i];
            }
        return (nodes, weights);
    }
}
