using System.Text.Json;
using Hybrid.Lattice;
using Hybrid.Sampling;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Hybrid.Flows;

/// <summary>Settings of <see cref="ReverseKlTrainer"/>.</summary>
public sealed record FlowTrainingOptions
{
    /// <summary>Batch size of each optimizer step.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Adam learning rate at step 0.</summary>
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>Steps at which the learning rate is multiplied by <see cref="LearningRateDecay"/> (a step schedule).</summary>
    public IReadOnlyList<int> DecaySteps { get; init; } = Array.Empty<int>();

    /// <summary>Factor applied at each of <see cref="DecaySteps"/>.</summary>
    public double LearningRateDecay { get; init; } = 0.1;

    /// <summary>Adam's decay rates (β₁, β₂) of the first and second moment estimates.</summary>
    public (double Beta1, double Beta2) AdamBetas { get; init; } = (0.9, 0.999);

    /// <summary>Maximal gradient norm (clipping); 0 switches clipping off.</summary>
    public double GradientClipNorm { get; init; } = 100;

    /// <summary>Floating-point type of the flow and its samples.</summary>
    public ScalarType DType { get; init; } = ScalarType.Float32;

    /// <summary>
    /// For flows with an ODE solver (<see cref="IOdeFlow"/>): every this many steps the trainer measures the solver's
    /// error on fixed latent fields (<see cref="SolverAccuracy"/>); 0 switches the guard off. Reverse KL sees only the
    /// solver's log q and, left alone, can learn to exploit the solver's error (the loss falls below −ln Z while the
    /// true ESS collapses). When the error exceeds the tolerance (<see cref="SolverTolerance"/>,
    /// <see cref="SolverRelativeTolerance"/>), training returns to the state of the
    /// last check that passed and continues with half the learning rate; after <see cref="MaxSolverBackoffs"/> halvings
    /// the next failed check ends training there, the furthest this solver allows.
    /// </summary>
    public int SolverCheckInterval { get; init; } = 50;

    /// <summary>The guard's absolute tolerance on the mean |log q(n) − log q(2n)|: near convergence it governs.</summary>
    public double SolverTolerance { get; init; } = SolverAccuracy.DefaultTolerance;

    /// <summary>
    /// The guard's tolerance relative to the spread σ of the training batch's log-weights −S − log q: a check passes
    /// while the mean shift is at most max(<see cref="SolverTolerance"/>, this · σ). Early in training, when log w
    /// spreads over tens to thousands, a solver error far below that spread cannot be what lowers the loss, and the
    /// flow must be free to move far; as the flow converges σ falls below one and the absolute tolerance takes over.
    /// </summary>
    public double SolverRelativeTolerance { get; init; } = 0.1;

    /// <summary>How often the guard may halve the learning rate; the next failed check ends training (<see cref="ReverseKlTrainer.HasEnded"/>) at the last accurate state.</summary>
    public int MaxSolverBackoffs { get; init; } = 4;

    /// <summary>
    /// These settings with another flow's optimiser (learning rate and Adam's betas, e.g. from
    /// <see cref="IFlowDefinition.RecommendedTraining"/>) and a step schedule for <paramref name="steps"/> steps:
    /// the rate decays by <see cref="LearningRateDecay"/> at 80% and 95% of the steps.
    /// </summary>
    public FlowTrainingOptions WithOptimizer(FlowTrainingOptions optimizer, int steps)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        return this with { LearningRate = optimizer.LearningRate, AdamBetas = optimizer.AdamBetas, DecaySteps = new[] { steps * 4 / 5, steps * 19 / 20 } };
    }

    /// <summary>The learning rate in effect at <paramref name="step"/>.</summary>
    public double LearningRateAt(int step) => LearningRate * Math.Pow(LearningRateDecay, DecaySteps.Count(s => step >= s));

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first bad value.</summary>
    public void Validate()
    {
        if (BatchSize < 2) throw new ArgumentException($"batch size {BatchSize} is not allowed; it must be ≥ 2");
        if (!(LearningRate > 0) || !double.IsFinite(LearningRate)) throw new ArgumentException($"learning rate {LearningRate} is not allowed; it must be a finite number > 0");
        if (!(LearningRateDecay > 0) || LearningRateDecay > 1) throw new ArgumentException($"learning-rate decay {LearningRateDecay} is not allowed; it must lie in (0, 1]");
        if (!(GradientClipNorm >= 0) || !double.IsFinite(GradientClipNorm)) throw new ArgumentException($"gradient clip norm {GradientClipNorm} is not allowed; it must be a finite number ≥ 0 (0: off)");
        if (!(AdamBetas.Beta1 >= 0 && AdamBetas.Beta1 < 1 && AdamBetas.Beta2 >= 0 && AdamBetas.Beta2 < 1))
            throw new ArgumentException($"Adam betas ({AdamBetas.Beta1}, {AdamBetas.Beta2}) are not allowed; each must lie in [0, 1)");
        if (DType is not (ScalarType.Float32 or ScalarType.Float64)) throw new ArgumentException($"dtype {DType} is not allowed; use Float32 or Float64");
        if (SolverCheckInterval < 0) throw new ArgumentException($"solver check interval {SolverCheckInterval} is not allowed; it must be ≥ 0 (0: off)");
        if (!(SolverTolerance > 0) || !double.IsFinite(SolverTolerance)) throw new ArgumentException($"solver tolerance {SolverTolerance} is not allowed; it must be a finite number > 0");
        if (!(SolverRelativeTolerance >= 0) || !double.IsFinite(SolverRelativeTolerance)) throw new ArgumentException($"relative solver tolerance {SolverRelativeTolerance} is not allowed; it must be a finite number ≥ 0");
        if (MaxSolverBackoffs < 0) throw new ArgumentException($"maximal solver back-offs {MaxSolverBackoffs} is not allowed; it must be ≥ 0");
    }
}

/// <summary>What one optimizer step saw (on its own training batch).</summary>
/// <param name="Step">1-based index of the step just taken.</param>
/// <param name="FreeEnergy">F_q = mean(S + log q) of the batch: the loss (it omits ln Z).</param>
/// <param name="FreeEnergyError">Standard error of <paramref name="FreeEnergy"/>.</param>
/// <param name="EffectiveSampleSize">ESS/N of the batch.</param>
/// <param name="GradientNorm">Gradient norm before clipping.</param>
/// <param name="LearningRate">Learning rate used.</param>
/// <param name="Solver">The solver-accuracy check made after this step (ODE flows, every <see cref="FlowTrainingOptions.SolverCheckInterval"/> steps), else null.</param>
/// <param name="RolledBack">The check failed and training returned to the state of the last check that passed.</param>
/// <param name="SolverTolerance">The tolerance the check applied (0 without a check).</param>
public sealed record TrainingStep(int Step, double FreeEnergy, double FreeEnergyError, double EffectiveSampleSize, double GradientNorm, double LearningRate,
    SolverAccuracy? Solver = null, bool RolledBack = false, double SolverTolerance = 0);

/// <summary>Training stopped because the loss or the gradient left finite values.</summary>
public sealed class TrainingDivergenceException(string message) : Hybrid.Diagnostics.RunStoppedException(message);

/// <summary>What a checkpoint must match to be loaded: the flow's definition and the target theory.</summary>
/// <param name="Flow">Flow kind, e.g. "realnvp" or "cnf".</param>
/// <param name="Definition">The flow definition as JSON.</param>
/// <param name="LatticeExtent">L.</param>
/// <param name="MassSquared">m² of the target action.</param>
/// <param name="Lambda">λ of the target action.</param>
/// <param name="DType">Floating-point type of the parameters.</param>
public sealed record FlowCheckpointHeader(string Flow, string Definition, int LatticeExtent, double MassSquared, double Lambda, string DType);

/// <summary>
/// Reverse-KL training of a flow towards p ∝ e^{−S}: minimises F_q = E_q[S + log q] = KL(q‖p) − ln Z with the
/// reparameterisation gradient, Adam, a step learning-rate schedule and gradient clipping. Every step runs in
/// its own dispose scope, so memory stays flat; a non-finite loss stops training with a diagnosis. For ODE flows a
/// solver guard (<see cref="FlowTrainingOptions.SolverCheckInterval"/>) keeps training from exploiting the solver's error.
/// Deterministic on CPU for a given seed, including across <see cref="SaveCheckpoint"/>/<see cref="LoadCheckpoint"/>.
/// </summary>
public sealed class ReverseKlTrainer : IDisposable
{
    private const string Magic = "hybrid-flow-checkpoint/3";   // 3: a SHA-256 of the content closes the file
    private const int ChecksumLength = 32;
    private const int SolverProbeFields = 32;
    private readonly FlowDistribution model;
    private readonly ILatticeAction action;
    private readonly Generator generator;
    private readonly Adam optimizer;
    private readonly IReadOnlyList<Parameter> parameters;
    private readonly IOdeFlow? odeFlow;
    private Tensor? solverProbe;
    private ulong probeSeed;
    private double lastFiniteLoss = double.NaN;
    private int zeroGradientSteps;

    /// <summary>Consecutive steps with a gradient of exactly zero after which training stops with a diagnosis.</summary>
    public const int StalledSteps = 20;
    private byte[] lastAccurateState = Array.Empty<byte>();   // empty while the guard is off
    private int lastAccurateStep;
    private double lastAccurateTolerance = double.NaN;

    /// <summary>Prepares training of <paramref name="model"/> towards e^{−S} of <paramref name="action"/>; moves the flow to the dtype and device.</summary>
    public ReverseKlTrainer(FlowDistribution model, ILatticeAction action, FlowTrainingOptions options, long seed, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(action);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (model.Lattice.Extent != action.Lattice.Extent)
            throw new ArgumentException($"flow lattice L = {model.Lattice.Extent} does not match the action's L = {action.Lattice.Extent}");
        this.model = model;
        this.action = action;
        Options = options;
        Device = device ?? CPU;
        model.Flow.to(options.DType).to(Device);
        parameters = model.Flow.parameters().ToList();
        if (parameters.Count == 0) throw new ArgumentException("the flow has no parameters to train");
        optimizer = optim.Adam(parameters, options.LearningRate, options.AdamBetas.Beta1, options.AdamBetas.Beta2);
        generator = new Generator((ulong)seed, Device);
        odeFlow = model.Flow as IOdeFlow;
        if (odeFlow is not null && options.SolverCheckInterval > 0)
        {
            MakeProbe(unchecked((ulong)seed ^ 0x9E3779B97F4A7C15UL));
            lastAccurateState = TrainingState();
        }
    }

    /// <summary>Fixed latent fields from their own stream: the guard must not move the training generator.</summary>
    private void MakeProbe(ulong seed)
    {
        solverProbe?.Dispose();
        probeSeed = seed;
        using var probeGenerator = new Generator(seed, Device);
        solverProbe = randn(new long[] { SolverProbeFields, model.Lattice.Extent, model.Lattice.Extent },
            dtype: Options.DType, device: Device, generator: probeGenerator).DetachFromDisposeScope();
    }

    /// <summary>The training settings.</summary>
    public FlowTrainingOptions Options { get; }

    /// <summary>Device of the flow and its samples.</summary>
    public Device Device { get; }

    /// <summary>Optimizer steps taken so far (including those restored from a checkpoint and those undone by the solver guard).</summary>
    public int CompletedSteps { get; private set; }

    /// <summary>How often the solver guard has returned to an earlier state and halved the learning rate.</summary>
    public int SolverBackoffs { get; private set; }

    /// <summary>The learning rate of the next step: the schedule's, halved once per solver back-off.</summary>
    public double LearningRate => Options.LearningRateAt(CompletedSteps) * Math.Pow(0.5, SolverBackoffs);

    /// <summary>One optimizer step on a fresh batch.</summary>
    /// <exception cref="TrainingDivergenceException">The loss or gradient is NaN or infinite.</exception>
    /// <exception cref="InvalidOperationException">The solver guard has ended training (<see cref="HasEnded"/>).</exception>
    public TrainingStep Step()
    {
        if (HasEnded) throw new InvalidOperationException(EndReason);
        using var scope = NewDisposeScope();
        int step = CompletedSteps + 1;
        double lr = LearningRate;
        foreach (var group in optimizer.ParamGroups) group.LearningRate = lr;
        optimizer.zero_grad();
        var (phi, logQ) = model.Sample(Options.BatchSize, generator, Options.DType, Device);
        var s = action.Action(phi);
        var free = s + logQ;
        var loss = free.mean();
        var logWeights = free.detach().neg().to(ScalarType.Float64).cpu().data<double>().ToArray();
        var (f, df) = ImportanceWeights.VariationalFreeEnergy(logWeights);
        if (!double.IsFinite(f))
            throw new TrainingDivergenceException(Diagnosis(step, "the loss F_q is " + f));
        loss.backward();
        double norm = Options.GradientClipNorm > 0
            ? nn.utils.clip_grad_norm_(parameters, Options.GradientClipNorm)
            : GradientNorm();
        if (!double.IsFinite(norm))
            throw new TrainingDivergenceException(Diagnosis(step, "the gradient norm is " + norm));
        // A gradient of exactly zero, step after step, means the networks saturated (outputs where tanh is flat):
        // training can no longer move, and sampling such a flow yields confident nonsense.
        zeroGradientSteps = norm == 0 ? zeroGradientSteps + 1 : 0;
        if (zeroGradientSteps >= StalledSteps)
            throw new TrainingDivergenceException(Diagnosis(step,
                $"the gradient has been exactly 0 for {StalledSteps} steps in a row: the networks saturated and training cannot move"));
        optimizer.step();
        lastFiniteLoss = f;
        CompletedSteps = step;
        var ess = ImportanceWeights.EffectiveSampleSizeFraction(logWeights);
        if (solverProbe is null || step % Options.SolverCheckInterval != 0)
            return new TrainingStep(step, f, df, ess, norm, lr);
        double spread = df * Math.Sqrt(logWeights.Length);   // σ of log w: df is its standard error
        double tolerance = Math.Max(Options.SolverTolerance, Options.SolverRelativeTolerance * spread);
        var (accuracy, rolledBack) = GuardSolver(step, tolerance);
        return new TrainingStep(step, f, df, ess, norm, lr, accuracy, rolledBack, tolerance);
    }

    /// <summary>
    /// Measures the solver's error on the probe fields. Within tolerance, the state becomes the one to return to;
    /// beyond it, training returns to the last accurate state with half the learning rate, or stops when the
    /// back-offs are used up.
    /// </summary>
    private (SolverAccuracy Accuracy, bool RolledBack) GuardSolver(int step, double tolerance)
    {
        var accuracy = SolverAccuracy.Measure(odeFlow!, solverProbe!);
        if (accuracy.IsWithin(tolerance))
        {
            lastAccurateState = TrainingState();
            lastAccurateStep = step;
            lastAccurateTolerance = tolerance;
            return (accuracy, false);
        }
        RestoreTrainingState(lastAccurateState);
        SolverBackoffs++;
        return (accuracy, true);
    }

    /// <summary>
    /// Whether the solver guard has ended training: its check failed once more after
    /// <see cref="FlowTrainingOptions.MaxSolverBackoffs"/> halvings of the learning rate. The flow is then at the last
    /// state within tolerance, which is as far as this solver lets it train; <see cref="Step"/> refuses to go on.
    /// </summary>
    public bool HasEnded => SolverBackoffs > Options.MaxSolverBackoffs;

    /// <summary>The step of the last solver check that passed (0 before the first): the state the guard returns to.</summary>
    public int LastAccurateStep => lastAccurateStep;

    /// <summary>Why training has ended (null while it has not), for users.</summary>
    public string? EndReason => !HasEnded ? null : FormattableString.Invariant(
        $"the solver guard ended training at step {CompletedSteps}: the ODE solver's error (mean |log q(n) − log q(2n)|) left its tolerance again after {Options.MaxSolverBackoffs} halvings of the learning rate, ") +
        FormattableString.Invariant(
        $"so further training would exploit it. The flow is at its state of step {lastAccurateStep} (steps undone by back-offs included), ") +
        (double.IsFinite(lastAccurateTolerance)
            ? FormattableString.Invariant($"the last whose solver error was within the tolerance in force then ({lastAccurateTolerance:G3})")
            : "the initial flow, as no check passed") +
        "; to train further, use more solver steps.";

    /// <summary>Flow parameters and optimizer state, serialised.</summary>
    private byte[] TrainingState()
    {
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            model.Flow.save(writer);
            optimizer.save_state_dict(writer);
        }
        return buffer.ToArray();
    }

    private void RestoreTrainingState(byte[] state)
    {
        using var reader = new BinaryReader(new MemoryStream(state));
        model.Flow.load(reader);
        optimizer.load_state_dict(reader);
    }

    private double GradientNorm()
    {
        using var scope = NewDisposeScope();
        double sum = 0;
        foreach (var p in parameters)
            if (p.grad is not null) sum += p.grad.to(ScalarType.Float64).square().sum().item<double>();
        return Math.Sqrt(sum);
    }

    private string Diagnosis(int step, string what) =>
        FormattableString.Invariant(
            $"training diverged at step {step}: {what} (last finite F_q = {lastFiniteLoss:G6}). ") +
        FormattableString.Invariant(
            $"Try a smaller learning rate (now {LearningRate:G3}) or gradient clipping (now {(Options.GradientClipNorm > 0 ? Options.GradientClipNorm.ToString("G3", System.Globalization.CultureInfo.InvariantCulture) : "off")})") +
        (Options.DType == ScalarType.Float64 ? "." : ", or float64.");

    /// <summary>
    /// Writes model, optimizer and random-generator state with <paramref name="header"/>, atomically, closed by a
    /// SHA-256 of the content so that a truncated or damaged file is recognised before any work (<see cref="CheckCompatible"/>).
    /// </summary>
    public void SaveCheckpoint(string path, FlowCheckpointHeader header)
    {
        ArgumentNullException.ThrowIfNull(header);
        using var content = new MemoryStream();
        using (var writer = new BinaryWriter(content, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(Magic);
            writer.Write(JsonSerializer.Serialize(header));
            writer.Write(CompletedSteps);
            writer.Write(lastFiniteLoss);
            writer.Write(SolverBackoffs);
            writer.Write(lastAccurateStep);
            writer.Write(lastAccurateTolerance);
            writer.Write(probeSeed);
            writer.Write(lastAccurateState.Length);
            writer.Write(lastAccurateState);
            model.Flow.save(writer);
            optimizer.save_state_dict(writer);
            using var state = generator.get_state();
            var bytes = state.data<byte>().ToArray();
            writer.Write(bytes.Length);
            writer.Write(bytes);
        }
        var body = content.ToArray();
        var checksum = System.Security.Cryptography.SHA256.HashData(body);
        Hybrid.IO.AtomicFile.Write(path, stream =>
        {
            stream.Write(body);
            stream.Write(checksum);
        });
    }

    /// <summary>Reads the header of a checkpoint file (after checking that the file is whole).</summary>
    /// <exception cref="InvalidDataException">Not a Hybrid flow checkpoint, an older format, or a truncated or damaged file.</exception>
    public static FlowCheckpointHeader ReadHeader(string path)
    {
        using var reader = new BinaryReader(new MemoryStream(ReadVerified(path)));
        return ReadHeader(reader, path);
    }

    /// <summary>The content of a checkpoint file without its checksum, after checking the checksum.</summary>
    private static byte[] ReadVerified(string path)
    {
        if (Directory.Exists(path)) throw new InvalidDataException($"checkpoint '{path}' is a directory, not a checkpoint file");
        if (!File.Exists(path)) throw new FileNotFoundException($"checkpoint '{path}' does not exist", path);
        var all = File.ReadAllBytes(path);
        using (var probe = new BinaryReader(new MemoryStream(all)))
        {
            string magic;
            try { magic = probe.ReadString(); }
            catch (Exception e) when (e is EndOfStreamException or IOException) { magic = ""; }
            if (magic.StartsWith("hybrid-flow-checkpoint/", StringComparison.Ordinal) && magic != Magic)
                throw new InvalidDataException($"checkpoint '{path}' was written by an earlier version of Hybrid ({magic}, this one reads {Magic}); train anew");
            if (magic != Magic) throw new InvalidDataException($"'{path}' is not a Hybrid flow checkpoint");
        }
        if (all.Length < ChecksumLength
            || !System.Security.Cryptography.SHA256.HashData(all.AsSpan(0, all.Length - ChecksumLength)).AsSpan().SequenceEqual(all.AsSpan(all.Length - ChecksumLength)))
            throw new InvalidDataException($"checkpoint '{path}' is truncated or damaged (its SHA-256 does not match its content); it cannot be resumed");
        return all[..^ChecksumLength];
    }

    private static FlowCheckpointHeader ReadHeader(BinaryReader reader, string path)
    {
        string magic;
        try { magic = reader.ReadString(); }
        catch (EndOfStreamException) { magic = ""; }
        if (magic != Magic) throw new InvalidDataException($"'{path}' is not a Hybrid flow checkpoint");
        return JsonSerializer.Deserialize<FlowCheckpointHeader>(reader.ReadString())
            ?? throw new InvalidDataException($"'{path}' has an empty checkpoint header");
    }

    /// <summary>
    /// Checks that the checkpoint at <paramref name="path"/> fits a run described by <paramref name="expected"/>
    /// (same flow, definition, lattice, couplings and dtype), before any work is done.
    /// </summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">Not a checkpoint, or one that does not fit; the message names every difference.</exception>
    public static void CheckCompatible(string path, FlowCheckpointHeader expected)
    {
        ArgumentNullException.ThrowIfNull(expected);
        var found = ReadHeader(path);
        var differences = new List<string>();
        void Compare<T>(string what, T have, T want)
        {
            if (!EqualityComparer<T>.Default.Equals(have, want)) differences.Add($"{what}: checkpoint has {have}, this run has {want}");
        }
        Compare("flow", found.Flow, expected.Flow);
        Compare("flow definition", found.Definition, expected.Definition);
        Compare("L", found.LatticeExtent, expected.LatticeExtent);
        Compare("m²", found.MassSquared, expected.MassSquared);
        Compare("λ", found.Lambda, expected.Lambda);
        Compare("dtype", found.DType, expected.DType);
        if (differences.Count > 0)
            throw new InvalidDataException($"checkpoint '{path}' does not fit this model: {string.Join("; ", differences)}");
    }

    /// <summary>
    /// Restores model, optimizer and generator state, so that training continues bit for bit (on CPU).
    /// Refuses a checkpoint that does not fit (see <see cref="CheckCompatible"/>).
    /// </summary>
    /// <exception cref="InvalidDataException">Not a checkpoint, or one that does not fit this model and target.</exception>
    public void LoadCheckpoint(string path, FlowCheckpointHeader expected)
    {
        CheckCompatible(path, expected);
        using var reader = new BinaryReader(new MemoryStream(ReadVerified(path)));
        ReadHeader(reader, path);
        CompletedSteps = reader.ReadInt32();
        lastFiniteLoss = reader.ReadDouble();
        SolverBackoffs = reader.ReadInt32();
        lastAccurateStep = reader.ReadInt32();
        lastAccurateTolerance = reader.ReadDouble();
        ulong savedProbeSeed = reader.ReadUInt64();
        lastAccurateState = reader.ReadBytes(reader.ReadInt32());
        model.Flow.load(reader);
        optimizer.load_state_dict(reader);
        var bytes = reader.ReadBytes(reader.ReadInt32());
        using var state = tensor(bytes, dtype: ScalarType.Byte);
        generator.set_state(state);
        if (solverProbe is null)
            lastAccurateState = Array.Empty<byte>();
        else if (lastAccurateState.Length == 0)
        {
            // Written with the guard off: the loaded state is the one to return to from now on.
            lastAccurateState = TrainingState();
            lastAccurateStep = CompletedSteps;
        }
        else
            MakeProbe(savedProbeSeed);   // the same probe fields as the run that wrote the checkpoint
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        optimizer.Dispose();
        generator.Dispose();
        solverProbe?.Dispose();
    }
}
