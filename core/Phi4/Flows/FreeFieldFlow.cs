using Hybrid.Lattice;
using Hybrid.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Phi4.Flows;

/// <summary>
/// The exact flow of the free field (λ = 0, m² &gt; 0): φ = Σ^{1/2} z with Σ the lattice propagator,
/// applied in momentum space as φ̂(k) = √G(k) ẑ(k), G(k) = [2(k̂² + m²)]⁻¹. Its density is exactly
/// e^{−S}/Z, so importance weights are constant, the ESS is 1 and independence Metropolis accepts
/// every proposal. Fixed (no parameters): the reference against which samplers and estimators are tested.
/// </summary>
public sealed class FreeFieldFlow : LatticeFlow
{
    private readonly Tensor sqrtPropagator;
    private readonly double logJacobian;

    /// <summary>The exact flow of <paramref name="theory"/>.</summary>
    public FreeFieldFlow(FreeFieldTheory theory) : base(nameof(FreeFieldFlow))
    {
        ArgumentNullException.ThrowIfNull(theory);
        TorchRuntime.EnsureLoaded();
        int l = theory.Lattice.Extent;
        var g = new double[l * l];
        for (int q0 = 0; q0 < l; q0++)
            for (int q1 = 0; q1 < l; q1++)
                g[q0 * l + q1] = theory.MomentumPropagator(q0, q1);
        sqrtPropagator = tensor(g, new long[] { l, l }, dtype: ScalarType.Float64).sqrt_();
        // log|det Σ^{1/2}| = ½ Σ_k ln G(k): the FFT is unitary up to the 1/V it takes back.
        logJacobian = 0.5 * g.Sum(Math.Log);
        register_buffer("sqrt_propagator", sqrtPropagator);
        RegisterComponents();
    }

    private Tensor Scale(Tensor x, bool inverse)
    {
        var scale = sqrtPropagator.to(x.dtype, x.device);
        var spectrum = fft.fft2(x);
        spectrum = inverse ? spectrum / scale : spectrum * scale;
        return fft.ifft2(spectrum).real;
    }

    /// <inheritdoc/>
    public override (Tensor Phi, Tensor LogJacobian) forward(Tensor z)
    {
        using var scope = NewDisposeScope();
        var phi = Scale(z, inverse: false);
        var logJ = full(new long[] { z.shape[0] }, logJacobian, dtype: z.dtype, device: z.device);
        return (phi.MoveToOuterDisposeScope(), logJ.MoveToOuterDisposeScope());
    }

    /// <inheritdoc/>
    public override (Tensor Z, Tensor LogJacobian) Inverse(Tensor phi)
    {
        using var scope = NewDisposeScope();
        var z = Scale(phi, inverse: true);
        var logJ = full(new long[] { phi.shape[0] }, -logJacobian, dtype: phi.dtype, device: phi.device);
        return (z.MoveToOuterDisposeScope(), logJ.MoveToOuterDisposeScope());
    }
}
