using System.Globalization;
using Hybrid.Vmc;
using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.O3;

/// <summary>
/// The Hamiltonian lattice of the 1+1D O(3) σ-model, a periodic chain of quantum rotors,
/// H = (g²/2) Σ_i L_i² − (1/g²) Σ_bonds n_i·n_{i+1}, with L_i² = −Δ_{S²} on site i (one bond when L = 2). For ψ = e^u
/// its local energy is E_loc = (g²/2) Σ_i [−Δ_i u − |∇_i u|²] − (1/g²) Σ_bonds n_i·n_{i+1}, with u = ln|ψ| away from nodes.
/// Configurations are evaluated in chunks, so memory stays bounded whatever the batch.
/// </summary>
public sealed class RotorChainHamiltonian : ILocalOperator
{
    /// <summary>The Hamiltonian of a chain of <paramref name="sites"/> at coupling g² = <paramref name="couplingSquared"/>.</summary>
    /// <param name="sites">L ≥ 2.</param>
    /// <param name="couplingSquared">g² &gt; 0.</param>
    /// <param name="route">How the Laplacian of ln|ψ| is computed (the forward Laplacian unless testing).</param>
    /// <param name="chunk">Configurations per evaluation, ≥ 1: bounds the memory of the derivatives (default
    /// <see cref="DefaultChunk"/>).</param>
    public RotorChainHamiltonian(int sites, double couplingSquared, LaplacianRoute route = LaplacianRoute.Forward, int? chunk = null)
    {
        RotorChain.CheckSites(sites);
        if (!(couplingSquared > 0) || !double.IsFinite(couplingSquared)) throw new ArgumentException($"coupling g² = {couplingSquared} is not allowed; it must be a finite number > 0");
        if (chunk < 1) throw new ArgumentException($"chunk size {chunk} is not allowed; it must be ≥ 1");
        Sites = sites;
        CouplingSquared = couplingSquared;
        Route = route;
        Chunk = chunk ?? DefaultChunk(sites);
    }

    /// <summary>The chunk a chain of <paramref name="sites"/> sites is evaluated in by default: 512/L configurations,
    /// within 16 … 64.</summary>
    /// <remarks>
    /// An evaluation's jets hold [chunk, L, D, 3, H] doubles (D slots of width H): at L = 32 and a chunk of 256 that is
    /// tens of megabytes per tensor, past the caches, and each one fresh memory. Measured on the project machine
    /// (o3-vmc, window ansatz, g² = 1, same energies): L = 4 trained at 32 steps/s in chunks of 64, against 18 in chunks
    /// of 256 and 11 in chunks of 16 (per-operation overhead); L = 16 at 5.0 steps/s in chunks of 32 against 1.8; L = 32
    /// at 1.7 in chunks of 16 against 0.4. `bench o3-local-energy` finds chunks of 16 two to four times faster than
    /// chunks of 64 at L = 64.
    /// </remarks>
    public static int DefaultChunk(int sites) => Math.Clamp(512 / Math.Max(sites, 1), 16, 64);

    /// <summary>Sites L.</summary>
    public int Sites { get; }

    /// <summary>The coupling g².</summary>
    public double CouplingSquared { get; }

    /// <summary>How the Laplacian is computed.</summary>
    public LaplacianRoute Route { get; }

    /// <summary>Configurations per evaluation.</summary>
    public int Chunk { get; }

    /// <summary>The potential −(1/g²) Σ_bonds n_i·n_{i+1} of each configuration, [B].</summary>
    public Tensor Potential(Tensor n) => RotorChain.BondSum(n).mul(-1 / CouplingSquared);

    /// <summary>E_loc from ln|ψ|'s derivatives at the configurations <paramref name="n"/>.</summary>
    public Tensor LocalEnergy(WavefunctionDerivatives derivatives, Tensor n) =>
        (derivatives.Laplacian + derivatives.Gradient.square().sum(new long[] { 1, 2 })).mul(-CouplingSquared / 2) + Potential(n);

    /// <inheritdoc/>
    public Tensor LocalValues(IWavefunction wavefunction, Tensor x)
    {
        ArgumentNullException.ThrowIfNull(wavefunction);
        RotorChain.CheckConfigurations(x, Sites);
        if (Route == LaplacianRoute.Forward && wavefunction is not IRotorWavefunction)
            throw new ArgumentException($"the forward Laplacian needs a rotor-chain wavefunction; {wavefunction.Describe()} is not one (use the autodiff route)");
        long batch = x.shape[0];
        var parts = new List<Tensor>();
        using (var outer = NewDisposeScope())
        {
            for (long start = 0; start < batch; start += Chunk)
            {
                using var scope = NewDisposeScope();
                var n = x.narrow(0, start, Math.Min(Chunk, batch - start)).detach();
                WavefunctionDerivatives d;
                if (Route == LaplacianRoute.Autodiff) d = AutodiffDerivatives.Of(wavefunction, n);
                else
                {
                    using var _ = no_grad();
                    d = ((IRotorWavefunction)wavefunction).Derivatives(n);
                }
                parts.Add(LocalEnergy(d, n).detach().MoveToOuterDisposeScope());
            }
            return cat(parts.ToArray(), 0).MoveToOuterDisposeScope();
        }
    }

    /// <inheritdoc/>
    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"{{\"kind\":\"o3-rotor-chain\",\"sites\":{Sites},\"g2\":{CouplingSquared:R}}}");
}
