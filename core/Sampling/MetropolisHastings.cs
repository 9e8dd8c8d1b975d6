using Hybrid.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Sampling;

/// <summary>
/// Metropolis–Hastings for a batch of independent chains of one action, on any configuration shape, with a pluggable
/// <see cref="IProposal"/>. Each chain accepts x′ with probability min(1, e^{−(S(x′) − S(x))} q(x | x′)/q(x′ | x)).
/// During <see cref="Thermalize"/> the proposal's scale follows a Robbins–Monro recursion towards the target acceptance,
/// then stays frozen so that the measured chains are exact.
/// <para>
/// With <see cref="MoveEvaluation.Local"/> a single-site proposal is evaluated from the target's per-chain cache
/// (<see cref="ILocalAction"/>): the same random numbers and, up to rounding in the last digits, the same decisions as
/// the full route, at the cost of the terms the moved site enters.
/// </para>
/// </summary>
public sealed class MetropolisHastings : IDisposable
{
    private readonly IAction action;
    private readonly Generator generator;
    private Tensor state;
    private Tensor currentAction;
    private ISiteMoveCache? cache;
    private int stepsSinceRefresh;

    /// <summary>Starts <paramref name="chains"/> chains from small random configurations (float64 on <paramref name="device"/>).</summary>
    /// <param name="action">The target action S; the chains sample e^{−S}.</param>
    /// <param name="proposal">How moves are proposed.</param>
    /// <param name="chains">Number of independent chains (the batch size), ≥ 1.</param>
    /// <param name="seed">Seeds every random number of the sampler.</param>
    /// <param name="targetAcceptance">Acceptance the scale adapts to during thermalisation, in [0.05, 0.95].</param>
    /// <param name="device">Device of all tensors (default CPU).</param>
    /// <param name="initial">Starting configurations [chains, ..shape] (copied); default small Gaussian ones, which suit
    /// flat spaces but not constrained ones such as unit vectors.</param>
    /// <param name="evaluation">How moves are evaluated: <see cref="MoveEvaluation.Local"/> needs an
    /// <see cref="ILocalAction"/> that supports it and a single-site <see cref="ISiteProposal"/> (see <see cref="SupportsLocal"/>).</param>
    public MetropolisHastings(IAction action, IProposal proposal, int chains, long seed, double targetAcceptance = 0.5, Device? device = null, Tensor? initial = null,
        MoveEvaluation evaluation = MoveEvaluation.Full)
    {
        ArgumentNullException.ThrowIfNull(action);
        ArgumentNullException.ThrowIfNull(proposal);
        if (chains < 1) throw new ArgumentException($"number of chains {chains} is not allowed; it must be ≥ 1", nameof(chains));
        if (!(targetAcceptance >= 0.05 && targetAcceptance <= 0.95))
            throw new ArgumentException($"target acceptance {targetAcceptance} is not allowed; it must lie in [0.05, 0.95]", nameof(targetAcceptance));
        if (!(proposal.Scale > 0) || !double.IsFinite(proposal.Scale))
            throw new ArgumentException($"proposal scale {proposal.Scale} is not allowed; it must be a finite number > 0", nameof(proposal));
        if (evaluation == MoveEvaluation.Local && !SupportsLocal(action, proposal))
            throw new ArgumentException($"local move evaluation needs a single-site proposal and a target that caches its site terms; {action.Describe()} with {proposal.GetType().Name} has not both", nameof(evaluation));
        TorchRuntime.EnsureLoaded();
        this.action = action;
        Evaluation = evaluation;
        RefreshInterval = (int)Math.Max(1, 8 * (action.ConfigurationShape.Count > 0 ? action.ConfigurationShape[0] : 1));
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
        if (evaluation == MoveEvaluation.Local)
            using (NewDisposeScope()) cache = ((ILocalAction)action).CreateSiteCache(state);
    }

    /// <summary>Whether <paramref name="action"/> and <paramref name="proposal"/> allow <see cref="MoveEvaluation.Local"/>.</summary>
    public static bool SupportsLocal(IAction action, IProposal proposal) =>
        action is ILocalAction { SupportsLocalMoves: true } && proposal is ISiteProposal { MovesOneSite: true };

    /// <summary>How moves are evaluated.</summary>
    public MoveEvaluation Evaluation { get; }

    /// <summary>
    /// Local route: steps between rebuilds of the target's cache and the chains' actions from the configurations
    /// (default: eight sweeps, 8 × the configuration's first dimension), which bounds the rounding of the incremental
    /// updates (after 2000 moves without a rebuild they are still within 10⁻¹⁰ of a full evaluation).
    /// </summary>
    public int RefreshInterval { get; set; }

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
        if (cache is not null) return LocalStep();
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

    /// <summary>The local route's step: one site per chain, its action change from the cache, the cache updated on acceptance.</summary>
    private bool[] LocalStep()
    {
        if (stepsSinceRefresh >= RefreshInterval) Reevaluate();
        stepsSinceRefresh++;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (site, vector) = ((ISiteProposal)Proposal).ProposeSite(state, generator);
        var change = cache!.ActionChange(site, vector);
        var u = rand(new long[] { Chains }, dtype: ScalarType.Float64, device: Device, generator: generator);
        // A non-finite change is rejected, never accepted (as a non-finite proposed action on the full route).
        var accept = u.log_().lt(change.neg()).logical_and_(change.isfinite());
        var index = site.view(Chains, 1, 1).expand(Chains, 1, state.shape[2]);
        state.scatter_(1, index, where(accept.view(Chains, 1), vector, state.gather(1, index).squeeze(1)).unsqueeze(1));
        cache.Accept(accept);
        // The chains' actions are not carried move by move (only their changes are needed); Reevaluate evaluates them.
        return accept.cpu().data<bool>().ToArray();
    }

    /// <summary>
    /// Evaluates the chains' actions afresh from their configurations (and rebuilds the local route's cache): needed
    /// whenever the target has changed, e.g. after the wavefunction's parameters were updated.
    /// </summary>
    public void Reevaluate()
    {
        // In a scope of its own: the evaluation's intermediates are freed now, not when the collector finds them.
        using var scope = NewDisposeScope();
        Tensor fresh;
        using (no_grad()) fresh = action.Action(state).DetachFromDisposeScope();
        currentAction.Dispose();
        currentAction = fresh;
        if (cache is not null)
        {
            cache.Dispose();
            cache = ((ILocalAction)action).CreateSiteCache(state);
        }
        stepsSinceRefresh = 0;
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
        // The local route continues from a fresh cache, as a resumed sampler does.
        if (cache is not null) Reevaluate();
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
        if (cache is not null)
        {
            cache.Dispose();
            using (NewDisposeScope()) cache = ((ILocalAction)action).CreateSiteCache(state);
        }
        stepsSinceRefresh = 0;
        Proposal.Scale = scale;
        using var generatorState = tensor(bytes, dtype: ScalarType.Byte);
        generator.set_state(generatorState);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        state.Dispose();
        currentAction.Dispose();
        cache?.Dispose();
        generator.Dispose();
    }
}
