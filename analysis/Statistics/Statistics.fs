namespace Hybrid.Analysis.Statistics

open System

/// The statistics for C# and other .NET languages: static methods over arrays and Func<>, one per function of the F#
/// modules (as Deedle's extension files do; compiled last, with Fitting's Fit). F# code calls the modules directly.
/// Data layouts: replicas[r][i] (chain r, measurement i); observables[α][r][i]; samples[α][i] (independent draws).
[<AbstractClass; Sealed>]
type Statistics =

    /// Γ-method analysis of one observable given as replicas (Wolff's S = 1.5).
    static member GammaMethod(replicas: float[][]) : Estimate = GammaMethod.analyze replicas

    /// Γ-method analysis with windowing factor `s`.
    static member GammaMethod(replicas: float[][], s: float) : Estimate = GammaMethod.analyzeWith s replicas

    /// Error of f(ā₁, …, āₙ) of observables measured on the same configurations (linear propagation, Γ-method).
    static member Derived(f: Func<float[], float>, observables: float[][][]) : Estimate =
        GammaMethod.derived f.Invoke observables

    /// Split-R̂ of replicas (≈ 1 when all chains sample the same distribution).
    static member SplitRHat(replicas: float[][]) : float = GammaMethod.splitRHat replicas

    /// Bootstrap of f(ā₁, …, āₙ) over independent samples, `resamples` resamples drawn from System.Random(seed).
    static member Bootstrap(f: Func<float[], float>, samples: float[][], seed: int, resamples: int) : Estimate =
        Bootstrap.estimate seed resamples f.Invoke samples

    /// Bootstrap of an arbitrary statistic of independent samples (it receives resampled data laid out like `samples`).
    static member BootstrapStatistic(statistic: Func<float[][], float>, samples: float[][], seed: int, resamples: int) : Estimate =
        Bootstrap.estimateStatistic seed resamples statistic.Invoke samples

    /// "mean(error)" with two significant digits of the error.
    static member Format(estimate: Estimate) : string = Estimate.format estimate
