using Hybrid.Lattice;
using Hybrid.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Hybrid.Phi4.Flows;

/// <summary>
/// The architecture of an <see cref="EquivariantContinuousFlow"/>. Defaults are those of Gerdes et al.
/// (2207.00283). Usable from F# with named setters: <c>EquivariantFlowDefinition(SolverSteps = 20)</c>.
/// </summary>
public sealed record EquivariantFlowDefinition : IFlowDefinition
{
    /// <inheritdoc/>
    [System.Text.Json.Serialization.JsonIgnore]
    public string Kind => "cnf";

    /// <inheritdoc/>
    [System.Text.Json.Serialization.JsonIgnore]
    public string DisplayName => "CNF";

    /// <summary>Gerdes et al.'s settings: Adam with learning rate 5·10⁻³ and betas (0.8, 0.9).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public FlowTrainingOptions RecommendedTraining => new() { LearningRate = 5e-3, AdamBetas = (0.8, 0.9) };

    /// <inheritdoc/>
    public void Validate(SquareLattice lattice)
    {
        ArgumentNullException.ThrowIfNull(lattice);
        Validate();
    }

    /// <inheritdoc/>
    public LatticeFlow Build(SquareLattice lattice, long seed) => new EquivariantContinuousFlow(lattice, this, seed);

    /// <summary>This definition with another number of RK4 steps (every other setting kept).</summary>
    public EquivariantFlowDefinition WithSolverSteps(int steps) => this with { SolverSteps = steps };

    /// <summary>
    /// K, the number of per-site field features: K − 1 learned frequencies ω_k of sin(ω_k φ) plus the
    /// linear feature φ. At least 2.
    /// </summary>
    public int Frequencies { get; init; } = 50;

    /// <summary>The number of channels the K field features are mixed into before the convolution. At least 1.</summary>
    public int FeatureChannels { get; init; } = 20;

    /// <summary>
    /// n, the number of Fourier frequencies in time: the 2n + 1 time features are sin 2πkt, cos 2πkt
    /// (k = 1 … n) and 1. At least 0.
    /// </summary>
    public int TimeFrequencies { get; init; } = 10;

    /// <summary>The number of channels the 2n + 1 time features are mixed into. At least 1.</summary>
    public int TimeChannels { get; init; } = 20;

    /// <summary>
    /// The number of fixed RK4 steps over t ∈ [0, 1]: the accuracy knob of the flow. The map, its inverse
    /// and the log-Jacobian are exact only up to the O(1/steps⁴) solver error. At least 1.
    /// </summary>
    public int SolverSteps { get; init; } = 50;

    /// <summary>The number of time features, 2n + 1.</summary>
    public int TimeFeatures => 2 * TimeFrequencies + 1;

    /// <summary>Checks every value.</summary>
    /// <exception cref="ArgumentException">A value is out of range; the message names it.</exception>
    public void Validate()
    {
        if (Frequencies < 2)
            throw new ArgumentException($"Frequencies = {Frequencies} is not allowed; the flow needs at least 2 field features (one frequency and the linear term)", nameof(Frequencies));
        if (FeatureChannels < 1)
            throw new ArgumentException($"FeatureChannels = {FeatureChannels} is not allowed; it must be at least 1", nameof(FeatureChannels));
        if (TimeFrequencies < 0)
            throw new ArgumentException($"TimeFrequencies = {TimeFrequencies} is not allowed; it must be at least 0", nameof(TimeFrequencies));
        if (TimeChannels < 1)
            throw new ArgumentException($"TimeChannels = {TimeChannels} is not allowed; it must be at least 1", nameof(TimeChannels));
        if (SolverSteps < 1)
            throw new ArgumentException($"SolverSteps = {SolverSteps} is not allowed; it must be at least 1", nameof(SolverSteps));
    }
}

/// <summary>
/// The equivariant continuous normalizing flow of Gerdes, de Haan, Rainone, Bondesan and Cheng
/// (2207.00283; Rainone et al. 2110.02673): one neural ODE dφ/dt = f(φ, t) on t ∈ [0, 1], integrated
/// with fixed-step RK4, with the log-Jacobian from the exact divergence.
/// </summary>
/// <remarks>
/// <para>The vector field is f_x(φ, t) = Σ_y Σ_f W(t)[orb(y − x), f] h_f(φ_y): a periodic convolution
/// over the whole lattice of the mixed site features h_f = Σ_k F_fk g_k(φ)/K, with
/// g = [sin ω₁φ, …, sin ω_{K−1}φ, φ], and a kernel that is constant on the D4 orbits of offsets
/// (<see cref="LatticeSymmetry.D4Orbits"/>), W(t)[o, f] = Σ_a w[o, f, a] τ_a(t), τ(t) = T·K(t)/(2n + 1)
/// with the Fourier time features K(t) = [sin 2πkt, cos 2πkt, 1]. The features are odd in φ and there is no
/// bias, so the flow commutes with φ ↦ −φ, with lattice translations and with the 8 lattice rotations and
/// reflections. The kernel w starts at zero: a fresh flow is the identity.</para>
/// <para>The divergence has the closed form Σ_x ∂f_x/∂φ_x = Σ_x Σ_f W(t)[0, f] ·
/// [Σ_{k&lt;K} F_fk ω_k cos(ω_k φ_x) + F_fK]/K, and forward returns ∫₀¹ div dt = log|det ∂φ/∂z|.
/// Both are integrated by the same RK4 rule, so log q is exact only up to the solver error, and
/// Inverse(forward(z)) = z only up to it too; <see cref="EquivariantFlowDefinition.SolverSteps"/> (or the
/// overloads that take a step count) is the accuracy knob. Training backpropagates through the solver;
/// derivatives of every order are exact for the discrete RK4 map.</para>
/// <para>Performance. Everything that depends on t but not on φ (τ, W, the kernel's spectrum and the
/// divergence coefficients) is computed once per call for all 2·steps + 1 RK stage times in batched tensor
/// operations and indexed per stage. The convolution is applied in momentum space: a D4-symmetric kernel is
/// even in each lattice direction, so its spectrum is real, k̂(p) = Σ_o W[o] Σ_{d∈o} cos(p·d), computed
/// from the orbit weights directly, and the real 2D Hartley transform (kernel cas(p₀x₀)·cas(p₁x₁), its own
/// inverse up to 1/V) diagonalises the convolution. The transform is applied as dense matrix products: one
/// V×V product for L ≤ <see cref="KroneckerMaxExtent"/>, one L×L product per lattice direction above. On
/// the CPU, at L = 6 and 12, this made the convolution's forward and backward about three times faster than
/// rfft2/irfft2 on [channels, L, L] (whose backward goes through complex transforms); its cost grows as L³
/// per channel rather than L² log L, so very large lattices would favour FFTs. sin and cos of the field
/// features come from one autograd node whose backward reuses them (2 instead of 4 transcendental passes per
/// evaluation). Fields are carried through the solver as [V, B] (sites × batch), so that every product is a
/// plain or batched matrix product. Each evaluation then costs <see cref="OperationsPerEvaluation"/> tensor
/// operations.</para>
/// <para>Memory. Backpropagation through the solver keeps, per evaluation, sin and cos of the features
/// ([K − 1, V·B] each) and the channel spectrum ([F, V, B]): about 4·V·B·(2K + F) bytes in float32, times
/// 4·steps evaluations (≈ 1 GB at L = 12, B = 64, 50 steps).</para>
/// <para>Work in one dtype and device: call <c>flow.to(dtype)</c> / <c>flow.to(device)</c> and pass fields
/// of the same dtype and device. Constant tables are built lazily for the input's dtype and device.</para>
/// </remarks>
public sealed class EquivariantContinuousFlow : LatticeFlow, IOdeFlow
{
    /// <summary>Up to this lattice extent the Hartley transform is applied as one V×V matrix product.</summary>
    public const int KroneckerMaxExtent = 7;

    private readonly Parameter frequencies;
    private readonly Parameter featureMixing;
    private readonly Parameter timeMixing;
    private readonly Parameter kernel;

    private readonly OffsetOrbits orbits;
    private readonly double[] cosineTransform;
    private readonly bool kronecker;
    private readonly Dictionary<string, Tensor> constants = new();

    /// <summary>Creates the flow with seeded initial parameters and a zero kernel (the identity map).</summary>
    /// <param name="lattice">The lattice; any L ≥ 2.</param>
    /// <param name="definition">The architecture; validated.</param>
    /// <param name="seed">Seed of the frequency (uniform in [0, 5)) and orthogonal mixing-matrix initialisation.</param>
    /// <exception cref="ArgumentException">The definition is invalid.</exception>
    public EquivariantContinuousFlow(SquareLattice lattice, EquivariantFlowDefinition definition, long seed)
        : base(nameof(EquivariantContinuousFlow))
    {
        ArgumentNullException.ThrowIfNull(lattice);
        ArgumentNullException.ThrowIfNull(definition);
        definition.Validate();
        TorchRuntime.EnsureLoaded();
        Lattice = lattice;
        Definition = definition;
        orbits = LatticeSymmetry.D4Orbits(lattice.Extent);
        cosineTransform = orbits.CosineTransform();
        kronecker = lattice.Extent <= KroneckerMaxExtent;

        var dtype = get_default_dtype();
        using (var generator = new Generator(unchecked((ulong)seed)))
        using (no_grad())
        {
            int k = definition.Frequencies;
            using var omega = rand(new long[] { k - 1 }, dtype: ScalarType.Float64, generator: generator).mul_(5.0);
            using var f = Orthogonal(definition.FeatureChannels, k, generator);
            using var t = Orthogonal(definition.TimeChannels, definition.TimeFeatures, generator);
            frequencies = new Parameter(omega.to(dtype));
            featureMixing = new Parameter(f.to(dtype));
            timeMixing = new Parameter(t.to(dtype));
            kernel = new Parameter(zeros(new long[] { orbits.Count, definition.FeatureChannels, definition.TimeChannels }, dtype: dtype));
        }
        RegisterComponents();
    }

    /// <summary>The lattice.</summary>
    public SquareLattice Lattice { get; }

    /// <summary>The architecture.</summary>
    public EquivariantFlowDefinition Definition { get; }

    /// <inheritdoc/>
    public int SolverSteps => Definition.SolverSteps;

    /// <summary>The D4 orbits of lattice offsets on which the kernel is constant; orbit 0 is the zero offset.</summary>
    public OffsetOrbits Orbits => orbits;

    /// <summary>The K − 1 learned frequencies ω_k (parameter <c>frequencies</c>).</summary>
    public Parameter FieldFrequencies => frequencies;

    /// <summary>F, [FeatureChannels, K], mixing the field features; the last column acts on φ (parameter <c>featureMixing</c>).</summary>
    public Parameter FeatureMixing => featureMixing;

    /// <summary>T, [TimeChannels, 2n + 1], mixing the time features (parameter <c>timeMixing</c>).</summary>
    public Parameter TimeMixing => timeMixing;

    /// <summary>w, [orbits, FeatureChannels, TimeChannels], the kernel weights; zero initially (parameter <c>kernel</c>).</summary>
    public Parameter KernelWeights => kernel;

    /// <summary>
    /// Tensor operations (kernel launches; views are not counted) per evaluation of the vector field and its
    /// divergence: ω⊗φ; sin and cos (one autograd node); the feature-mixing matrix product; addcmul for the
    /// linear feature; the Hartley transform of the channels (1 product, or 2 for L &gt; <see cref="KroneckerMaxExtent"/>);
    /// multiply by the kernel spectrum and sum over channels (2); the inverse transform (1, or 2); and one addmv
    /// that computes the RK-weighted divergence and accumulates it into the log-Jacobian. That is 10 for
    /// L ≤ <see cref="KroneckerMaxExtent"/> and 12 above. The RK4 update adds 7 per step (3 stage inputs,
    /// 4 for the combination), 1.75 per evaluation.
    /// </summary>
    public int OperationsPerEvaluation => kronecker ? 10 : 12;

    /// <inheritdoc/>
    /// <remarks>Integrates t = 0 → 1 with <see cref="EquivariantFlowDefinition.SolverSteps"/> RK4 steps.</remarks>
    public override (Tensor Phi, Tensor LogJacobian) forward(Tensor z) => Forward(z, Definition.SolverSteps);

    /// <inheritdoc/>
    /// <remarks>Integrates t = 1 → 0 with <see cref="EquivariantFlowDefinition.SolverSteps"/> RK4 steps.</remarks>
    public override (Tensor Z, Tensor LogJacobian) Inverse(Tensor phi) => Inverse(phi, Definition.SolverSteps);

    /// <summary>z → (φ, log|det ∂φ/∂z|) with a given number of RK4 steps (e.g. more for accurate densities).</summary>
    public (Tensor Phi, Tensor LogJacobian) Forward(Tensor z, int solverSteps) => Integrate(z, solverSteps, backward: false);

    /// <summary>φ → (z, log|det ∂z/∂φ|) with a given number of RK4 steps.</summary>
    public (Tensor Z, Tensor LogJacobian) Inverse(Tensor phi, int solverSteps) => Integrate(phi, solverSteps, backward: true);

    /// <summary>The vector field f(φ, t), [B, L, L], by the same code path as the solver.</summary>
    public Tensor VectorField(Tensor phi, double t)
    {
        CheckInput(phi);
        using var scope = NewDisposeScope();
        var schedule = SingleTime(phi, t);
        var (f, _) = Evaluate(ToSites(phi), schedule, 0, schedule.Offset);
        return FromSites(f).MoveToOuterDisposeScope();
    }

    /// <summary>The divergence Σ_x ∂f_x/∂φ_x at time t per configuration, [B], from the closed form.</summary>
    public Tensor Divergence(Tensor phi, double t)
    {
        CheckInput(phi);
        using var scope = NewDisposeScope();
        var schedule = SingleTime(phi, t);
        var (_, div) = Evaluate(ToSites(phi), schedule, 0, schedule.Offset);
        return div.MoveToOuterDisposeScope();
    }

    /// <summary>The convolution kernel at time t in real space, [FeatureChannels, L, L]: entry [f, d₀, d₁] = W(t)[orb(d), f].</summary>
    public Tensor Kernel(double t)
    {
        using var scope = NewDisposeScope();
        var times = tensor(new[] { t }, dtype: kernel.dtype, device: kernel.device);
        var weff = EffectiveWeights(TimeFeatures(times));                     // [1, O, F]
        var index = tensor(orbits.Index.Select(i => (long)i).ToArray(), device: kernel.device);
        int l = Lattice.Extent;
        return weff[0].index_select(0, index).t().reshape(Definition.FeatureChannels, l, l).MoveToOuterDisposeScope();
    }

    // ---------------------------------------------------------------------------------------------
    // Integration. Fields are [V, B] inside (site-major, batch innermost).

    private Tensor ToSites(Tensor phi) => phi.reshape(phi.shape[0], Lattice.Volume).t().contiguous();

    private Tensor FromSites(Tensor x) => x.t().reshape(x.shape[1], Lattice.Extent, Lattice.Extent);

    private (Tensor X, Tensor LogJacobian) Integrate(Tensor input, int steps, bool backward)
    {
        if (steps < 1)
            throw new ArgumentException($"solverSteps = {steps} is not allowed; it must be at least 1", nameof(steps));
        CheckInput(input);
        using var scope = NewDisposeScope();
        var schedule = StageSchedule(input, steps, backward);
        double h = (backward ? -1.0 : 1.0) / steps;
        int dj = backward ? -1 : 1;
        var x = ToSites(input);
        Tensor phi = x;
        Tensor logJ = schedule.Offset;
        for (int n = 0; n < steps; n++)
        {
            using var stepScope = NewDisposeScope();
            int j = backward ? 2 * (steps - n) : 2 * n;
            var (k1, l1) = Evaluate(phi, schedule, j, logJ);
            var (k2, l2) = Evaluate(phi.add(k1, h / 2), schedule, j + dj, l1);
            var (k3, l3) = Evaluate(phi.add(k2, h / 2), schedule, j + dj, l2);
            var (k4, l4) = Evaluate(phi.add(k3, h), schedule, j + 2 * dj, l3);
            var next = phi.add(k1.add(k4), h / 6).add_(k2.add(k3), h / 3);
            if (n > 0) stepScope.Attach(phi, logJ);   // the previous step's results: done with them
            phi = next.MoveToOuterDisposeScope();
            logJ = l4.MoveToOuterDisposeScope();
        }
        return (FromSites(phi).MoveToOuterDisposeScope(), logJ.MoveToOuterDisposeScope());
    }

    /// <summary>One evaluation of the vector field at stage-time index <paramref name="j"/> for fields
    /// <paramref name="x"/> [V, B]; also returns <paramref name="logJ"/> plus the stage's weighted divergence.</summary>
    private (Tensor F, Tensor LogJ) Evaluate(Tensor x, Schedule s, int j, Tensor logJ)
    {
        long b = x.shape[1];
        int l = Lattice.Extent, volume = l * l, channels = Definition.FeatureChannels;
        var row = x.view(1, volume * b);
        var sc = SineCosine.apply(s.OmegaColumn.mul(row));                     // 1, 2, 3: ω⊗φ, sin, cos: [K−1, V·B]
        var features = s.SineMixing.matmul(sc[0])                              // 4: [F, V·B]
            .addcmul(s.LinearMixing, row, 1.0);                                // 5: + F_fK φ / K
        var spectrum = Hartley(features.view(channels, volume, b));            // 6 (6, 7): [F, V, B]
        var filtered = spectrum.mul(s.KernelSpectra[j]).sum(0L);               // 7, 8 (8, 9): [V, B]
        var f = Hartley(filtered);                                             // 9 (10, 11): [V, B]
        var nextLogJ = logJ.addmv(sc[1].view(-1, b).t(), s.DivergenceCoefficients[j]); // 10 (12)
        return (f, nextLogJ);
    }

    /// <summary>The 2D Hartley transform over the site dimension of [..., V, B] (one leading dimension at most).</summary>
    private Tensor Hartley(Tensor x)
    {
        int l = Lattice.Extent;
        long b = x.shape[^1];
        if (kronecker)
            return Constant($"hartley-kron/{x.dtype}/{x.device}", () => HartleyMatrix(l, kron: true), new long[] { l * l, l * l }, x).matmul(x);
        var cas = Constant($"hartley/{x.dtype}/{x.device}", () => HartleyMatrix(l, kron: false), new long[] { l, l }, x);
        long lead = x.numel() / (l * l * b);
        var first = cas.matmul(x.view(lead, l, l * b));                        // along x₀
        return cas.matmul(first.view(lead * l, l, b)).view(x.shape);           // along x₁
    }

    private static double[] HartleyMatrix(int l, bool kron)
    {
        var cas = new double[l * l];
        for (int p = 0; p < l; p++)
        {
            for (int x = 0; x < l; x++)
            {
                double angle = 2 * Math.PI * ((long)p * x % l) / l;
                cas[p * l + x] = Math.Cos(angle) + Math.Sin(angle);
            }
        }
        if (!kron) return cas;
        int v = l * l;
        var full = new double[v * v];
        for (int p = 0; p < v; p++)
            for (int x = 0; x < v; x++)
                full[p * v + x] = cas[(p / l) * l + x / l] * cas[(p % l) * l + x % l];
        return full;
    }

    private sealed record Schedule(
        Tensor OmegaColumn,                 // [K−1, 1]
        Tensor SineMixing,                  // [F, K−1], F_fk / K
        Tensor LinearMixing,                // [F, 1],   F_fK / K
        Tensor[] KernelSpectra,             // per time: [F, V, 1], the kernel's real spectrum / V
        Tensor[] DivergenceCoefficients,    // per time: [(K−1)·V], weight · c_k(t) repeated over sites
        Tensor Offset);                     // scalar: V Σ_j totalWeight_j Σ_f W_j[0, f] F_fK / K

    /// <summary>
    /// All stage times j/(2·steps), j = 0 … 2·steps, with the RK4 weight of one evaluation there (h/6 at even j,
    /// h/3 at odd j) and the total weight of all evaluations there (Simpson's h/6, 4h/6, 2h/6, …, 4h/6, h/6:
    /// odd times are evaluated twice, interior even times once as the last stage of a step and once as the first of the next).
    /// </summary>
    private Schedule StageSchedule(Tensor like, int steps, bool backward)
    {
        int count = 2 * steps + 1;
        var table = Constant($"stages/{steps}/{like.dtype}/{like.device}", () =>
        {
            var values = new double[count * 3];
            for (int j = 0; j < count; j++)
            {
                values[j] = (double)j / (2 * steps);
                values[count + j] = (j % 2 == 0 ? 1.0 : 2.0) / (6.0 * steps);
                values[2 * count + j] = (j % 2 == 1 ? 4.0 : j == 0 || j == count - 1 ? 1.0 : 2.0) / (6.0 * steps);
            }
            return values;
        }, new long[] { 3, count }, like);
        return backward
            ? BuildSchedule(table[0], table[1].neg(), table[2].neg(), like)
            : BuildSchedule(table[0], table[1], table[2], like);
    }

    private Schedule SingleTime(Tensor like, double t)
    {
        var times = tensor(new[] { t }, dtype: like.dtype, device: like.device);
        var one = ones(new long[] { 1 }, dtype: like.dtype, device: like.device);
        return BuildSchedule(times, one, one, like);
    }

    /// <param name="times">The stage times, [J].</param>
    /// <param name="weights">The weight of one evaluation at each time, [J].</param>
    /// <param name="totalWeights">The summed weight of all evaluations at each time, [J].</param>
    /// <param name="like">A tensor of the dtype and device to work in.</param>
    private Schedule BuildSchedule(Tensor times, Tensor weights, Tensor totalWeights, Tensor like)
    {
        var def = Definition;
        int k = def.Frequencies, channels = def.FeatureChannels;
        long count = times.shape[0], volume = Lattice.Volume;
        double inverseK = 1.0 / k;

        var weff = EffectiveWeights(TimeFeatures(times));                                 // [J, O, F]
        var cosine = Constant($"cosine/{like.dtype}/{like.device}", () => cosineTransform, new long[] { orbits.Count, volume }, like);
        var spectra = weff.transpose(1, 2).matmul(cosine).div_(volume)                    // [J, F, V]
            .unsqueeze(3).unbind(0);

        var sineMixing = featureMixing.narrow(1, 0, k - 1).mul(inverseK);                 // [F, K−1]
        var linearMixing = featureMixing.narrow(1, k - 1, 1).mul(inverseK);               // [F, 1]
        var zeroOffset = weff.select(1, 0);                                               // [J, F]
        var coefficients = zeroOffset.matmul(sineMixing).mul(frequencies).mul(weights.unsqueeze(1)); // [J, K−1]
        var repeated = coefficients.unsqueeze(2).expand(count, k - 1, volume).reshape(count, (k - 1) * volume).unbind(0);
        var offset = zeroOffset.matmul(linearMixing).squeeze(1).dot(totalWeights).mul(volume);

        return new Schedule(frequencies.unsqueeze(1), sineMixing, linearMixing, spectra, repeated, offset);
    }

    /// <summary>Fourier time features [J, 2n + 1] scaled by 1/(2n + 1).</summary>
    private Tensor TimeFeatures(Tensor times)
    {
        int n = Definition.TimeFrequencies;
        var columns = times.unsqueeze(1);
        if (n == 0) return ones_like(columns);
        var angles = columns.mul(arange(1, n + 1, dtype: times.dtype, device: times.device).mul(2 * Math.PI));
        return cat(new[] { angles.sin(), angles.cos(), ones_like(columns) }, 1).div(Definition.TimeFeatures);
    }

    /// <summary>W(t)[o, f] = Σ_a w[o, f, a] τ_a(t) for each row of time features, [J, O, F].</summary>
    private Tensor EffectiveWeights(Tensor timeFeatures)
    {
        CheckParameters(timeFeatures);
        var tau = timeFeatures.matmul(timeMixing.t());                                    // [J, TC]
        var flat = kernel.view(orbits.Count * Definition.FeatureChannels, Definition.TimeChannels);
        return tau.matmul(flat.t()).view(tau.shape[0], orbits.Count, Definition.FeatureChannels);
    }

    private Tensor Constant(string key, Func<double[]> values, long[] shape, Tensor like)
    {
        if (constants.TryGetValue(key, out var cached)) return cached;
        using var host = tensor(values(), dtype: ScalarType.Float64).reshape(shape);
        var t = host.to(like.dtype, like.device).DetachFromDisposeScope();
        constants[key] = t;
        return t;
    }

    private void CheckInput(Tensor x)
    {
        int l = Lattice.Extent;
        if (x.dim() != 3 || x.shape[1] != l || x.shape[2] != l)
            throw new ArgumentException($"field of shape [{string.Join(", ", x.shape)}] does not fit this flow; expected [batch, {l}, {l}]", nameof(x));
        CheckParameters(x);
    }

    private void CheckParameters(Tensor x)
    {
        if (x.dtype != kernel.dtype || x.device.type != kernel.device.type || x.device.index != kernel.device.index)
            throw new ArgumentException(
                $"field of dtype {x.dtype} on {x.device} does not match the flow's parameters ({kernel.dtype} on {kernel.device}); move the flow with flow.to(...) first",
                nameof(x));
    }

    private static Tensor Orthogonal(int rows, int columns, Generator generator)
    {
        // Haar-random matrix with orthonormal rows (rows ≤ columns) or columns (rows > columns).
        bool wide = rows < columns;
        using var scope = NewDisposeScope();
        var gaussian = randn(wide ? new long[] { columns, rows } : new long[] { rows, columns }, dtype: ScalarType.Float64, generator: generator);
        var (q, r) = linalg.qr(gaussian);
        var fixedSigns = q.mul(r.diagonal().sign().unsqueeze(0));
        // contiguous in both cases: LAPACK's q is column-major, and a strided parameter cannot be saved.
        return (wide ? fixedSigns.t() : fixedSigns).contiguous().MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            foreach (var t in constants.Values) t.Dispose();
            constants.Clear();
        }
        base.Dispose(disposing);
    }

    /// <summary>
    /// (sin a, cos a) as one autograd node that saves both outputs, so that the backward pass,
    /// ∂/∂a = g_sin·cos a − g_cos·sin a, needs no further transcendental evaluations (plain autograd would
    /// evaluate cos and sin again: 4 instead of 2 transcendental passes over [K−1, V·B] per evaluation).
    /// </summary>
    /// <remarks>
    /// TorchSharp hands the gradients to <c>backward</c> as new managed tensors in the caller's dispose scope and
    /// copies the returned gradient only after <c>backward</c> returns. Left alone, every node's tensors would
    /// stay alive until the caller's scope ends (hundreds of MB per training step at L = 12). So the incoming
    /// gradients and the unpacked saved tensors are disposed here, and each returned gradient is disposed at
    /// the next call on the same thread (the native side has copied it by then); at most one stays per thread.
    /// </remarks>
    private sealed class SineCosine : autograd.MultiTensorFunction<SineCosine>
    {
        [ThreadStatic] private static Tensor? returned;

        public override string Name => nameof(SineCosine);

        public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var a = (Tensor)vars[0];
            var sin = a.sin();
            var cos = a.cos();
            ctx.set_materialize_grads(false);
            ctx.save_for_backward(new List<Tensor> { sin, cos });
            return new List<Tensor> { sin, cos };
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> grad_outputs)
        {
            returned?.Dispose();
            returned = null;
            using var scope = NewDisposeScope();
            var saved = ctx.get_saved_variables();
            scope.Attach(saved);
            scope.Attach(grad_outputs);
            var (gradSin, gradCos) = (grad_outputs[0], grad_outputs[1]);
            Tensor? result = null;
            if (!gradSin.IsInvalid) result = gradSin.mul(saved[1]);
            if (!gradCos.IsInvalid) result = result is null ? gradCos.mul(saved[0]).neg_() : result.addcmul_(gradCos, saved[0], -1.0);
            if (result is not null) returned = result.DetachFromDisposeScope();
            return new List<Tensor> { result! };
        }
    }
}
