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

    /// A Källén–Lehmann fit of an open-ended correlator: `states` states with log-normal priors on the ground energy,
    /// the gaps and the amplitudes (medians `groundMedian`, `gapMedian`, `amplitudeMedian`, log widths 1, 1, 2), the
    /// SVD cut `svdCut` (0: none). The energies are E₀, E₁, … with errors; the result also has gaps, amplitudes,
    /// the underlying fit and a warning when it is not to be trusted.
    static member Spectrum(times: float[], values: float[], covariance: float[,], states: int, groundMedian: float, gapMedian: float,
                           amplitudeMedian: float, svdCut: float) : SpectralFit =
        let priors = { Ground = LogNormal(groundMedian, 1.0); Gap = LogNormal(gapMedian, 1.0); Amplitude = LogNormal(amplitudeMedian, 2.0) }
        Spectral.fit OpenEnded times { Values = values; Covariance = covariance } states priors svdCut

    /// Energies −ln zₙ of equally spaced correlator values by the matrix-pencil method (no priors, no fit).
    static member MatrixPencil(values: float[], states: int) : float[] = Spectral.matrixPencil values states

    /// GEVP energies of a matrix of correlators: samples[s][l] is sample s's n × n correlator matrix at lag l (spacing
    /// `step`), `reference` the lag t₀. Plateau energies and effective energies with jackknife errors.
    static member Gevp(step: float, reference: int, samples: float[,][][]) : GevpResult = Spectral.gevp step reference samples
