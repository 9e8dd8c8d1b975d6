using Hybrid.Sampling;
using Hybrid.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Hybrid.Vmc;

/// <summary>
/// The variational energy E(θ) = ⟨ψ_θ|H|ψ_θ⟩/⟨ψ_θ|ψ_θ⟩ as a training objective. Each evaluation draws a batch from the
/// Born density with a Metropolis sampler (its chains persist between steps), evaluates the local energies, and the
/// per-sample log-derivatives O_k in one pass. Its loss is Σ_k F_k θ_k with the energy gradient
/// F = 2⟨(O − ⟨O⟩)(E_loc − E)⟩ held constant, so that backward leaves exactly F in the gradients at no extra network
/// cost; <see cref="StochasticReconfiguration"/> then preconditions F with the same batch's O.
/// </summary>
public sealed class VariationalEnergy : ITrainingObjective
{
    private readonly IWavefunction wavefunction;
    private readonly ILocalOperator hamiltonian;
    private readonly ITrainingHook[] hooks;

    /// <summary>The energy of <paramref name="wavefunction"/> under <paramref name="hamiltonian"/>, sampled by <paramref name="sampler"/>.</summary>
    /// <param name="wavefunction">The variational state.</param>
    /// <param name="hamiltonian">Gives the local energies.</param>
    /// <param name="sampler">Metropolis chains on the wavefunction's <see cref="BornDensity"/>, already thermalised.</param>
    /// <param name="samplesPerChain">Configurations taken from each chain per evaluation, ≥ 1.</param>
    /// <param name="stepsBetweenSamples">Metropolis steps before each configuration is taken, ≥ 1.</param>
    public VariationalEnergy(IWavefunction wavefunction, ILocalOperator hamiltonian, MetropolisHastings sampler, int samplesPerChain, int stepsBetweenSamples)
    {
        this.wavefunction = wavefunction ?? throw new ArgumentNullException(nameof(wavefunction));
        this.hamiltonian = hamiltonian ?? throw new ArgumentNullException(nameof(hamiltonian));
        Sampler = sampler ?? throw new ArgumentNullException(nameof(sampler));
        if (samplesPerChain < 1) throw new ArgumentException($"samples per chain {samplesPerChain} is not allowed; it must be ≥ 1");
        if (stepsBetweenSamples < 1) throw new ArgumentException($"steps between samples {stepsBetweenSamples} is not allowed; it must be ≥ 1");
        SamplesPerChain = samplesPerChain;
        StepsBetweenSamples = stepsBetweenSamples;
        hooks = new ITrainingHook[] { new SamplerCheckpoint(sampler) };
    }

    /// <summary>The wavefunction's parameters, in the column order of <see cref="ObjectiveEvaluation.PerSampleJacobian"/>.</summary>
    public IReadOnlyList<Parameter> WavefunctionParameters => wavefunction.Parameters;

    /// <summary>The sampler whose chains feed every evaluation.</summary>
    public MetropolisHastings Sampler { get; }

    /// <summary>Configurations per chain per evaluation.</summary>
    public int SamplesPerChain { get; }

    /// <summary>Metropolis steps between configurations.</summary>
    public int StepsBetweenSamples { get; }

    /// <inheritdoc/>
    public string Name => "variational-energy";

    /// <inheritdoc/>
    public string ValueName => "E";

    /// <inheritdoc/>
    public IReadOnlyList<ITrainingHook> Hooks => hooks;

    /// <summary>
    /// Draws <see cref="SamplesPerChain"/> configurations from every chain: [N, ..shape] with N = samples × chains,
    /// sample-major (row s·chains + c is chain c's s-th configuration), and the acceptance over all steps taken.
    /// </summary>
    public (Tensor Configurations, double Acceptance) Draw() => Draw(SamplesPerChain);

    /// <summary>Draws <paramref name="samplesPerChain"/> configurations from every chain (as <see cref="Draw()"/>), e.g. for a measurement with frozen parameters.</summary>
    public (Tensor Configurations, double Acceptance) Draw(int samplesPerChain)
    {
        if (samplesPerChain < 1) throw new ArgumentException($"samples per chain {samplesPerChain} is not allowed; it must be ≥ 1");
        // The parameters may have changed since the chains last evaluated ψ: start from their current |ψ|².
        Sampler.Reevaluate();
        var taken = new List<Tensor>();
        long accepted = 0, proposed = 0;
        for (int s = 0; s < samplesPerChain; s++)
        {
            for (int t = 0; t < StepsBetweenSamples; t++)
            {
                var a = Sampler.Step();
                accepted += a.Count(b => b);
                proposed += a.Length;
            }
            taken.Add(Sampler.State.clone());
        }
        return (cat(taken.ToArray(), 0), accepted / (double)proposed);
    }

    /// <inheritdoc/>
    public ObjectiveEvaluation Evaluate(Generator generator)
    {
        var (x, acceptance) = Draw();
        var local = hamiltonian.LocalValues(wavefunction, x);
        var stats = EnergyStatistics.Of(local, Sampler.Chains, SamplesPerChain);
        var diagnostics = new List<KeyValuePair<string, double>>
        {
            new("variance", stats.Variance), new("acceptance", acceptance), new("r_hat", stats.RHat),
        };
        var parameters = wavefunction.Parameters;
        if (!double.IsFinite(stats.Mean))
            return new ObjectiveEvaluation(parameters[0].sum().mul(0), stats.Mean, double.NaN, diagnostics);
        var logDerivatives = VariationalState.LogDerivatives(wavefunction, x);
        long n = local.shape[0];
        var centred = logDerivatives - logDerivatives.mean(new long[] { 0 }, keepdim: true);
        var deviations = local - stats.Mean;
        var force = centred.t().matmul(deviations).mul(2.0 / n);                  // F = ∂E/∂θ, [P]
        Tensor loss = zeros(Array.Empty<long>(), dtype: local.dtype, device: local.device);
        long offset = 0;
        foreach (var p in parameters)
        {
            long size = p.numel();
            loss = loss + (force.narrow(0, offset, size).reshape(p.shape).to(p.dtype) * p).sum();
            offset += size;
        }
        // The batch's geometry travels with the evaluation, for stochastic reconfiguration.
        return new ObjectiveEvaluation(loss, stats.Mean, stats.Error, diagnostics) { PerSampleJacobian = centred, PerSampleResiduals = deviations };
    }
}

/// <summary>Mean, standard error, variance and split-R̂ of local energies from several chains.</summary>
/// <param name="Mean">The energy estimate.</param>
/// <param name="Error">Standard error from the spread of the chains' means (independent chains), NaN with one chain.</param>
/// <param name="Variance">The variance of the local energy: zero for an eigenstate.</param>
/// <param name="RHat">Split-R̂ over the chains (NaN with fewer than 4 samples per chain).</param>
public sealed record EnergyStatistics(double Mean, double Error, double Variance, double RHat)
{
    /// <summary>The statistics of sample-major local energies [samples·chains] (see <see cref="VariationalEnergy.Draw()"/>).</summary>
    public static EnergyStatistics Of(Tensor local, int chains, int samplesPerChain)
    {
        var values = local.cpu().data<double>().ToArray();
        int n = values.Length;
        double mean = values.Average();
        double variance = values.Sum(v => (v - mean) * (v - mean)) / Math.Max(1, n - 1);
        var chainMeans = new double[chains];
        for (int s = 0; s < samplesPerChain; s++)
            for (int c = 0; c < chains; c++) chainMeans[c] += values[s * chains + c] / samplesPerChain;
        double error = chains < 2 ? double.NaN
            : Math.Sqrt(chainMeans.Sum(m => (m - mean) * (m - mean)) / (chains - 1) / chains);
        return new EnergyStatistics(mean, error, variance, SplitRHat(values, chains, samplesPerChain));
    }

    /// <summary>
    /// Gelman–Rubin R̂ with every chain split in halves (so that drift within a chain shows too):
    /// √(((n−1)/n W + B/n)/W) over the 2·chains half-chains of length n.
    /// </summary>
    public static double SplitRHat(double[] sampleMajor, int chains, int samplesPerChain)
    {
        int half = samplesPerChain / 2;
        if (half < 2) return double.NaN;
        var means = new List<double>();
        var variances = new List<double>();
        for (int c = 0; c < chains; c++)
            for (int h = 0; h < 2; h++)
            {
                var part = Enumerable.Range(h * half, half).Select(s => sampleMajor[s * chains + c]).ToArray();
                double m = part.Average();
                means.Add(m);
                variances.Add(part.Sum(v => (v - m) * (v - m)) / (half - 1));
            }
        double w = variances.Average();
        double grand = means.Average();
        double b = half * means.Sum(m => (m - grand) * (m - grand)) / (means.Count - 1);
        if (w == 0) return b == 0 ? 1 : double.PositiveInfinity;
        return Math.Sqrt(((half - 1.0) / half * w + b / half) / w);
    }
}

/// <summary>Keeps a sampler's chains, scale and generator in the trainer's checkpoints, so VMC resumes bit for bit.</summary>
public sealed class SamplerCheckpoint : ITrainingHook
{
    private readonly MetropolisHastings sampler;

    /// <summary>A hook for <paramref name="sampler"/>.</summary>
    public SamplerCheckpoint(MetropolisHastings sampler) => this.sampler = sampler;

    /// <inheritdoc/>
    public void Attach(Trainer trainer) { }

    /// <inheritdoc/>
    public IReadOnlyList<KeyValuePair<string, double>> AfterStep(Trainer trainer, TrainingRecord record) => Array.Empty<KeyValuePair<string, double>>();

    /// <inheritdoc/>
    public void Save(BinaryWriter writer) => sampler.Save(writer);

    /// <inheritdoc/>
    public void Load(BinaryReader reader, Trainer trainer) => sampler.Load(reader);
}
