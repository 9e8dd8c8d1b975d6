namespace Hybrid.Sampling;

/// <summary>
/// Importance sampling of a target p ∝ e^{−S} with samples drawn from any q (a flow, an undeformed network
/// ensemble, …): effective sample size, variational and reweighted free energies from the log-weights
/// log w = −S − log q (docs/phi4.md).
/// </summary>
public static class ImportanceWeights
{
    /// <summary>log Σ_i e^{x_i}, stable for large |x|.</summary>
    public static double LogSumExp(ReadOnlySpan<double> x)
    {
        double max = double.NegativeInfinity;
        foreach (var v in x) if (v > max) max = v;
        if (double.IsNegativeInfinity(max) || double.IsNaN(max)) return max;
        double sum = 0;
        foreach (var v in x) sum += Math.Exp(v - max);
        return max + Math.Log(sum);
    }

    /// <summary>Effective sample size per sample, ESS/N = exp(2·LSE(log w) − LSE(2 log w)) / N ∈ (0, 1].</summary>
    public static double EffectiveSampleSizeFraction(ReadOnlySpan<double> logWeights)
    {
        if (logWeights.Length == 0) throw new ArgumentException("no log-weights given");
        var twice = new double[logWeights.Length];
        for (int i = 0; i < twice.Length; i++) twice[i] = 2 * logWeights[i];
        return Math.Exp(2 * LogSumExp(logWeights) - LogSumExp(twice)) / logWeights.Length;
    }

    /// <summary>
    /// Variational free energy F_q = E_q[S + log q] = −E_q[log w] with its standard error. F_q ≥ F = −ln Z,
    /// with equality only if q = p; the reverse-KL loss is F_q and omits ln Z, so it can be negative.
    /// </summary>
    public static (double Mean, double Error) VariationalFreeEnergy(ReadOnlySpan<double> logWeights)
    {
        int n = logWeights.Length;
        if (n < 2) throw new ArgumentException("at least two log-weights are needed for an error");
        double mean = 0;
        foreach (var v in logWeights) mean -= v;
        mean /= n;
        double ss = 0;
        foreach (var v in logWeights) ss += (-v - mean) * (-v - mean);
        return (mean, Math.Sqrt(ss / (n - 1) / n));
    }

    /// <summary>Importance-sampling estimate of the free energy, F̂ = −ln[(1/N) Σ w] (biased low at small ESS).</summary>
    public static double ReweightedFreeEnergy(ReadOnlySpan<double> logWeights) =>
        -(LogSumExp(logWeights) - Math.Log(logWeights.Length));
}
