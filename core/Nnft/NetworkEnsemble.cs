using System.Text.Json;
using Hybrid.IO;
using Hybrid.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Nnft;

/// <summary>
/// A local quartic deformation of the parameter density, P(θ) → P(θ) e^{−(λ/4!) ∫_box dᵈx φ_θ(x)⁴} / Z (Demirtas,
/// Halverson, Maiti, Schwartz, Stoner, arXiv:2307.03223), applied by reweighting independently drawn networks: the
/// integral is a quadrature over <paramref name="Nodes"/> with <paramref name="NodeWeights"/>.
/// </summary>
/// <param name="Coupling">λ ≥ 0.</param>
/// <param name="Nodes">Quadrature nodes in the box, each of dimension d.</param>
/// <param name="NodeWeights">Quadrature weights (summing to the box's volume).</param>
public sealed record QuarticDeformation(double Coupling, IReadOnlyList<double[]> Nodes, IReadOnlyList<double> NodeWeights)
{
    /// <summary>
    /// c of the mass counterterm: the deformation becomes e^{−λ∫[φ⁴/4! − (c/4)φ²]}; c = G(0), the infinite-width
    /// propagator at zero separation, Wick-orders φ⁴ (the tadpole cancels). 0: the bare φ⁴.
    /// </summary>
    public double MassCounterterm { get; init; }

    /// <summary>
    /// Accumulate the linear response instead of reweighting: weights W = ∫[φ⁴/4! − (c/4)φ²], so that
    /// ∂⟨O⟩/∂λ at λ = 0 is −(E[W O] − E[W] E[O]) from the weighted and the plain sums.
    /// </summary>
    public bool LinearResponse { get; init; }

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first bad value.</summary>
    public void Validate(int dimension)
    {
        if (!(Coupling >= 0) || !double.IsFinite(Coupling)) throw new ArgumentException($"λ {Coupling} is not allowed; it must be a finite number ≥ 0");
        if (Nodes.Count == 0 || Nodes.Count != NodeWeights.Count) throw new ArgumentException($"{Nodes.Count} quadrature nodes with {NodeWeights.Count} weights do not fit; give one weight per node");
        foreach (var x in Nodes)
            if (x.Length != dimension) throw new ArgumentException($"quadrature node of dimension {x.Length} does not fit inputs of dimension {dimension}");
    }
}

/// <summary>Settings of <see cref="NetworkEnsemble"/>.</summary>
public sealed record EnsembleOptions
{
    /// <summary>Networks in the ensemble.</summary>
    public long Networks { get; init; } = 100_000;

    /// <summary>Networks drawn and evaluated at once; 0 chooses from the working set (about 4·10⁶ floats a chunk).</summary>
    public int ChunkSize { get; init; }

    /// <summary>Blocks for the errors (jackknife, bootstrap); network g goes to block g mod B.</summary>
    public int Blocks { get; init; } = 64;

    /// <summary>4, or 6 to accumulate the 6-point function too.</summary>
    public int MaxOrder { get; init; } = 4;

    /// <summary>
    /// A linear map of the fields at the points to the fields that are accumulated, [points][fields] (e.g. the
    /// cosine and sine Fourier modes of a band-limited network on a grid); null: the fields at the points themselves.
    /// </summary>
    public IReadOnlyList<double[]>? Projection { get; init; }

    /// <summary>A quartic deformation to reweight to (null: the free ensemble only).</summary>
    public QuarticDeformation? Deformation { get; init; }

    /// <summary>Floating-point type in which networks are evaluated (sums are always float64).</summary>
    public ScalarType DType { get; init; } = ScalarType.Float64;

    /// <summary>
    /// How networks are drawn and evaluated: the fused CPU kernel or libtorch tensors (Auto: fused where it covers the
    /// ensemble). The two draw different random streams, so a checkpoint of one is refused by the other.
    /// </summary>
    public EnsembleEngine Engine { get; init; } = EnsembleEngine.Auto;

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first bad value.</summary>
    public void Validate()
    {
        if (Networks < 2) throw new ArgumentException($"networks {Networks} is not allowed; it must be ≥ 2");
        if (ChunkSize < 0) throw new ArgumentException($"chunk size {ChunkSize} is not allowed; it must be ≥ 1 (or 0: automatic)");
        if (Blocks < 2) throw new ArgumentException($"blocks {Blocks} is not allowed; it must be ≥ 2");
        if (MaxOrder is not (4 or 6)) throw new ArgumentException($"maximal order {MaxOrder} is not allowed; use 4 or 6");
        if (DType is not (ScalarType.Float32 or ScalarType.Float64)) throw new ArgumentException($"dtype {DType} is not allowed; use Float32 or Float64");
        if (!Enum.IsDefined(Engine)) throw new ArgumentException($"engine {Engine} is not allowed; use Auto, Fused or Tensor");
    }
}

/// <summary>
/// An ensemble of random networks evaluated at fixed points, chunk by chunk, by the fused CPU kernel or by libtorch
/// tensors (<see cref="EnsembleOptions.Engine"/>): each chunk's networks come from a
/// generator seeded by the run's seed and the chunk's index alone (<see cref="Seeds.Derive"/>), so a run is the same
/// however it is cut by checkpoints, and replicas with derived seeds are independent. The products go into
/// <see cref="CorrelatorSums"/> (float64, memory independent of the ensemble size); the analysis forms G₂, G₄ and
/// their connected parts from the block sums.
/// </summary>
public sealed class NetworkEnsemble
{
    private readonly Tensor points;
    private readonly Tensor? nodeWeights;
    private readonly Tensor? projection;
    private readonly FusedSingleLayerEnsemble? fused;
    private double[] fields = Array.Empty<double>();   // the fused route's φ of one chunk

    /// <summary>An ensemble of <paramref name="architecture"/> at <paramref name="inputs"/> (each of length d).</summary>
    public NetworkEnsemble(INetworkArchitecture architecture, IReadOnlyList<double[]> inputs, EnsembleOptions options, long seed, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (inputs.Count < 1) throw new ArgumentException("at least one input point is needed");
        foreach (var x in inputs)
            if (x.Length != architecture.InputDimension)
                throw new ArgumentException($"point ({string.Join(", ", x)}) has dimension {x.Length}; the network's inputs have dimension {architecture.InputDimension}");
        Architecture = architecture;
        Inputs = inputs.Select(x => (double[])x.Clone()).ToArray();
        Options = options;
        Seed = seed;
        Device = device ?? CPU;
        Engine = EngineFor(architecture, options, Device);
        if (Engine == EnsembleEngine.Fused) fused = new FusedSingleLayerEnsemble((SingleLayerNetwork)architecture, Inputs, options.DType);
        // A multiple of the blocks, so that every chunk starts at block 0 and blocks stay within one network of each other.
        // The fused route keeps only φ of a chunk: 256 networks a block make the accumulation's dot products long
        // (φ at most 4·10⁶ floats, at least one network a block).
        long wanted = options.ChunkSize > 0
            ? options.ChunkSize
            : Engine == EnsembleEngine.Fused ? Math.Max(options.Blocks, Math.Min(256L * options.Blocks, 4_000_000L / inputs.Count))
            : Math.Clamp(4_000_000 / Math.Max(1, architecture.WorkingSetPerNetwork(inputs.Count + (options.Deformation?.Nodes.Count ?? 0))), 1, 1 << 20);
        ChunkSize = (int)((Math.Min(wanted, options.Networks) + options.Blocks - 1) / options.Blocks * options.Blocks);
        Chunks = (options.Networks + ChunkSize - 1) / ChunkSize;
        int fields = inputs.Count;
        if (options.Projection is { } map)
        {
            if (map.Count != inputs.Count || map.Any(r => r.Length != map[0].Length) || map[0].Length < 1)
                throw new ArgumentException($"a projection of {map.Count} rows does not fit {inputs.Count} points; give one row of equal length per point");
            fields = map[0].Length;
            projection = tensor(map.SelectMany(r => r).ToArray(), new long[] { map.Count, fields }, dtype: options.DType, device: device ?? CPU);
        }
        Sums = new CorrelatorSums(fields, options.Blocks, options.MaxOrder);
        // With a deformation the networks are evaluated at the points and the quadrature nodes together.
        var all = options.Deformation is { } q ? Inputs.Concat(q.Nodes).ToArray() : Inputs.ToArray();
        options.Deformation?.Validate(architecture.InputDimension);
        if (options.Deformation is { } deformation)
        {
            WeightedSums = new CorrelatorSums(fields, options.Blocks, options.MaxOrder);
            nodeWeights = tensor(deformation.NodeWeights.ToArray(), dtype: ScalarType.Float64, device: Device);
        }
        points = tensor(all.SelectMany(x => x).ToArray(), new long[] { all.Length, architecture.InputDimension }, dtype: options.DType, device: Device);
    }

    /// <summary>
    /// The route an ensemble of <paramref name="architecture"/> with <paramref name="options"/> on
    /// <paramref name="device"/> takes: <see cref="EnsembleEngine.Fused"/> or <see cref="EnsembleEngine.Tensor"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The options ask for the fused engine where it does not apply (the message says why).</exception>
    public static EnsembleEngine EngineFor(INetworkArchitecture architecture, EnsembleOptions options, Device device)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(device);
        var refusal = FusedRefusal(architecture, options, device);
        if (options.Engine == EnsembleEngine.Fused && refusal is not null) throw new ArgumentException(refusal);
        return options.Engine == EnsembleEngine.Tensor || refusal is not null ? EnsembleEngine.Tensor : EnsembleEngine.Fused;
    }

    /// <summary>Why the fused engine does not cover this ensemble; null when it does.</summary>
    private static string? FusedRefusal(INetworkArchitecture architecture, EnsembleOptions options, Device device) =>
        device.type != DeviceType.CPU ? $"the fused engine runs on the CPU, not on {device.type}"
        : options.Projection is not null ? "the fused engine does not project the fields; use the tensor engine"
        : options.Deformation is not null ? "the fused engine does not reweight to a deformation; use the tensor engine"
        : FusedSingleLayerEnsemble.Refusal(architecture, options.DType);

    /// <summary>The route that draws and evaluates the networks: <see cref="EnsembleEngine.Fused"/> or <see cref="EnsembleEngine.Tensor"/>.</summary>
    public EnsembleEngine Engine { get; }

    /// <summary>The architecture.</summary>
    public INetworkArchitecture Architecture { get; }

    /// <summary>The points x₀ … x_{P−1}.</summary>
    public IReadOnlyList<double[]> Inputs { get; }

    /// <summary>The settings.</summary>
    public EnsembleOptions Options { get; }

    /// <summary>The run's seed.</summary>
    public long Seed { get; }

    /// <summary>Device of the networks.</summary>
    public Device Device { get; }

    /// <summary>Networks per chunk (the last chunk may be smaller).</summary>
    public int ChunkSize { get; }

    /// <summary>Chunks in the ensemble.</summary>
    public long Chunks { get; }

    /// <summary>Chunks done so far.</summary>
    public long CompletedChunks { get; private set; }

    /// <summary>The accumulated sums.</summary>
    public CorrelatorSums Sums { get; private set; }

    /// <summary>The sums reweighted by e^{−(λ/4!)∫φ⁴} (null without a deformation).</summary>
    public CorrelatorSums? WeightedSums { get; private set; }

    /// <summary>Whether every chunk is done.</summary>
    public bool IsComplete => CompletedChunks >= Chunks;

    /// <summary>Draws, evaluates and accumulates the next chunk; returns the networks it held.</summary>
    /// <exception cref="NetworkDivergenceException">A network's output is not finite (e.g. an Exp-net overflowing).</exception>
    public long Step()
    {
        if (IsComplete) throw new InvalidOperationException("the ensemble is complete");
        long c = CompletedChunks;
        long count = Math.Min(ChunkSize, Options.Networks - c * ChunkSize);
        if (fused is not null) return StepFused(c, (int)count);
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)Seeds.Derive(Seed, FormattableString.Invariant($"chunk {c}")), Device);
        var phi = Architecture.Evaluate(count, points, generator);
        if (!isfinite(phi).all().item<bool>()) throw Divergence(c);
        if (projection is not null && Options.Deformation is null) phi = phi.matmul(projection);
        if (Options.Deformation is { } deformation)
        {
            int p = Inputs.Count;
            var atNodes = phi.narrow(1, p, phi.shape[1] - p).to(ScalarType.Float64);
            var square = atNodes.square();
            var density = square.square().div(24.0).sub_(square.mul(deformation.MassCounterterm / 4.0));
            var action = density.matmul(nodeWeights!);                                      // ∫ (φ⁴/4! − cφ²/4) by quadrature, [M]
            var weights = deformation.LinearResponse ? action : action.mul(-deformation.Coupling).exp();
            phi = phi.narrow(1, 0, p);
            if (projection is not null) phi = phi.matmul(projection);
            Sums.Add(phi, c * ChunkSize);
            WeightedSums!.Add(phi, c * ChunkSize, weights);
        }
        else
            Sums.Add(phi, c * ChunkSize);
        CompletedChunks = c + 1;
        return count;
    }

    /// <summary>The fused route's step: the same chunk seed, the kernel's own streams, the sums from host memory.</summary>
    private long StepFused(long c, int count)
    {
        int size = count * Sums.Points;
        if (fields.Length < size) fields = new double[size];
        var phi = fields.AsSpan(0, size);
        fused!.Evaluate(Seeds.Derive(Seed, FormattableString.Invariant($"chunk {c}")), count, phi);
        foreach (double v in phi)
            if (!double.IsFinite(v)) throw Divergence(c);
        Sums.Add(phi, c * ChunkSize);
        CompletedChunks = c + 1;
        return count;
    }

    private NetworkDivergenceException Divergence(long c) => new(FormattableString.Invariant(
        $"networks of chunk {c} gave non-finite outputs ({Architecture.Kind}, {Architecture.Describe()}): the activations overflow at these inputs; use smaller σ_W or σ_b, inputs nearer 0, or float64"));

    /// <summary>
    /// What a checkpoint of this ensemble carries (and a resumed one must match). The fused route adds
    /// "engine": "fused" to the target; the tensor route's target has no engine, so its checkpoints keep their header.
    /// </summary>
    public CheckpointHeader Header => new(
        "nnft-ensemble", Architecture.Describe(),
        WithEngine(JsonSerializer.Serialize(new
        {
            points = Inputs, networks = Options.Networks, chunk = ChunkSize, blocks = Options.Blocks, max_order = Options.MaxOrder, seed = Seed,
            lambda = Options.Deformation?.Coupling, quadrature_nodes = Options.Deformation?.Nodes.Count,
            counterterm = Options.Deformation?.MassCounterterm, linear_response = Options.Deformation?.LinearResponse,
            projection = Options.Projection,
        })),
        Options.DType.ToString());

    private string WithEngine(string target) => Engine == EnsembleEngine.Fused ? target[..^1] + ",\"engine\":\"fused\"}" : target;

    /// <summary>Writes the sums and the chunk count, atomically (<see cref="Checkpoint"/>).</summary>
    public void SaveCheckpoint(string path) =>
        Checkpoint.Write(path, Header, writer =>
        {
            writer.Write(CompletedChunks);
            Sums.Save(writer);
            WeightedSums?.Save(writer);
        });

    /// <summary>Continues from a checkpoint of the same ensemble (refused, naming each difference, otherwise).</summary>
    public void LoadCheckpoint(string path)
    {
        Checkpoint.CheckCompatible(path, Header);
        using var reader = Checkpoint.Open(path, out _);
        CompletedChunks = reader.ReadInt64();
        Sums = CorrelatorSums.Load(reader);
        if (WeightedSums is not null) WeightedSums = CorrelatorSums.Load(reader);
    }
}

/// <summary>An ensemble produced non-finite outputs.</summary>
public sealed class NetworkDivergenceException(string message) : Hybrid.Diagnostics.RunStoppedException(message);
