namespace Hybrid.Analysis.Statistics

open System

/// Bootstrap errors for independently drawn samples (iid flow samples, network ensembles),
/// where there is no autocorrelation to account for. samples.[α].[i] is observable α on draw i;
/// every resample draws the same indices for all α, so correlations between observables (and
/// hence errors of ratios) are kept.
[<RequireQualifiedAccess>]
module Bootstrap =

    let private validate (resamples: int) (samples: float[][]) =
        if isNull samples || samples.Length = 0 || samples |> Array.exists isNull then
            invalidArg "samples" "At least one observable is needed."
        let n = samples.[0].Length
        if n = 0 then
            invalidArg "samples" "The bootstrap needs at least one sample."
        if samples |> Array.exists (fun s -> s.Length <> n) then
            invalidArg "samples" "All observables must have the same number of samples."
        if resamples < 2 then
            invalidArg "resamples" "A bootstrap error needs at least two resamples."
        n

    // The error is the standard deviation (n − 1 normalisation) of the statistic over
    // `resamples` draws of n indices with replacement; System.Random(seed) makes it reproducible.
    let private spread (seed: int) (resamples: int) (n: int) (statisticOfIndices: int[] -> float) =
        let random = Random(seed)
        let indices = Array.zeroCreate n
        let values =
            Array.init resamples (fun _ ->
                for i in 0 .. n - 1 do
                    indices.[i] <- random.Next n
                statisticOfIndices indices)
        let average = Array.average values
        sqrt ((values |> Array.sumBy (fun v -> (v - average) * (v - average))) / float (resamples - 1))

    /// Bootstrap estimate of f(ā_1, …, ā_n), a function of the means of the observables
    /// (the same kind of f as for GammaMethod.derived, e.g. fun m -> m.[0] / m.[1]).
    /// Mean = f(full-sample means), Error = standard deviation of f over `resamples` resamples
    /// drawn with System.Random(seed); TauInt = ½, Window = 0.
    let estimate (seed: int) (resamples: int) (f: float[] -> float) (samples: float[][]) : Estimate =
        let n = validate resamples samples
        let fullMeans = samples |> Array.map Array.average
        let meansOf (indices: int[]) =
            samples |> Array.map (fun s -> (indices |> Array.sumBy (fun i -> s.[i])) / float n)
        Estimate.independent (f fullMeans) (spread seed resamples n (meansOf >> f)) n

    /// Bootstrap estimate of an arbitrary statistic of the samples (a median, a log-sum-exp, …):
    /// `statistic` receives resampled data laid out like `samples` ([α].[i]).
    /// Mean = statistic(samples), Error = standard deviation over `resamples` resamples drawn
    /// with System.Random(seed); TauInt = ½, Window = 0.
    let estimateStatistic (seed: int) (resamples: int) (statistic: float[][] -> float) (samples: float[][]) : Estimate =
        let n = validate resamples samples
        let resampled (indices: int[]) = samples |> Array.map (fun s -> indices |> Array.map (fun i -> s.[i]))
        Estimate.independent (statistic samples) (spread seed resamples n (resampled >> statistic)) n
