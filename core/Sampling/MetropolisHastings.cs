using Hybrid.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Sampling;

/// <summary>
/// Metropolis–Hastings for a batch of independent chains of one action, on any configuration shape, with a pluggable
/// <see cref="IProposal"/>. Each chain accepts x′ with probability min(1, e^{−(S(x′) − S(x))} q(x | x′)/q(x′ | x)).
/// During <see cref="Thermalize"/> the proposal's scale follows a Robbins–Monro recursion towards the target acceptance,
/// then stays frozen so that the measured chains are exact.
/// </summary>
public sealed class MetropolisHastings : IDisposable
{
    private readonly IAction action;
    private readonly Generator generator;
    private Tensor state;
    private Tensor currentAction;

    /// <summary>Starts <paramref name="chains"/> chains from small random configurations (float64 on <paramref name="device"/>).</summary>
    /// <param name="action">The target action S; the chains sample e^{−S}.</param>
    /// <param name="proposal">How moves are proposed.</param>
    /// <param name="chains">Number of independent chains (the batch size), ≥ 1.</param>
    /// <param name="seed">Seeds every random number of the sampler.</param>
    /// <param name="targetAcceptance">Acceptance the scale adapts to during thermalisation, in [0.05, 0.95].</param>
    /// <param name="device">Device of all tensors (default CPU).</param>
    /// <param name="initial">Starting configurations [chains, ..shape] (copied); default small Gaussian ones, which suit
    /// flat spaces but not constrained ones such as unit vectors.</param>
    public MetropolisHastings(IAction action, IProposal proposal, int chains, long seed, double targetAcceptance = 0.5, Device? device = null, Tensor? initial = null)
    {
        ArgumentNullException.ThrowIfNull(action);
        ArgumentNullException.ThrowIfNull(proposal);
        if (chains < 1) throw new ArgumentException($"number of chains {chains} is not allowed; it must be ≥ 1", nameof(chains));
        if (!(targetAcceptance >= 0.05 && targetAcceptance <= 0.95))
            throw new ArgumentException($"target acceptance {targetAcceptance} is not allowed; it must lie in [0.05, 0.95]", nameof(targetAcceptance));
        if (!(proposal.Scale > 0) || !double.IsFinite(proposal.Scale))
            throw new ArgumentException($"proposal scale {proposal.Scale} is not allowed; it must be a finite number > 0", nameof(proposal));
        TorchRuntime.EnsureLoaded();
        this.action = action;
        Proposal = proposal;
        Chains = chains;
        TargetAcceptance = targetAcceptance;
        Device = device ?? CPU;
        generator = new Generator((ulong)seed, Device);
        // The chain state belongs to the sampler, never to a caller's dispose scope.
        if (initial is null)
            state = randn(ActionShapes.Batched(action, chains), dtype: ScalarType.Float64, device: Device, generator: generator).mul_(0.1).DetachFromDisposeScope();
        else
        {
            ActionShapes.Check(action, initial, chains);
            state = initial.detach().to(ScalarType.Float64).to(Device).clone().DetachFromDisposeScope();
        }
        using (no_grad())
            currentAction = action.Action(state).DetachFromDisposeScope();
        if (!currentAction.isfinite().all().item<bool>())
            throw new ArgumentException($"the initial configurations have a non-finite action under {action.Describe()}");
    }

    /// <summary>The proposal (its scale is adapted by <see cref="Thermalize"/>).</summary>
    public IProposal Proposal { get; }

    /// <summary>Number of independent chains.</summary>
    public int Chains { get; }

    /// <summary>Acceptance the proposal's scale adapts to.</summary>
    public double TargetAcceptance { get; }

    /// <summary>Device of the chains.</summary>
    public Device Device { get; }

    /// <summary>The current configurations [chains, ..shape]. Owned by the sampler: clone to keep.</summary>
    public Tensor State => state;

    /// <summary>One Metropolis–Hastings step of every chain; returns which chains accepted.</summary>
    /// <exception cref="SamplerDivergenceException">A chain's action is no longer finite.</exception>
    public bool[] Step()
    {
        using var scope = NewDisposeScope();
        var (proposed, correction) = Proposal.Propose(state, generator);
        using var noGrad = no_grad();
        var proposedAction = action.Action(proposed);
        var logRatio = currentAction - proposedAction + correction;
        // A non-finite proposal is rejected, never accepted.
        logRatio = where(proposedAction.isfinite(), logRatio, full_like(logRatio, double.NegativeInfinity));
        var u = rand(new long[] { Chains }, dtype: ScalarType.Float64, device: Device, generator: generator);
        var accept = u.log().lt(logRatio);
        var keep = ActionShapes.PerChain(accept, state);
        var nextState = where(keep, proposed, state).DetachFromDisposeScope();
        var nextAction = where(accept, proposedAction, currentAction).DetachFromDisposeScope();
        state.Dispose();
        currentAction.Dispose();
        state = nextState;
        currentAction = nextAction;
        if (!currentAction.isfinite().all().item<bool>())
            throw new SamplerDivergenceException($"Metropolis chain left finite values (current action is NaN or ∞) for {action.Describe()}; check the target and the initial configurations");
        return accept.cpu().data<bool>().ToArray();
    }

    /// <summary>
    /// Runs <paramref name="steps"/> discarded steps. With <paramref name="adaptScale"/>, after each step
    /// log Scale += (acceptance − target)/(t + 10)^0.6 (Robbins–Monro); the scale is then frozen.
    /// </summary>
    public void Thermalize(int steps, bool adaptScale)
    {
        if (steps < 0) throw new ArgumentException($"thermalisation length {steps} is not allowed; it must be ≥ 0");
        for (int t = 1; t <= steps; t++)
        {
            var accepted = Step();
            if (!adaptScale) continue;
            double rate = accepted.Count(a => a) / (double)Chains;
            Proposal.Scale *= Math.Exp((rate - TargetAcceptance) / Math.Pow(t + 10, 0.6));
        }
    }

    /// <summary>Writes chains, proposal scale and generator state, so that sampling resumes bit for bit (on CPU).</summary>
    public void Save(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(Proposal.Scale);
        var values = state.cpu().data<double>().ToArray();
        writer.Write(values.Length);
        foreach (var v in values) writer.Write(v);
        using var generatorState = generator.get_state();
        var bytes = generatorState.data<byte>().ToArray();
        writer.Write(bytes.Length);
        writer.Write(bytes);
    }

    /// <summary>Restores what <see cref="Save"/> wrote; refuses a state of another shape.</summary>
    public void Load(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        double scale = reader.ReadDouble();
        int count = reader.ReadInt32();
        if (count != state.numel())
            throw new InvalidDataException($"the saved sampler holds {count} numbers, this one {state.numel()}: another number of chains or configuration shape");
        var values = new double[count];
        for (int i = 0; i < count; i++) values[i] = reader.ReadDouble();
        var bytes = reader.ReadBytes(reader.ReadInt32());
        var restored = tensor(values, state.shape, dtype: ScalarType.Float64).to(Device).DetachFromDisposeScope();
        Tensor restoredAction;
        using (no_grad()) restoredAction = action.Action(restored).DetachFromDisposeScope();
        state.Dispose();
        currentAction.Dispose();
        state = restored;
        currentAction = restoredAction;
        Proposal.Scale = scale;
        using var generatorState = tensor(bytes, dtype: ScalarType.Byte);
        generator.set_state(generatorState);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        state.Dispose();
        currentAction.Dispose();
        generator.Dispose();
    }
}
