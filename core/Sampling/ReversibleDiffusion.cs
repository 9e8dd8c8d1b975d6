using Hybrid.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Sampling;

/// <summary>
/// The reversible diffusion dX = −½∇U dt + dW with invariant density ρ ∝ e^{−U}, discretised by Metropolis-adjusted
/// Langevin steps of length h (<see cref="LangevinProposal"/> inside <see cref="MetropolisHastings"/>): ρ is kept
/// exactly, the time evolution to O(h). With U = −2 ln ψ₀ of a quantum ground state this is the Euclidean process of
/// that quantum system (the ground-state transformation): its generator is −(H − E₀) conjugated by ψ₀, so its
/// correlators are the system's Euclidean correlators.
/// </summary>
public sealed class ReversibleDiffusion : IDisposable
{
    private readonly MetropolisHastings chains;
    private long proposals;
    private long accepted;

    /// <summary><paramref name="paths"/> independent copies of the diffusion of <paramref name="potential"/> with time step <paramref name="step"/>.</summary>
    public ReversibleDiffusion(IAction potential, double step, int paths, long seed, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(potential);
        if (!(step > 0) || !double.IsFinite(step)) throw new ArgumentException($"time step {step} is not allowed; it must be a finite number > 0", nameof(step));
        if (paths < 1) throw new ArgumentException($"paths {paths} is not allowed; it must be ≥ 1", nameof(paths));
        Potential = potential;
        TimeStep = step;
        chains = new MetropolisHastings(potential, new LangevinProposal(potential, step), paths, seed, device: device);
    }

    /// <summary>U of ρ ∝ e^{−U}.</summary>
    public IAction Potential { get; }

    /// <summary>h.</summary>
    public double TimeStep { get; }

    /// <summary>Fraction of Langevin steps accepted so far: 1 − O(h^{3/2}); well below 1 means h is too large for the dynamics.</summary>
    public double Acceptance => proposals == 0 ? double.NaN : accepted / (double)proposals;

    /// <summary>The current positions [paths, ..shape] (owned by the diffusion: clone to keep).</summary>
    public Tensor State => chains.State;

    private void Advance(int steps)
    {
        for (int s = 0; s < steps; s++)
        {
            var a = chains.Step();
            proposals += a.Length;
            accepted += a.Count(b => b);
        }
    }

    /// <summary>Runs the diffusion for time <paramref name="time"/> ≥ 0 without recording (to reach equilibrium).</summary>
    public void Equilibrate(double time)
    {
        if (!(time >= 0) || !double.IsFinite(time)) throw new ArgumentException($"equilibration time {time} is not allowed; it must be a finite number ≥ 0", nameof(time));
        Advance((int)Math.Ceiling(time / TimeStep));
    }

    /// <summary>
    /// Records <paramref name="points"/> positions spaced by <paramref name="stride"/> steps (time stride·h), starting
    /// with the current one: [paths, points, ..shape].
    /// </summary>
    public Tensor Record(int points, int stride, Action<int>? progress = null)
    {
        if (points < 1) throw new ArgumentException($"points {points} is not allowed; it must be ≥ 1", nameof(points));
        if (stride < 1) throw new ArgumentException($"stride {stride} is not allowed; it must be ≥ 1", nameof(stride));
        var recorded = new Tensor[points];
        try
        {
            for (int k = 0; k < points; k++)
            {
                if (k > 0) Advance(stride);
                recorded[k] = chains.State.clone().DetachFromDisposeScope();
                progress?.Invoke(k + 1);
            }
            return stack(recorded, 1);
        }
        finally
        {
            foreach (var r in recorded) r?.Dispose();
        }
    }

    /// <inheritdoc/>
    public void Dispose() => chains.Dispose();
}
