using Hybrid.Lattice;
using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Phi4;

/// <summary>
/// Per-configuration measurements of lattice φ⁴ for a batch of chains (docs/phi4.md), as plain arrays
/// indexed [chain] or [chain, t]. Means, errors and derived quantities (χ₂, U₄, ξ) are the analysis's job.
/// </summary>
/// <param name="Magnetization">M = Σ_x φ_x.</param>
/// <param name="AbsMagnetization">|M|.</param>
/// <param name="MagnetizationSquared">M².</param>
/// <param name="MagnetizationFourth">M⁴.</param>
/// <param name="IsingEnergy">(1/(dV)) Σ_x Σ_μ φ_x φ_{x+μ̂}, whose mean is (1/d) Σ_μ G_c(μ̂).</param>
/// <param name="Correlator">Zero-momentum correlator (1/V) Σ_{t'} Φ(t′)Φ(t′+t) of slice sums Φ, averaged over
/// both lattice axes (the lattice is symmetric under their exchange), whose mean is G_c(t); [chain, t].</param>
public sealed record Phi4Measurement(
    double[] Magnetization,
    double[] AbsMagnetization,
    double[] MagnetizationSquared,
    double[] MagnetizationFourth,
    double[] IsingEnergy,
    double[,] Correlator);

/// <summary>Measures lattice φ⁴ observables on a batch of configurations.</summary>
public static class Phi4Observables
{
    /// <summary>Measures every observable of <see cref="Phi4Measurement"/> for each configuration of [B, L, L].</summary>
    public static Phi4Measurement Measure(Tensor phi)
    {
        if (phi.dim() != 3 || phi.shape[1] != phi.shape[2])
            throw new ArgumentException($"field of shape [{string.Join(", ", phi.shape)}] is not a batch of square lattices [B, L, L]", nameof(phi));
        int b = (int)phi.shape[0], l = (int)phi.shape[1];
        double volume = (double)l * l;
        using var scope = NewDisposeScope();
        var x = phi.to(ScalarType.Float64);
        var m = x.sum(new long[] { 1, 2 });
        var m2 = m.square();
        var neighbours = (x * (roll(x, -1, 1) + roll(x, -1, 2))).sum(new long[] { 1, 2 }).div_(Phi4Parameters.Dimensions * volume);
        var correlator = SliceCorrelator(x.sum(2), l).add_(SliceCorrelator(x.sum(1), l)).div_(2 * volume);
        // One transfer per measurement: [B, 5 + L] columns.
        var columns = cat(new[] { m.unsqueeze(1), m.abs().unsqueeze(1), m2.unsqueeze(1), m2.square().unsqueeze(1), neighbours.unsqueeze(1), correlator }, 1)
            .cpu().contiguous();
        var flat = columns.data<double>().ToArray();
        int width = 5 + l;
        double[] Column(int c) => Enumerable.Range(0, b).Select(i => flat[i * width + c]).ToArray();
        var g = new double[b, l];
        for (int i = 0; i < b; i++)
            for (int t = 0; t < l; t++)
                g[i, t] = flat[i * width + 5 + t];
        return new Phi4Measurement(Column(0), Column(1), Column(2), Column(3), Column(4), g);
    }

    /// <summary>
    /// The full two-point function of each configuration, (1/V) Σ_y φ_y φ_{y+x} for every separation x,
    /// via FFT: (1/V) F⁻¹|Fφ|². Shape [B, L, L]; its mean over configurations is G_c(x).
    /// </summary>
    public static Tensor TwoPointFunction(Tensor phi)
    {
        if (phi.dim() != 3)
            throw new ArgumentException($"field of shape [{string.Join(", ", phi.shape)}] is not a batch [B, L, L]", nameof(phi));
        using var scope = NewDisposeScope();
        var x = phi.to(ScalarType.Float64);
        var f = fft.fft2(x);
        var power = (f * f.conj()).real;
        var g = fft.ifft2(power).real.div_(phi.shape[1] * phi.shape[2]);
        return g.MoveToOuterDisposeScope();
    }

    /// <summary>Σ_{t'} Φ(t′)Φ(t′+t) for slice sums Φ of shape [B, L], by a real FFT.</summary>
    private static Tensor SliceCorrelator(Tensor sliceSums, int l)
    {
        var f = fft.rfft(sliceSums, dim: 1);
        var power = (f * f.conj()).real;
        return fft.irfft(power.to(ScalarType.ComplexFloat64), n: l, dim: 1);
    }
}
