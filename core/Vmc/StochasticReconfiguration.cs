using Hybrid.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Hybrid.Vmc;

/// <summary>
/// Stochastic reconfiguration: replaces the energy gradient by the natural-gradient (imaginary-time) direction
/// δ = (S + λ)⁻¹ ⟨Ō ε⟩ with S = ⟨Ō Ōᵀ⟩ the quantum geometric tensor of the batch, Ō = O − ⟨O⟩ and ε = E_loc − E, so
/// that plain gradient descent θ ← θ − η δ is an imaginary-time step of size η. With more samples N than parameters P
/// it solves the P×P system; with fewer (large networks) it uses minSR, the same δ by the identity
/// (ŌᵀŌ/N + λ)⁻¹Ōᵀ = Ōᵀ(ŌŌᵀ/N + λ)⁻¹, solving N×N instead. λ is the diagonal shift that regularises the directions
/// the batch does not resolve.
/// </summary>
public sealed class StochasticReconfiguration : IGradientTransform
{
    // Each parameter's columns in the log-derivatives: the wavefunction's order, which the trainer's list may not share.
    private readonly Dictionary<IntPtr, (long Offset, long Size)> columns = new();

    /// <summary>Preconditions with the per-sample log-derivatives each evaluation carries (<see cref="ObjectiveEvaluation.PerSampleJacobian"/>).</summary>
    /// <param name="columnOrder">The wavefunction's parameters in the column order of those log-derivatives.</param>
    /// <param name="diagonalShift">λ &gt; 0 added to the diagonal of S.</param>
    public StochasticReconfiguration(IReadOnlyList<Parameter> columnOrder, double diagonalShift = 1e-2)
    {
        ArgumentNullException.ThrowIfNull(columnOrder);
        if (!(diagonalShift > 0) || !double.IsFinite(diagonalShift)) throw new ArgumentException($"diagonal shift {diagonalShift} is not allowed; it must be a finite number > 0");
        DiagonalShift = diagonalShift;
        long offset = 0;
        foreach (var p in columnOrder)
        {
            columns[p.Handle] = (offset, p.numel());
            offset += p.numel();
        }
    }

    /// <summary>Preconditions the evaluations of <paramref name="objective"/> (its wavefunction gives the column order).</summary>
    public StochasticReconfiguration(VariationalEnergy objective, double diagonalShift = 1e-2)
        : this((objective ?? throw new ArgumentNullException(nameof(objective))).WavefunctionParameters, diagonalShift) { }

    /// <summary>λ.</summary>
    public double DiagonalShift { get; }

    /// <summary>Whether the last step solved in sample space (minSR, N &lt; P).</summary>
    public bool LastUsedSampleSpace { get; private set; }

    /// <summary>δ for centred log-derivatives <paramref name="centred"/> [N, P] and energy deviations <paramref name="deviations"/> [N].</summary>
    public static Tensor Direction(Tensor centred, Tensor deviations, double diagonalShift, out bool sampleSpace)
    {
        long n = centred.shape[0], p = centred.shape[1];
        sampleSpace = n < p;
        if (!sampleSpace)
        {
            var s = centred.t().matmul(centred).div(n) + eye(p, dtype: centred.dtype, device: centred.device).mul(diagonalShift);
            var f = centred.t().matmul(deviations).div(n);
            return linalg.solve(s, f);
        }
        var t = centred.matmul(centred.t()).div(n) + eye(n, dtype: centred.dtype, device: centred.device).mul(diagonalShift);
        return centred.t().matmul(linalg.solve(t, deviations)).div(n);
    }

    /// <inheritdoc/>
    public void Apply(IReadOnlyList<Parameter> parameters, ObjectiveEvaluation evaluation)
    {
        var centred = evaluation.PerSampleJacobian ?? throw new InvalidOperationException("stochastic reconfiguration needs an evaluation that carries its per-sample log-derivatives (a variational energy)");
        var deviations = evaluation.PerSampleResiduals ?? throw new InvalidOperationException("stochastic reconfiguration needs the per-sample energy deviations with the log-derivatives");
        var delta = Direction(centred, deviations, DiagonalShift, out bool sampleSpace);
        LastUsedSampleSpace = sampleSpace;
        using var _ = no_grad();
        foreach (var p in parameters)
        {
            if (!columns.TryGetValue(p.Handle, out var c)) throw new InvalidOperationException("the trainer's model has a parameter the wavefunction does not declare");
            var step = delta.narrow(0, c.Offset, c.Size).reshape(p.shape).to(p.dtype);
            if (p.grad is null) p.grad = step.clone();
            else p.grad.copy_(step);
        }
    }
}
