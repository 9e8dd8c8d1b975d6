using Hybrid.Lattice;
using Hybrid.Sampling;
using Hybrid.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Phi4.Flows;

/// <summary>
/// Reverse KL of a flow towards p ∝ e^{−S}: F_q = E_q[S + log q] = KL(q‖p) − ln Z, estimated on a batch drawn from the
/// flow with the reparameterisation gradient. Reports F_q with its standard error and the batch's ESS/N ("ess").
/// For flows with an ODE solver it carries a <see cref="SolverGuard"/> hook.
/// </summary>
public sealed class ReverseKlObjective : ITrainingObjective
{
    private readonly FlowDistribution model;
    private readonly ILatticeAction action;
    private readonly int batchSize;
    private readonly ScalarType dtype;
    private readonly Device device;

    /// <summary>The objective for <paramref name="model"/> towards <paramref name="action"/>; <paramref name="guard"/> is null for flows without an ODE solver.</summary>
    public ReverseKlObjective(FlowDistribution model, ILatticeAction action, int batchSize, ScalarType dtype, Device device, SolverGuard? guard = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(action);
        if (model.Lattice.Extent != action.Lattice.Extent)
            throw new ArgumentException($"flow lattice L = {model.Lattice.Extent} does not match the action's L = {action.Lattice.Extent}");
        if (batchSize < 2) throw new ArgumentException($"batch size {batchSize} is not allowed; it must be ≥ 2");
        this.model = model;
        this.action = action;
        this.batchSize = batchSize;
        this.dtype = dtype;
        this.device = device;
        Guard = guard;
        Hooks = guard is null ? Array.Empty<ITrainingHook>() : new ITrainingHook[] { guard };
    }

    /// <summary>The ODE solver guard, if the flow has one.</summary>
    public SolverGuard? Guard { get; }

    /// <inheritdoc/>
    public string Name => "reverse KL";

    /// <inheritdoc/>
    public string ValueName => "F_q";

    /// <inheritdoc/>
    public IReadOnlyList<ITrainingHook> Hooks { get; }

    /// <summary>Name of the ESS/N diagnostic.</summary>
    public const string EffectiveSampleSize = "ess";

    /// <inheritdoc/>
    public ObjectiveEvaluation Evaluate(Generator generator)
    {
        var (phi, logQ) = model.Sample(batchSize, generator, dtype, device);
        var free = action.Action(phi) + logQ;
        var logWeights = free.detach().neg().to(ScalarType.Float64).cpu().data<double>().ToArray();
        var (f, df) = ImportanceWeights.VariationalFreeEnergy(logWeights);
        var ess = double.IsFinite(f) ? ImportanceWeights.EffectiveSampleSizeFraction(logWeights) : double.NaN;
        return new ObjectiveEvaluation(free.mean(), f, df, new[] { KeyValuePair.Create(EffectiveSampleSize, ess) });
    }
}

