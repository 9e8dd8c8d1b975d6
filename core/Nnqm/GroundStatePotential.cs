using System.Text.Json;
using Hybrid.Sampling;
using static TorchSharp.torch;

namespace Hybrid.Nnqm;

/// <summary>
/// U(x) = −2 ln ψ₀(x) of the anharmonic oscillator's ground state, as an <see cref="IAction"/> on [B, 1]: the
/// potential whose reversible diffusion (<see cref="ReversibleDiffusion"/>) has invariant density ψ₀² and drift
/// ψ₀′/ψ₀, the Euclidean process of the oscillator. ψ₀ = e^{−x²/2} S(x) with S = Σ c_n ĥ_n, where ĥ_n are the
/// Hermite functions without their Gaussian (ĥ₀ = π^{−1/4}, ĥ_{n+1} = √(2/(n+1)) x ĥ_n − √(n/(n+1)) ĥ_{n−1}):
/// factoring the Gaussian out keeps U finite far beyond where ψ₀ itself underflows. Where the truncated S is not
/// positive (|x| far outside where ψ₀² has weight) U is +∞ and Metropolis rejects the move.
/// </summary>
public sealed class GroundStatePotential : IAction
{
    private readonly double[] c;
    private readonly double[] dc;
    private readonly double[] up;
    private readonly double[] down;

    /// <summary>The ground-state potential of <paramref name="oscillator"/>.</summary>
    public GroundStatePotential(AnharmonicOscillator oscillator)
    {
        ArgumentNullException.ThrowIfNull(oscillator);
        Oscillator = oscillator;
        var all = oscillator.GroundState.ToArray();
        // Coefficients below 10⁻¹⁴ of the largest are round-off of the diagonalisation; dropping them keeps the
        // recursion short (a few dozen terms) without changing U where ψ₀² has weight.
        double largest = all.Max(Math.Abs);
        int n = Array.FindLastIndex(all, v => Math.Abs(v) > 1e-14 * largest) + 1;
        c = all.Take(n).ToArray();
        // With h_n′ = √(n/2) h_{n−1} − √((n+1)/2) h_{n+1} for the full Hermite functions, ψ₀′/ψ₀ = Σ_m d_m ĥ_m / S with
        // d_m = c_{m+1} √((m+1)/2) − c_{m−1} √(m/2): one more recursion term, no separate derivative pass.
        dc = new double[n + 1];
        for (int m = 0; m <= n; m++)
        {
            double up = m + 1 < n ? c[m + 1] * Math.Sqrt((m + 1) / 2.0) : 0;
            double down = m >= 1 && m - 1 < n ? c[m - 1] * Math.Sqrt(m / 2.0) : 0;
            dc[m] = up - down;
        }
        // The recursion's coefficients, ĥ_{n+1} = up_n x ĥ_n − down_n ĥ_{n−1}.
        this.up = Enumerable.Range(0, n).Select(k => Math.Sqrt(2.0 / (k + 1))).ToArray();
        this.down = Enumerable.Range(0, n).Select(k => Math.Sqrt(k / (k + 1.0))).ToArray();
    }

    /// <summary>The oscillator.</summary>
    public AnharmonicOscillator Oscillator { get; }

    /// <summary>Terms of the Hermite sum kept.</summary>
    public int Terms => c.Length;

    /// <inheritdoc/>
    public IReadOnlyList<long> ConfigurationShape { get; } = new long[] { 1 };

    // U and U′ at every x in one pass of the recursion, in managed double precision: a scalar recursion of a few
    // dozen terms per point, for which a chain of small tensor operations would cost far more in dispatch than in work.
    private void Evaluate(Tensor x, bool gradient, double[] result)
    {
        var xs = x.cpu().data<double>().ToArray();
        double h0 = Math.Pow(Math.PI, -0.25);
        for (int i = 0; i < xs.Length; i++)
        {
            double z = xs[i], hPrev = 0, h = h0, s = c[0] * h, ds = dc[0] * h;
            for (int n = 0; n < dc.Length - 1; n++)
            {
                double next = up[n] * z * h - down[n] * hPrev;
                hPrev = h;
                h = next;
                if (n + 1 < c.Length) s += c[n + 1] * h;
                ds += dc[n + 1] * h;
            }
            // U = x² − 2 ln S; U′ = −2 (ln ψ₀)′ = −2 Σ d_m ĥ_m / S. Outside S > 0: U = +∞, U′ undefined.
            result[i] = s > 0 ? (gradient ? -2 * ds / s : z * z - 2 * Math.Log(s)) : (gradient ? double.NaN : double.PositiveInfinity);
        }
    }

    /// <inheritdoc/>
    public Tensor Action(Tensor x)
    {
        ActionShapes.Check(this, x);
        var result = new double[x.shape[0]];
        Evaluate(x, false, result);
        return tensor(result, dtype: ScalarType.Float64, device: x.device);
    }

    /// <inheritdoc/>
    public Tensor Gradient(Tensor x)
    {
        ActionShapes.Check(this, x);
        var result = new double[x.shape[0]];
        Evaluate(x, true, result);
        return tensor(result, new long[] { x.shape[0], 1 }, dtype: ScalarType.Float64, device: x.device);
    }

    /// <inheritdoc/>
    public string Describe() => JsonSerializer.Serialize(new { kind = "anharmonic-ground-state", g = Oscillator.Coupling, basis = Oscillator.BasisSize, terms = Terms });
}
