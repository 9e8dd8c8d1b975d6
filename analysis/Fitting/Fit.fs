namespace Hybrid.Analysis.Fitting

open System
open System.Collections.Generic
open Hybrid.Analysis.Statistics

/// Fits for C# and other .NET languages: arrays, Func<> and read-only lists over the F# LeastSquares module (compiled
/// last, as Deedle's extension files are). F# code calls LeastSquares directly.
[<AbstractClass; Sealed>]
type Fit =

    /// Non-linear least squares with priors (Prior.Flat, Prior.NewGaussian(mean, width), Prior.NewLogNormal(median,
    /// logWidth)) for data with covariance `covariance`, Levenberg–Marquardt from `initialGuess` with default settings.
    static member LeastSquares(parameterNames: IReadOnlyList<string>, priors: IReadOnlyList<Prior>, predict: Func<float[], float[]>,
                      values: float[], covariance: float[,], initialGuess: float[]) : FitResult =
        let model = { ParameterNames = Seq.toArray parameterNames; Priors = Seq.toArray priors; Predict = predict.Invoke }
        LeastSquares.fit model { Values = values; Covariance = covariance } (LeastSquares.options initialGuess)

    /// The fitted parameters as named estimates, in order.
    static member Estimates(result: FitResult) : IReadOnlyList<KeyValuePair<string, Estimate>> =
        LeastSquares.estimates result |> List.map (fun (name, e) -> KeyValuePair(name, e)) |> ResizeArray :> IReadOnlyList<_>
