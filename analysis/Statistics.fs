namespace Hybrid.Analysis

open System
open System.Collections.Generic
open Hybrid.Analysis.Fitting

/// The analysis for C# and other .NET languages: static methods over arrays, Func<> and read-only lists, one per
/// function of the F# modules (as Deedle's extension files do; compiled last). F# code calls the modules directly.
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

    /// Non-linear least squares with priors (Prior.Flat, Prior.NewGaussian(mean, width), Prior.NewLogNormal(median,
    /// logWidth)) for data with covariance `covariance`, Levenberg–Marquardt from `initialGuess` with default settings.
    static member Fit(parameterNames: IReadOnlyList<string>, priors: IReadOnlyList<Prior>, predict: Func<float[], float[]>,
                      values: float[], covariance: float[,], initialGuess: float[]) : FitResult =
        let model = { ParameterNames = Seq.toArray parameterNames; Priors = Seq.toArray priors; Predict = predict.Invoke }
        LeastSquares.fit model { Values = values; Covariance = covariance } (LeastSquares.options initialGuess)

    /// The fitted parameters as named estimates, in order.
    static member Estimates(result: FitResult) : IReadOnlyList<KeyValuePair<string, Estimate>> =
        LeastSquares.estimates result |> List.map (fun (name, e) -> KeyValuePair(name, e)) |> ResizeArray :> IReadOnlyList<_>
