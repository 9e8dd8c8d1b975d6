using Hybrid.Lattice;
using Hybrid.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Hybrid.Phi4.Flows;

/// <summary>Nonlinearities of the coupling networks.</summary>
public enum Activation
{
    /// <summary>LeakyReLU with slope 0.01 (the Albergo tutorial's choice).</summary>
    LeakyReLU,
    /// <summary>tanh.</summary>
    Tanh,
    /// <summary>ReLU.</summary>
    ReLU,
    /// <summary>SiLU (swish).</summary>
    SiLU,
}

/// <summary>
/// A realNVP flow of checkerboard affine couplings (Albergo et al. 2019; tutorial 2101.08176): each
/// coupling freezes one checkerboard parity and transforms the other as φ′ = e^{s} φ + t, with (s, t)
/// from a convolutional network of the frozen sites (circular padding). Defaults are the tutorial's:
/// 16 couplings, hidden channels [8, 8], kernel 3, LeakyReLU, tanh on the output.
/// </summary>
public sealed record RealNvpDefinition : IFlowDefinition
{
    /// <inheritdoc/>
    [System.Text.Json.Serialization.JsonIgnore]
    public string Kind => "realnvp";

    /// <inheritdoc/>
    [System.Text.Json.Serialization.JsonIgnore]
    public string DisplayName => "realNVP";

    /// <summary>The Albergo tutorial's settings: Adam with learning rate 10⁻³ and betas (0.9, 0.999).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public FlowTrainingOptions RecommendedTraining => new() { LearningRate = 1e-3, AdamBetas = (0.9, 0.999) };

    LatticeFlow IFlowDefinition.Build(SquareLattice lattice, long seed) => Build(lattice, seed);

    /// <summary>This definition with other hidden channels (every other setting kept).</summary>
    public RealNvpDefinition WithHiddenChannels(IEnumerable<int> channels) => this with { HiddenChannels = channels.ToArray() };

    /// <summary>Number of coupling layers (parities alternate).</summary>
    public int Couplings { get; init; } = 16;

    /// <summary>Channels of the hidden convolutions of each coupling network.</summary>
    public IReadOnlyList<int> HiddenChannels { get; init; } = new[] { 8, 8 };

    /// <summary>Odd convolution kernel size.</summary>
    public int KernelSize { get; init; } = 3;

    /// <summary>Nonlinearity between convolutions.</summary>
    public Activation Activation { get; init; } = Activation.LeakyReLU;

    /// <summary>Whether s and t pass through a final tanh (bounds the scale per layer).</summary>
    public bool TanhOutput { get; init; } = true;

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first bad value.</summary>
    public void Validate()
    {
        if (Couplings < 1) throw new ArgumentException($"number of couplings {Couplings} is not allowed; it must be ≥ 1");
        if (HiddenChannels is null || HiddenChannels.Any(c => c < 1))
            throw new ArgumentException($"hidden channels [{string.Join(", ", HiddenChannels ?? Array.Empty<int>())}] are not allowed; each must be ≥ 1");
        if (KernelSize < 1 || KernelSize % 2 == 0)
            throw new ArgumentException($"kernel size {KernelSize} is not allowed; it must be odd and ≥ 1");
    }

    /// <summary>Equality by value, including the list of hidden channels.</summary>
    public bool Equals(RealNvpDefinition? other) =>
        other is not null && Couplings == other.Couplings && HiddenChannels.SequenceEqual(other.HiddenChannels)
        && KernelSize == other.KernelSize && Activation == other.Activation && TanhOutput == other.TanhOutput;

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Couplings, string.Join(",", HiddenChannels), KernelSize, Activation, TanhOutput);

    /// <summary>Checks the definition and that it fits <paramref name="lattice"/> (checkerboards need an even L).</summary>
    public void Validate(SquareLattice lattice)
    {
        ArgumentNullException.ThrowIfNull(lattice);
        Validate();
        if (lattice.Extent % 2 != 0)
            throw new ArgumentException($"lattice size L = {lattice.Extent} is not allowed for realNVP; checkerboard couplings need an even L");
    }

    /// <summary>Builds the flow for <paramref name="lattice"/> (even L), with parameters initialised from <paramref name="seed"/>.</summary>
    public FlowComposition Build(SquareLattice lattice, long seed)
    {
        Validate(lattice);
        TorchRuntime.EnsureLoaded();
        var flow = new FlowComposition(Enumerable.Range(0, Couplings).Select(i => (LatticeFlow)new AffineCoupling(lattice, i % 2, this)));
        // Parameters from the flow's own generator, never from libtorch's global one: a flow is a function of its seed
        // alone, whatever other threads draw meanwhile. The distribution is PyTorch's default for Conv2d
        // (kaiming_uniform with a = √5 for weights, its bias rule for biases): U(−1/√fan_in, 1/√fan_in) for both.
        using var generator = new Generator((ulong)seed);
        using (no_grad())
            foreach (var conv in flow.modules().OfType<Conv2d>())
            {
                double bound = 1 / Math.Sqrt(conv.weight!.shape[1] * conv.weight.shape[2] * conv.weight.shape[3]);
                conv.weight.uniform_(-bound, bound, generator);
                conv.bias?.uniform_(-bound, bound, generator);
            }
        return flow;
    }
}

/// <summary>One checkerboard affine coupling: sites of the frozen parity condition an affine map of the others.</summary>
public sealed class AffineCoupling : LatticeFlow
{
    private readonly Sequential net;
    private readonly Tensor frozen;     // [L, L]: 1 on the sites that condition the map
    private readonly Tensor active;     // [2, L, L]: 1 on the sites the map updates, for s and t alike

    /// <summary>A coupling that freezes the sites with (t + x) mod 2 = <paramref name="parity"/>.</summary>
    public AffineCoupling(SquareLattice lattice, int parity, RealNvpDefinition definition) : base(nameof(AffineCoupling))
    {
        int l = lattice.Extent;
        var mask = new double[l * l];
        for (int t = 0; t < l; t++)
            for (int x = 0; x < l; x++)
                mask[t * l + x] = (t + x) % 2 == parity ? 1 : 0;
        frozen = tensor(mask, new long[] { l, l }, dtype: ScalarType.Float32);
        using (var updated = frozen.neg().add_(1))
            active = updated.expand(2, l, l).contiguous();

        var layers = new List<(string, nn.Module<Tensor, Tensor>)>();
        var channels = new[] { 1 }.Concat(definition.HiddenChannels).Append(2).ToArray();
        for (int i = 0; i + 1 < channels.Length; i++)
        {
            layers.Add(($"conv{i}", nn.Conv2d(channels[i], channels[i + 1], definition.KernelSize,
                padding: definition.KernelSize / 2, padding_mode: PaddingModes.Circular)));
            bool last = i + 2 == channels.Length;
            if (!last) layers.Add(($"act{i}", MakeActivation(definition.Activation)));
            else if (definition.TanhOutput) layers.Add(("tanh", nn.Tanh()));
        }
        net = nn.Sequential(layers);
        register_buffer("frozen", frozen);
        register_buffer("active", active);
        RegisterComponents();
    }

    private static nn.Module<Tensor, Tensor> MakeActivation(Activation activation) => activation switch
    {
        Activation.LeakyReLU => nn.LeakyReLU(),
        Activation.Tanh => nn.Tanh(),
        Activation.ReLU => nn.ReLU(),
        Activation.SiLU => nn.SiLU(),
        _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, "unknown activation"),
    };

    // The network's output is masked by one product for s and t together: every tensor operation costs
    // microseconds of overhead, which at these small sizes is a large part of a training step.
    private (Tensor S, Tensor T) ScaleAndShift(Tensor x)
    {
        var st = net.forward(x.mul(frozen).unsqueeze(1)).mul(active);
        return (st[.., 0], st[.., 1]);
    }

    /// <inheritdoc/>
    public override (Tensor Phi, Tensor LogJacobian) forward(Tensor z)
    {
        using var scope = NewDisposeScope();
        var (s, t) = ScaleAndShift(z);
        // Frozen sites: s = t = 0 there, so e^0·z + 0 leaves them unchanged.
        var phi = t.addcmul(z, s.exp(), 1.0);
        return (phi.MoveToOuterDisposeScope(), s.sum(new long[] { 1, 2 }).MoveToOuterDisposeScope());
    }

    /// <inheritdoc/>
    public override (Tensor Z, Tensor LogJacobian) Inverse(Tensor phi)
    {
        using var scope = NewDisposeScope();
        var (s, t) = ScaleAndShift(phi);
        var z = phi.sub(t).mul(s.neg().exp());
        return (z.MoveToOuterDisposeScope(), (-s.sum(new long[] { 1, 2 })).MoveToOuterDisposeScope());
    }
}
