using Hybrid.Lattice;
using Hybrid.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Phi4;

/// <summary>
/// The lattice φ⁴ action S(φ) = Σ_x [Σ_μ (φ_{x+μ̂} − φ_x)² + m² φ_x² + λ φ_x⁴] on a periodic L×L lattice,
/// evaluated for a batch of configurations at once. Differentiable (flows train through it) and with an
/// analytic gradient for molecular dynamics.
/// </summary>
public sealed class Phi4Action : ILatticeAction
{
    /// <summary>Creates the action; loads the TorchSharp runtime if needed.</summary>
    public Phi4Action(SquareLattice lattice, Phi4Parameters parameters)
    {
        ArgumentNullException.ThrowIfNull(lattice);
        ArgumentNullException.ThrowIfNull(parameters);
        TorchRuntime.EnsureLoaded();
        Lattice = lattice;
        Parameters = parameters;
    }

    /// <inheritdoc/>
    public SquareLattice Lattice { get; }

    /// <summary>The couplings.</summary>
    public Phi4Parameters Parameters { get; }

    /// <inheritdoc/>
    public IReadOnlyList<long> ConfigurationShape => new long[] { Lattice.Extent, Lattice.Extent };

    /// <inheritdoc/>
    public string Describe() => System.Text.Json.JsonSerializer.Serialize(new
    {
        kind = "phi4",
        L = Lattice.Extent,
        m2 = Parameters.MassSquared,
        lambda = Parameters.Lambda,
    });

    /// <inheritdoc/>
    public Tensor Action(Tensor phi)
    {
        CheckShape(phi);
        using var scope = NewDisposeScope();
        var kinetic = (roll(phi, -1, 1) - phi).square() + (roll(phi, -1, 2) - phi).square();
        var phi2 = phi.square();
        var density = kinetic + phi2 * (Parameters.MassSquared + Parameters.Lambda * phi2);
        return density.sum(new long[] { 1, 2 }).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public Tensor Gradient(Tensor phi)
    {
        CheckShape(phi);
        using var scope = NewDisposeScope();
        // ∂S/∂φ_x = 2 Σ_μ (2φ_x − φ_{x+μ̂} − φ_{x−μ̂}) + 2m² φ_x + 4λ φ_x³
        var neighbours = roll(phi, 1, 1) + roll(phi, -1, 1) + roll(phi, 1, 2) + roll(phi, -1, 2);
        double diagonal = 4 * Phi4Parameters.Dimensions + 2 * Parameters.MassSquared;
        var onSite = phi * (phi.square() * (4 * Parameters.Lambda) + diagonal);
        return onSite.sub_(neighbours.mul_(2)).MoveToOuterDisposeScope();
    }

    private void CheckShape(Tensor phi)
    {
        int l = Lattice.Extent;
        if (phi.dim() != 3 || phi.shape[1] != l || phi.shape[2] != l)
            throw new ArgumentException($"field of shape [{string.Join(", ", phi.shape)}] does not fit this action; expected [batch, {l}, {l}]", nameof(phi));
    }
}
