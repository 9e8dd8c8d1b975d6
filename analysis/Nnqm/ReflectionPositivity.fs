namespace Hybrid.Analysis.Nnqm

open System
open MathNet.Numerics.LinearAlgebra
open Hybrid.Analysis.Statistics

/// What the Gram-matrix test says of a process.
type ReflectionVerdict =
    /// The smallest eigenvalue is not significantly below zero: reflection positive within errors.
    | PositiveWithinErrors
    /// The smallest eigenvalue is below zero by more than the threshold in standard errors.
    | Violated

/// The Osterwalder–Schrader reflection-positivity test of one process.
type ReflectionPositivityTest =
    { /// Reflection times t_i ≥ 0 of the test functions.
      Times: float[]
      /// M_ij = ⟨F_i(x) Θ F_j(x)⟩ = ⟨f(x(t_i)) f(x(−t_j))⟩, symmetrised.
      Gram: float[,]
      /// Eigenvalues of Gram, smallest first.
      Eigenvalues: float[]
      /// The smallest eigenvalue with its bootstrap error over samples.
      MinEigenvalue: Estimate
      /// λ_min / error.
      Significance: float
      Verdict: ReflectionVerdict
      /// Stationarity: the largest |⟨g(x(t))⟩ − ⟨g(x(0))⟩| for g = f and f² over the window's times, in standard errors
      /// of the paired difference (about N(0, 1) per comparison for a stationary process).
      StationarityPull: float
      /// Time-reflection symmetry: the largest |⟨F_i ΘF_j⟩ − ⟨F_j ΘF_i⟩| over i &lt; j, in standard errors of the paired
      /// difference (about N(0, 1) per pair for a process symmetric under t → −t).
      ReflectionPull: float }

/// Reflection positivity (Osterwalder–Schrader) of a sampled Euclidean process, with its stationarity and time-reflection
/// symmetry as pulls: for test functions F_i of the process
/// at positive times and their time reflections ΘF_i, the Gram matrix M_ij = ⟨F_i ΘF_j⟩ must be positive
/// semi-definite; a process that passes is the Euclidean continuation of a quantum system with a positive Hilbert
/// space (the transfer matrix is e^{−tH} with H bounded below). The family here is one bounded function at several
/// times, F_i = f(x(t_i)) with f(x) = tanh(x/σ) and σ the process's standard deviation, so the test sees the process
/// beyond its two-point function. A Gaussian process with kernel e^{−t²/2} fails already on 2 × 2 minors:
/// K(0)K(2t) ≥ K(t)² is log-convexity, which e^{−t²/2} lacks.
module ReflectionPositivity =

    let private minEigenvalue (m: int) (entries: float[]) =
        let matrix = Matrix<float>.Build.Dense(m, m)
        let mutable k = 0
        for i in 0 .. m - 1 do
            for j in i .. m - 1 do
                matrix.[i, j] <- entries.[k]
                matrix.[j, i] <- entries.[k]
                k <- k + 1
        matrix.Evd(Symmetricity.Symmetric).EigenValues |> Seq.map (fun z -> z.Real) |> Seq.sort |> Array.ofSeq

    /// Tests the windows of a process: windows.[s] are the values of sample s at times (k − c)·τ, k = 0 … 2c, centred
    /// on the reflection plane at index c; the test functions sit at the offsets 0 … points − 1 from the centre
    /// (points ≤ c + 1). Samples must be independent: the error of λ_min is a bootstrap over them (`resamples`
    /// resamples drawn with `seed`). The verdict is Violated when λ_min is below −threshold standard errors.
    let test (tau: float) (points: int) (threshold: float) (seed: int) (resamples: int) (windows: float[][]) : ReflectionPositivityTest =
        if windows.Length < 2 then invalidArg "windows" (sprintf "%d samples is too few; give at least 2" windows.Length)
        let width = windows.[0].Length
        if width % 2 <> 1 then invalidArg "windows" (sprintf "windows of %d points have no centre; give 2c + 1 points" width)
        let centre = width / 2
        if points < 2 || points > centre + 1 then invalidArg "points" (sprintf "points %d is not allowed; it must lie in 2..%d for windows of %d points" points (centre + 1) width)
        if not (tau > 0.0) then invalidArg "tau" (sprintf "τ %g is not allowed; it must be > 0" tau)
        let n = windows.Length
        let mean = windows |> Array.averageBy (fun w -> w.[centre])
        let sigma = sqrt (windows |> Array.averageBy (fun w -> (w.[centre] - mean) ** 2.0))
        if not (sigma > 0.0) then invalidArg "windows" "the process has no spread at the reflection plane"
        let f (x: float) = tanh ((x - mean) / sigma)
        // One sample of every upper-triangle entry per window, symmetrised over the reflection: ½[F_i ΘF_j + F_j ΘF_i].
        let pairs = [| for i in 0 .. points - 1 do for j in i .. points - 1 -> i, j |]
        let samples =
            pairs |> Array.map (fun (i, j) ->
                windows |> Array.map (fun w ->
                    0.5 * (f w.[centre + i] * f w.[centre - j] + f w.[centre + j] * f w.[centre - i])))
        let means = samples |> Array.map Array.average
        let eigenvalues = minEigenvalue points means
        let lowest = Bootstrap.estimate seed resamples (fun m -> (minEigenvalue points m).[0]) samples
        let gram = Array2D.init points points (fun i j -> means.[Array.findIndex (fun p -> p = (min i j, max i j)) pairs])
        let significance = lowest.Mean / lowest.Error
        // Paired differences per sample: their mean over their standard error.
        let pull (differences: float[]) =
            let m = Array.average differences
            let sd = sqrt (Array.sumBy (fun d -> (d - m) ** 2.0) differences / float (n - 1))
            if sd > 0.0 then abs m / (sd / sqrt (float n)) else 0.0
        let stationarity =
            [ for k in 0 .. width - 1 do
                  if k <> centre then
                      yield pull (windows |> Array.map (fun w -> f w.[k] - f w.[centre]))
                      yield pull (windows |> Array.map (fun w -> f w.[k] ** 2.0 - f w.[centre] ** 2.0)) ]
            |> List.fold max 0.0
        let reflection =
            [ for i in 0 .. points - 1 do
                  for j in i + 1 .. points - 1 ->
                      pull (windows |> Array.map (fun w -> f w.[centre + i] * f w.[centre - j] - f w.[centre + j] * f w.[centre - i])) ]
            |> List.fold max 0.0
        { Times = Array.init points (fun i -> float i * tau)
          Gram = gram
          Eigenvalues = eigenvalues
          MinEigenvalue = lowest
          Significance = significance
          Verdict = if significance < -threshold then Violated else PositiveWithinErrors
          StationarityPull = stationarity
          ReflectionPull = reflection }

    /// Clustering: the connected correlation ⟨f(a) f(b)⟩ − ⟨f(a)⟩⟨f(b)⟩ of pairs (a, b) = (x(0), x(D)) at a large
    /// separation D, with f = tanh((x − x̄)/σ) as in `test` and a bootstrap error over the (independent) pairs. A process
    /// whose correlations die out (cluster decomposition, a unique vacuum) gives 0 within errors.
    let clustering (seed: int) (resamples: int) (pairs: (float * float)[]) : Estimate =
        if pairs.Length < 2 then invalidArg "pairs" (sprintf "%d pairs is too few; give at least 2" pairs.Length)
        let all = pairs |> Array.collect (fun (a, b) -> [| a; b |])
        let mean = Array.average all
        let sigma = sqrt (all |> Array.averageBy (fun x -> (x - mean) ** 2.0))
        if not (sigma > 0.0) then invalidArg "pairs" "the process has no spread"
        let f (x: float) = tanh ((x - mean) / sigma)
        let samples = [| pairs |> Array.map (fun (a, b) -> f a * f b); pairs |> Array.map (fst >> f); pairs |> Array.map (snd >> f) |]
        Bootstrap.estimate seed resamples (fun m -> m.[0] - m.[1] * m.[2]) samples

    /// The verdict in words.
    let describe (verdict: ReflectionVerdict) =
        match verdict with
        | PositiveWithinErrors -> "reflection positive within errors"
        | Violated -> "violates reflection positivity"
