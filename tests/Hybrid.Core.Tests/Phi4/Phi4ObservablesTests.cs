using Hybrid.Lattice;
using Hybrid.Phi4;
using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Core.Tests.Phi4;

public class Phi4ObservablesTests
{
    [Fact]
    public void MeasurementsAgreeWithTheFullTwoPointFunction()
    {
        using var scope = NewDisposeScope();
        using var g = new Generator(21);
        var phi = randn(new long[] { 3, 6, 6 }, dtype: ScalarType.Float64, generator: g);
        var m = Hybrid.Phi4.Phi4Observables.Measure(phi);
        var full = Hybrid.Phi4.Phi4Observables.TwoPointFunction(phi); // [B, t, x]
        for (int b = 0; b < 3; b++)
        {
            // Σ_x G(x) = M²/V, G(0) = ⟨φ²⟩ over sites, and the zero-momentum correlator is G summed over one
            // axis, averaged over the two choices of axis.
            Assert.Equal(m.MagnetizationSquared[b] / 36, full[b].sum().item<double>(), 10);
            Assert.Equal(phi[b].square().mean().item<double>(), full[b, 0, 0].item<double>(), 10);
            for (int t = 0; t < 6; t++)
            {
                double expected = 0.5 * (full[b, t].sum().item<double>() + full[b, .., t].sum().item<double>());
                Assert.Equal(expected, m.Correlator[b, t], 10);
            }
            double ising = 0.5 * (full[b, 1, 0].item<double>() + full[b, 0, 1].item<double>());
            Assert.Equal(ising, m.IsingEnergy[b], 10);
        }
    }
}
