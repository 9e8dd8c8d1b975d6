using Hybrid.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Sampling;

/// <summary>Settings of <see cref="HybridMonteCarlo"/>.</summary>
public sealed record HmcOptions
{
    /// <summary>Molecular-dynamics time per trajectory, τ (default 1).</summary>
    public double TrajectoryLength { get; init; } = 1.0;

    /// <summary>Step size before adaptation (default 0.1).</summary>
    public double InitialStepSize { get; init; } = 0.1;

    /// <summary>Integrator (default <see cref="MolecularDynamicsIntegrator.Omelyan"/>).</summary>
    public MolecularDynamicsIntegrator Integrator { get; init; } = MolecularDynamicsIntegrator.Omelyan;

    /// <summary>Mean Metropolis acceptance probability that step-size adaptation aims for (default 0.8).</summary>
    public double TargetAcceptance { get; init; } = 0.8;

    /// <summary>Floating-point type of fields and momenta (default float64: ΔH is a small difference of large numbers).</summary>
    public ScalarType DType { get; init; } = ScalarType.Float64;

    /// <summary>
    /// Most molecular-dynamics steps one trajectory may take (default 10000). A trajectory length or an adapted step
    /// size that would need more is refused (<see cref="Validate"/>) or stops the run with a diagnosis
    /// (<see cref="HybridMonteCarlo.Thermalize"/>) instead of running for days.
    /// </summary>
    public int MaxStepsPerTrajectory { get; init; } = 10_000;

    /// <summary>Lowest target acceptance allowed: below it the chains barely move and Γ-method errors mean little.</summary>
    public const double MinTargetAcceptance = 0.1;

    /// <summary>Highest target acceptance allowed: above it the step size and the cost per trajectory run away.</summary>
    public const double MaxTargetAcceptance = 0.99;

    /// <summary>Checks every value and throws an <see cref="ArgumentException"/> naming the bad one.</summary>
    public void Validate()
    {
        if (!(TrajectoryLength > 0) || !double.IsFinite(TrajectoryLength))
            throw new ArgumentException($"trajectory length τ = {TrajectoryLength} is not allowed; τ must be a finite number > 0");
        if (!(InitialStepSize > 0) || !double.IsFinite(InitialStepSize))
            throw new ArgumentException($"step size ε = {InitialStepSize} is not allowed; ε must be a finite number > 0");
        if (!(TargetAcceptance >= MinTargetAcceptance && TargetAcceptance <= MaxTargetAcceptance))
            throw new ArgumentException(FormattableString.Invariant($"target acceptance {TargetAcceptance} is not allowed; it must lie in [{MinTargetAcceptance}, {MaxTargetAcceptance}]"));
        if (MaxStepsPerTrajectory < 1)
            throw new ArgumentException($"maximal steps per trajectory {MaxStepsPerTrajectory} is not allowed; it must be ≥ 1");
        double steps = Math.Ceiling(TrajectoryLength / InitialStepSize - 1e-9);
        if (steps > MaxStepsPerTrajectory)
            throw new ArgumentException(FormattableString.Invariant(
                $"trajectory length τ = {TrajectoryLength} needs {steps:G3} molecular-dynamics steps of ε = {InitialStepSize} per trajectory; at most {MaxStepsPerTrajectory} are allowed (τ ≤ {MaxStepsPerTrajectory * InitialStepSize:G3})"));
        if (DType is not (ScalarType.Float64 or ScalarType.Float32))
            throw new ArgumentException($"dtype {DType} is not allowed; use Float64 or Float32");
    }
}

/// <summary>Outcome of one trajectory of every chain.</summary>
/// <param name="Accepted">Whether each chain's proposal was accepted.</param>
/// <param name="DeltaH">H(end) − H(start) for each chain (+∞ where the integration diverged).</param>
public sealed record TrajectoryOutcome(bool[] Accepted, double[] DeltaH)
{
    /// <summary>Fraction of chains that accepted.</summary>
    public double AcceptanceRate => Accepted.Count(a => a) / (double)Accepted.Length;
}

/// <summary>Raised when the Markov chain itself (not just a proposal) has left finite values.</summary>
public sealed class SamplerDivergenceException(string message) : Hybrid.Diagnostics.RunStoppedException(message);

/// <summary>
/// Hybrid (Hamiltonian) Monte Carlo for a batch of independent Markov chains of one action, on any configuration
/// shape (<see cref="IAction.ConfigurationShape"/>).
/// Each chain has its own Metropolis decision; the step size is shared, adapted during thermalisation
/// (<see cref="Thermalize"/>) by dual averaging, then frozen so that the chains are exact.
/// </summary>
public sealed class HybridMonteCarlo : IDisposable
{
    private readonly IAction action;
    private readonly Generator generator;
    private Tensor fields;

    /// <summary>Starts <paramref name="chains"/> chains from small random fields.</summary>
    /// <param name="action">The target action S; the chains sample e^{−S}.</param>
    /// <param name="chains">Number of independent chains (the batch size), ≥ 1.</param>
    /// <param name="options">Integrator, trajectory length and step-size settings.</param>
    /// <param name="seed">Seeds every random number of the sampler.</param>
    /// <param name="device">Device of all tensors (default CPU).</param>
    public HybridMonteCarlo(IAction action, int chains, HmcOptions options, long seed, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(action);
        ArgumentNullException.ThrowIfNull(options);
        if (chains < 1) throw new ArgumentException($"number of chains {chains} is not allowed; it must be ≥ 1", nameof(chains));
        options.Validate();
        TorchRuntime.EnsureLoaded();
        this.action = action;
        Options = options;
        Chains = chains;
        Device = device ?? CPU;
        generator = new Generator((ulong)seed, Device);
        // The chain state belongs to the sampler, never to a caller's dispose scope.
        fields = randn(ActionShapes.Batched(action, chains), dtype: options.DType, device: Device, generator: generator).mul_(0.1).DetachFromDisposeScope();
        SetStepSize(options.InitialStepSize);
    }

    /// <summary>The sampler's settings.</summary>
    public HmcOptions Options { get; }

    /// <summary>Number of independent chains.</summary>
    public int Chains { get; }

    /// <summary>Device of the fields.</summary>
    public Device Device { get; }

    /// <summary>Current step size ε = τ / <see cref="StepsPerTrajectory"/>.</summary>
    public double StepSize { get; private set; }

    /// <summary>Integration steps per trajectory.</summary>
    public int StepsPerTrajectory { get; private set; }

    /// <summary>Gradient evaluations per trajectory and chain (the cost unit of HMC).</summary>
    public int GradientsPerTrajectory => StepsPerTrajectory * MolecularDynamics.GradientsPerStep(Options.Integrator);

    /// <summary>The current configurations, [chains, ..shape]. Owned by the sampler: clone to keep.</summary>
    public Tensor Fields => fields;

    /// <summary>Replaces the current configurations (e.g. to start from given fields).</summary>
    public void SetFields(Tensor value)
    {
        ActionShapes.Check(action, value, Chains);
        Tensor next;
        using (NewDisposeScope())
            next = value.to(Options.DType, Device).clone().DetachFromDisposeScope();
        fields.Dispose();
        fields = next;
    }

    /// <summary>Sets the step size; the number of steps is the smallest that covers τ, and ε is then τ/steps exactly.</summary>
    public void SetStepSize(double stepSize)
    {
        if (!(stepSize > 0) || !double.IsFinite(stepSize))
            throw new ArgumentException($"step size ε = {stepSize} is not allowed; ε must be a finite number > 0");
        StepsPerTrajectory = Math.Max(1, (int)Math.Ceiling(Options.TrajectoryLength / stepSize - 1e-9));
        StepSize = Options.TrajectoryLength / StepsPerTrajectory;
    }

    /// <summary>One HMC trajectory of every chain: fresh momenta, integrate, Metropolis accept/reject per chain.</summary>
    /// <exception cref="SamplerDivergenceException">A chain's current action is no longer finite.</exception>
    public TrajectoryOutcome Trajectory()
    {
        using var scope = NewDisposeScope();
        var momentum = randn(fields.shape, dtype: Options.DType, device: Device, generator: generator);
        var h0 = MolecularDynamics.Hamiltonian(action, fields, momentum);
        var (phi1, p1) = MolecularDynamics.Integrate(action, fields, momentum, StepSize, StepsPerTrajectory, Options.Integrator);
        var dH = MolecularDynamics.Hamiltonian(action, phi1, p1).sub_(h0);
        // A diverged integration (NaN/∞) is a proposal to reject, not an error of the chain.
        dH = where(dH.isfinite(), dH, full_like(dH, double.PositiveInfinity));
        var u = rand(new long[] { Chains }, dtype: Options.DType, device: Device, generator: generator);
        var accept = u.log().lt(dH.neg());
        var keep = ActionShapes.PerChain(accept, fields);
        var next = where(keep, phi1, fields).DetachFromDisposeScope();
        fields.Dispose();
        fields = next;

        var accepted = accept.cpu().data<bool>().ToArray();
        var deltaH = dH.to(ScalarType.Float64).cpu().data<double>().ToArray();
        if (!h0.isfinite().all().item<bool>())
            throw new SamplerDivergenceException(
                $"HMC chain left finite values (current action is NaN or ∞) at step size ε = {StepSize}; check the target ({action.Describe()}: for φ⁴, λ ≥ 0 and, for λ = 0, m² > 0) and the initial fields");
        return new TrajectoryOutcome(accepted, deltaH);
    }

    /// <summary>
    /// Runs <paramref name="trajectories"/> trajectories that are discarded. With <paramref name="adaptStepSize"/>,
    /// the step size follows Nesterov dual averaging (Hoffman &amp; Gelman 2014) towards
    /// <see cref="HmcOptions.TargetAcceptance"/> of the mean acceptance probability ⟨min(1, e^{−ΔH})⟩, and
    /// is frozen at the averaged value at the end. <paramref name="progress"/> gets (trajectory, outcome).
    /// </summary>
    public void Thermalize(int trajectories, bool adaptStepSize, Action<int, TrajectoryOutcome>? progress = null)
    {
        if (trajectories < 0) throw new ArgumentException($"thermalisation length {trajectories} is not allowed; it must be ≥ 0");
        const double gamma = 0.05, t0 = 10, kappa = 0.75;
        trajectoriesAtFloor = 0;
        double mu = Math.Log(10 * StepSize), hBar = 0, logEpsBar = Math.Log(StepSize);
        for (int t = 1; t <= trajectories; t++)
        {
            var outcome = Trajectory();
            if (adaptStepSize)
            {
                double meanAcceptance = outcome.DeltaH.Average(d => d <= 0 ? 1.0 : Math.Exp(-d));
                hBar = (1 - 1 / (t + t0)) * hBar + (Options.TargetAcceptance - meanAcceptance) / (t + t0);
                double logEps = mu - Math.Sqrt(t) / gamma * hBar;
                double w = Math.Pow(t, -kappa);
                logEpsBar = w * logEps + (1 - w) * logEpsBar;
                SetAdaptedStepSize(Math.Exp(logEps), t);
            }
            progress?.Invoke(t, outcome);
        }
        if (adaptStepSize && trajectories > 0)
            SetAdaptedStepSize(Math.Exp(logEpsBar), trajectories, final: true);
    }

    private int trajectoriesAtFloor;

    /// <summary>
    /// Sets the step size adaptation asks for, within [τ / <see cref="HmcOptions.MaxStepsPerTrajectory"/>, τ]. Dual
    /// averaging may dip below the floor for a few trajectories and recover; an adaptation still pinned there after
    /// 20 trajectories in a row, or ending there, is driving ε towards 0 (the action is too stiff for the acceptance
    /// asked for), and the run stops with a diagnosis instead of slowing down without bound.
    /// </summary>
    private void SetAdaptedStepSize(double wanted, int trajectory, bool final = false)
    {
        const int patience = 20;
        double floor = Options.TrajectoryLength / Options.MaxStepsPerTrajectory;
        trajectoriesAtFloor = wanted < floor ? trajectoriesAtFloor + 1 : 0;
        if (trajectoriesAtFloor >= patience || (final && wanted < floor))
            throw new SamplerDivergenceException(FormattableString.Invariant(
                $"step-size adaptation asked for ε = {wanted:G3} at thermalisation trajectory {trajectory}, below the {Options.MaxStepsPerTrajectory} molecular-dynamics steps per trajectory of length τ = {Options.TrajectoryLength} that are allowed, and still missed acceptance {Options.TargetAcceptance}: ") +
                "the action is too stiff for HMC at these couplings (forces grow like λφ³); check λ and m², or shorten the trajectory.");
        SetStepSize(Math.Clamp(wanted, floor, Options.TrajectoryLength));
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        fields.Dispose();
        generator.Dispose();
    }
}
