using System.Text.Json;
using Hybrid.Runtime;
using Hybrid.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Hybrid.Nnqm;

/// <summary>
/// Deep NN-QM with trainable parts: y_t = φ(u_t) with u_t ∈ ℝ^d independent standardised Ornstein–Uhlenbeck inputs of
/// rates ω_i (trained through ln ω_i) and φ(u) = a·u + ψ(u) − ψ(−u), ψ a one-hidden-layer tanh network. The odd φ keeps
/// ⟨y⟩ = 0 and the x → −x symmetry of a symmetric potential; any φ of a reflection-positive Markov process is
/// reflection positive, so every trained model is quantum mechanics. Its two-point function is exact through the
/// Hermite (Mehler) expansion: with orthonormal Hermite coefficients c_k = ⟨φ(u) Π_i h_{k_i}(u_i)⟩,
/// ⟨y_t y_0⟩ = Σ_k c_k² e^{−(Σ_i k_i ω_i) t}, a Källén–Lehmann sum with gaps Σ k_i ω_i and weights c_k². The
/// coefficients come from a tensor-product Gauss–Hermite rule, so the loss is deterministic and differentiable in
/// both the rates and the network.
/// </summary>
public sealed class DeepNnqm : nn.Module<Tensor, Tensor>
{
    private readonly Parameter logRates;
    private readonly Linear hidden;
    private readonly Linear output;
    private readonly Linear skip;
    private readonly Tensor nodes;        // [n^d, d] quadrature points
    private readonly Tensor weightedHermite; // [n, K + 1]: w_j h_k(x_j)

    /// <summary>A model of independent OU inputs feeding an odd tanh network.</summary>
    /// <param name="inputs">d, 1..3.</param>
    /// <param name="width">Hidden width of ψ.</param>
    /// <param name="initialRates">The d initial rates ω_i &gt; 0.</param>
    /// <param name="order">Highest Hermite order K per input in the expansion (the truncation is reported by <see cref="TruncationError"/>).</param>
    /// <param name="quadratureNodes">Gauss–Hermite nodes per input, n &gt; K.</param>
    /// <param name="seed">Seeds the network's initial weights.</param>
    public DeepNnqm(int inputs, int width, IReadOnlyList<double> initialRates, long seed, int order = 15, int quadratureNodes = 40)
        : base(nameof(DeepNnqm))
    {
        if (inputs < 1 || inputs > 3) throw new ArgumentException($"inputs {inputs} is not allowed; it must lie in 1..3 (the expansion grows like n^d)");
        if (width < 1 || width > 4096) throw new ArgumentException($"width {width} is not allowed; it must lie in 1..4096");
        ArgumentNullException.ThrowIfNull(initialRates);
        if (initialRates.Count != inputs || initialRates.Any(r => !(r > 0) || !double.IsFinite(r)))
            throw new ArgumentException($"initial rates [{string.Join(", ", initialRates)}] are not allowed; give {inputs} finite numbers > 0");
        if (order < 1 || quadratureNodes <= order) throw new ArgumentException($"order {order} with {quadratureNodes} nodes is not allowed; need 1 ≤ order < nodes");
        TorchRuntime.EnsureLoaded();
        Inputs = inputs;
        Width = width;
        Order = order;
        var dtype = ScalarType.Float64;
        using (var generator = new Generator(unchecked((ulong)seed)))
        using (no_grad())
        {
            logRates = new Parameter(tensor(initialRates.Select(v => Math.Log(v)).ToArray(), dtype: dtype));
            hidden = nn.Linear(inputs, width, dtype: dtype);
            output = nn.Linear(width, 1, hasBias: false, dtype: dtype);
            skip = nn.Linear(inputs, 1, hasBias: false, dtype: dtype);
            // Seeded initialisation (TorchSharp's default uses the global generator): N(0, 1/d) and N(0, 1/N).
            hidden.weight!.copy_(randn(new long[] { width, inputs }, dtype: dtype, generator: generator).div_(Math.Sqrt(inputs)));
            hidden.bias!.copy_(randn(new long[] { width }, dtype: dtype, generator: generator).mul_(0.5));
            // The tanh part starts at zero, so the model starts as the linear (Gaussian, OU) one and grows only the
            // non-linearity the target asks for; from a random tanh part training can settle in a minimum that keeps
            // needless cubic and higher Hermite orders (seen: 7% of the weight at 3ω).
            output.weight!.zero_();
            skip.weight!.copy_(randn(new long[] { 1, inputs }, dtype: dtype, generator: generator).div_(Math.Sqrt(inputs)));
        }
        var (x, w) = Hybrid.Numerics.GaussHermite.Probabilists(quadratureNodes);
        // h_k(x) = He_k(x)/√(k!) by the recursion h_{k+1} = (x h_k − √k h_{k−1})/√(k+1).
        var h = new double[quadratureNodes, order + 1];
        for (int j = 0; j < quadratureNodes; j++)
        {
            h[j, 0] = 1;
            if (order >= 1) h[j, 1] = x[j];
            for (int k = 1; k < order; k++) h[j, k + 1] = (x[j] * h[j, k] - Math.Sqrt(k) * h[j, k - 1]) / Math.Sqrt(k + 1);
        }
        var wh = new double[quadratureNodes * (order + 1)];
        for (int j = 0; j < quadratureNodes; j++)
            for (int k = 0; k <= order; k++) wh[j * (order + 1) + k] = w[j] * h[j, k];
        weightedHermite = tensor(wh, new long[] { quadratureNodes, order + 1 }, dtype: dtype);
        // The tensor-product grid, first input slowest.
        long points = (long)Math.Pow(quadratureNodes, inputs);
        var grid = new double[points * inputs];
        for (long p = 0; p < points; p++)
        {
            long rest = p;
            for (int i = inputs - 1; i >= 0; i--) { grid[p * inputs + i] = x[rest % quadratureNodes]; rest /= quadratureNodes; }
        }
        nodes = tensor(grid, new long[] { points, inputs }, dtype: dtype);
        QuadratureNodes = quadratureNodes;
        RegisterComponents();
    }

    /// <summary>d.</summary>
    public int Inputs { get; }

    /// <summary>Hidden width.</summary>
    public int Width { get; }

    /// <summary>Highest Hermite order per input in the expansion.</summary>
    public int Order { get; }

    /// <summary>Gauss–Hermite nodes per input.</summary>
    public int QuadratureNodes { get; }

    /// <summary>The rates ω_i = e^{ln ω_i}.</summary>
    public Tensor Rates => logRates.exp();

    /// <summary>φ(u) for u of shape [M, d]: [M].</summary>
    public override Tensor forward(Tensor u)
    {
        using var scope = NewDisposeScope();
        Tensor Psi(Tensor v) => output.forward(hidden.forward(v).tanh()).squeeze(1);
        // A linear skip path beside the odd tanh part: the linear Hermite order (the lowest states) need not be bought
        // with cubic and higher orders that the network's curvature brings along.
        return skip.forward(u).squeeze(1).add(Psi(u)).sub(Psi(u.neg())).MoveToOuterDisposeScope();
    }

    /// <summary>The Hermite coefficients c_k, [K + 1]^d, by the tensor-product Gauss–Hermite rule.</summary>
    public Tensor HermiteCoefficients()
    {
        using var scope = NewDisposeScope();
        int n = QuadratureNodes;
        var c = forward(nodes.to(logRates.device)).reshape(Enumerable.Repeat((long)n, Inputs).ToArray());
        var wh = weightedHermite.to(logRates.device);
        for (int axis = 0; axis < Inputs; axis++) c = c.movedim(new long[] { axis }, new long[] { -1 }).matmul(wh).movedim(new long[] { -1 }, new long[] { axis });
        return c.MoveToOuterDisposeScope();
    }

    /// <summary>⟨y_t y_0⟩ at <paramref name="times"/> ([T]): Σ_k c_k² e^{−(Σ k_i ω_i) t}, differentiable.</summary>
    public Tensor TwoPoint(Tensor times)
    {
        using var scope = NewDisposeScope();
        var weights = HermiteCoefficients().square();
        var k = arange(Order + 1, dtype: ScalarType.Float64, device: times.device);
        var rates = Rates;
        // Contract one input at a time with ρ_i(t)^k = e^{−k ω_i t}: x has shape [T, (K+1)^{remaining}].
        var x = weights.reshape(1, -1).expand(times.shape[0], -1);
        for (int i = 0; i < Inputs; i++)
        {
            var rho = times.unsqueeze(1).mul(k.unsqueeze(0)).mul(rates[i]).neg().exp();        // [T, K+1]
            x = x.reshape(times.shape[0], Order + 1, -1).mul(rho.unsqueeze(2)).sum(1);
        }
        return x.reshape(times.shape[0]).MoveToOuterDisposeScope();
    }

    /// <summary>⟨y²⟩ − Σ_k c_k²: what the truncated expansion misses of the variance (≥ 0 up to quadrature error).</summary>
    public double TruncationError()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var phi = forward(nodes.to(logRates.device)).reshape(Enumerable.Repeat((long)QuadratureNodes, Inputs).ToArray());
        var w = weightedHermite.to(logRates.device)[.., 0];   // w_j h_0 = w_j
        var second = phi.square();
        for (int axis = 0; axis < Inputs; axis++) second = second.movedim(new long[] { axis }, new long[] { -1 }).matmul(w).unsqueeze(-1).movedim(new long[] { -1 }, new long[] { axis });
        return second.sum().item<double>() - HermiteCoefficients().square().sum().item<double>();
    }

    /// <summary>
    /// The model's spectrum: every gap Σ k_i ω_i with its weight c_k², states of equal gap merged, weights below
    /// <paramref name="floor"/> × the total dropped, lowest first.
    /// </summary>
    public IReadOnlyList<(double Gap, double Weight)> Spectrum(double floor = 1e-10)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var c2 = HermiteCoefficients().square().cpu().data<double>().ToArray();
        var rates = Rates.cpu().data<double>().ToArray();
        double total = c2.Sum();
        var states = new List<(double Gap, double Weight)>();
        for (int flat = 0; flat < c2.Length; flat++)
        {
            if (c2[flat] < floor * total) continue;
            int rest = flat;
            double gap = 0;
            for (int i = Inputs - 1; i >= 0; i--) { gap += rest % (Order + 1) * rates[i]; rest /= Order + 1; }
            if (gap == 0) continue;   // the constant part (zero for odd φ)
            states.Add((gap, c2[flat]));
        }
        return states.GroupBy(s => Math.Round(s.Gap, 10)).Select(g => (g.Key, g.Sum(s => s.Weight))).OrderBy(s => s.Item1).ToList();
    }

    /// <summary>
    /// Stationary paths [paths, steps] of y at spacing <paramref name="dt"/>, returned on the CPU: exact OU inputs, then
    /// φ, both on the model's device, where <paramref name="generator"/> must live.
    /// </summary>
    public Tensor SamplePaths(long paths, int steps, double dt, Generator generator)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var rates = Rates.cpu().data<double>().ToArray();
        var u = OrnsteinUhlenbeck.SampleStandardised(rates, paths, steps, dt, generator, logRates.device).reshape(-1, Inputs);
        return forward(u).reshape(paths, steps).cpu().MoveToOuterDisposeScope();
    }

    /// <summary>The model as JSON (for checkpoints and run records).</summary>
    public string Describe() => JsonSerializer.Serialize(new { kind = "deep-nnqm", inputs = Inputs, width = Width, order = Order, quadrature_nodes = QuadratureNodes, activation = "tanh", odd = true });

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing) { nodes.Dispose(); weightedHermite.Dispose(); }
        base.Dispose(disposing);
    }
}

/// <summary>
/// Trains a <see cref="DeepNnqm"/> so that its Euclidean two-point function matches a target G(t) at given times: the
/// loss is the mean of [ln G_model(t) − ln G(t)]², which weighs the long-time tail (the lowest gap) as much as the
/// short-time values. Deterministic (the model's correlator is exact), so the value has no statistical error.
/// </summary>
public sealed class TwoPointMatching : ITrainingObjective
{
    private readonly DeepNnqm model;
    private readonly Tensor times;
    private readonly Tensor logTarget;

    /// <summary>Matches <paramref name="target"/> at <paramref name="times"/> (target values &gt; 0).</summary>
    public TwoPointMatching(DeepNnqm model, IReadOnlyList<double> times, IReadOnlyList<double> target)
    {
        this.model = model ?? throw new ArgumentNullException(nameof(model));
        if (times.Count != target.Count || times.Count < 2) throw new ArgumentException($"{times.Count} times for {target.Count} target values; give at least 2 of each, as many times as values");
        if (target.Any(v => !(v > 0))) throw new ArgumentException("the target two-point function must be > 0 at every time");
        this.times = tensor(times.ToArray(), dtype: ScalarType.Float64);
        logTarget = tensor(target.Select(v => Math.Log(v)).ToArray(), dtype: ScalarType.Float64);
    }

    /// <inheritdoc/>
    public string Name => "two-point matching";

    /// <inheritdoc/>
    public string ValueName => "mean (Δ ln G)²";

    /// <inheritdoc/>
    public IReadOnlyList<ITrainingHook> Hooks { get; } = Array.Empty<ITrainingHook>();

    /// <inheritdoc/>
    public ObjectiveEvaluation Evaluate(Generator generator)
    {
        var device = model.Rates.device;
        var g = model.TwoPoint(times.to(device));
        var loss = g.log().sub(logTarget.to(device)).square().mean();
        var rates = model.Rates.detach().cpu().data<double>().ToArray();
        var diagnostics = rates.Select((r, i) => new KeyValuePair<string, double>($"ω{i + 1}", r)).ToList();
        return new ObjectiveEvaluation(loss, loss.item<double>(), double.NaN, diagnostics);
    }
}
