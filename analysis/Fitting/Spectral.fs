namespace Hybrid.Analysis.Fitting

open System
open MathNet.Numerics.LinearAlgebra
open Hybrid.Analysis.Statistics

/// How a correlator wraps around the time direction.
type CorrelatorShape =
    /// C(t) = Σₙ Aₙ e^{−Eₙt}.
    | OpenEnded
    /// C(t) = Σₙ Aₙ (e^{−Eₙt} + e^{−Eₙ(T−t)}) on a periodic time extent T.
    | PeriodicIn of extent: float

/// Priors of a spectral fit, in the style of corrfitter: the lowest energy and every gap log-normal (so they stay
/// positive and ordered), the amplitudes log-normal (positive, as for a diagonal correlator) or Gaussian.
type SpectralPriors =
    { Ground: Prior
      Gap: Prior
      Amplitude: Prior }

/// A multi-exponential (Källén–Lehmann) fit: energies E₀ < E₁ < … from the ground energy and gaps, with errors
/// propagated through the parameter covariance.
type SpectralFit =
    { States: int
      /// E₀, E₁, … (E_n = E₀ + Σ_{k≤n} ΔE_k).
      Energies: Estimate[]
      /// ΔE₁, ΔE₂, … (E_n − E_{n−1}).
      Gaps: Estimate[]
      Amplitudes: Estimate[]
      Fit: FitResult
      /// Eigenvalues of the data's correlation matrix raised to the SVD cut (0 when none was).
      ModifiedEigenvalues: int
      /// Set when the fit is not to be trusted (not converged, poor χ², ill-conditioned covariance).
      Warning: string option }

/// The generalised eigenvalue problem of a matrix of correlators, with jackknife errors.
type GevpResult =
    { /// Time step between lags.
      Step: float
      /// Reference lag t₀ (index).
      Reference: int
      /// λₖ(t, t₀) at each lag (state k, lag l), largest first; λₖ(t₀) = 1.
      Principal: float[][]
      /// Eₖ(t) = ln[λₖ(t)/λₖ(t + Δt)]/Δt for lags t₀ + 1 … (state k, entry l − t₀ − 1).
      EffectiveEnergies: Estimate[][]
      /// The plateau of each state: the jackknifed mean of Eₖ(t) over its window.
      Energies: Estimate[]
      /// Each plateau's window of lags [first, last] (indices).
      Windows: (int * int)[] }

/// Källén–Lehmann spectral fits of Euclidean correlators: correlated multi-exponential fits with priors (energies
/// by gaps with log-normal priors, as corrfitter does), an SVD cut for ill-conditioned covariance matrices, the
/// number of states chosen by Akaike's criterion, and the prior-free matrix-pencil method as a cross-check.
[<RequireQualifiedAccess>]
module Spectral =

    /// Raises the small eigenvalues of the data's correlation matrix to `cut` × the largest (lsqfit's svdcut):
    /// an ill-conditioned covariance (few samples, strongly correlated times) would otherwise make χ² meaningless.
    /// Returns the regulated covariance and how many eigenvalues were raised.
    let regulate (cut: float) (covariance: float[,]) : float[,] * int =
        let n = Array2D.length1 covariance
        let sd = Array.init n (fun i -> sqrt covariance.[i, i])
        let correlation = Matrix<float>.Build.Dense(n, n, fun i j -> covariance.[i, j] / (sd.[i] * sd.[j]))
        let evd = correlation.Evd(Symmetricity.Symmetric)
        let values = evd.EigenValues |> Seq.map (fun z -> z.Real) |> Array.ofSeq
        let floor = cut * Array.max values
        let raised = values |> Array.filter (fun v -> v < floor) |> Array.length
        if raised = 0 then covariance, 0
        else
            let d = Matrix<float>.Build.DiagonalOfDiagonalArray(values |> Array.map (max floor))
            let c = evd.EigenVectors * d * evd.EigenVectors.Transpose()
            Array2D.init n n (fun i j -> c.[i, j] * sd.[i] * sd.[j]), raised

    /// The model with `states` states: parameters E₀, ΔE₁…, A₀, A₁….
    let model (shape: CorrelatorShape) (times: float[]) (states: int) (priors: SpectralPriors) : Model =
        let exponential (e: float) (t: float) =
            match shape with
            | OpenEnded -> exp (-e * t)
            | PeriodicIn extent -> exp (-e * t) + exp (-e * (extent - t))
        { ParameterNames = Array.append (Array.init states (fun n -> if n = 0 then "E0" else sprintf "dE%d" n)) (Array.init states (sprintf "A%d"))
          Priors = Array.append (Array.init states (fun n -> if n = 0 then priors.Ground else priors.Gap)) (Array.create states priors.Amplitude)
          Predict =
            fun p ->
                let energies = Array.scan (+) 0.0 p.[0 .. states - 1] |> Array.tail
                times |> Array.map (fun t -> Seq.init states (fun n -> p.[states + n] * exponential energies.[n] t) |> Seq.sum) }

    /// Fits `states` states to correlator data at `times`, after the SVD cut; never reports an unconverged fit as
    /// if it had converged (the warning says so, with χ²). Multi-exponential fits find their minimum reliably only
    /// from a good start, so the fit with n states starts from the fit with n − 1 (one state starts from the
    /// effective mass at the first two times), the new state at the prior's gap with a tenth of the last amplitude.
    let rec fit (shape: CorrelatorShape) (times: float[]) (data: FitData) (states: int) (priors: SpectralPriors) (svdCut: float) : SpectralFit =
        if states < 1 then invalidArg "states" (sprintf "states %d is not allowed; it must be ≥ 1" states)
        if times.Length < 2 then invalidArg "times" (sprintf "%d data points is too few for a fit; give at least 2" times.Length)
        if times.Length <> data.Values.Length then invalidArg "times" (sprintf "%d times for %d values" times.Length data.Values.Length)
        if 2 * states > times.Length then
            invalidArg "states" (sprintf "%d states (%d parameters) is more than the %d data points allow; use at most %d states" states (2 * states) times.Length (times.Length / 2))
        let covariance, raised = if svdCut > 0.0 then regulate svdCut data.Covariance else data.Covariance, 0
        let m = model shape times states priors
        let median prior fallback = match prior with LogNormal(median, _) -> median | Gaussian(mean, _) when mean > 0.0 -> mean | _ -> fallback
        let guess =
            if states = 1 then
                let mass = if data.Values.[0] > 0.0 && data.Values.[1] > 0.0 then log (data.Values.[0] / data.Values.[1]) / (times.[1] - times.[0]) else nan
                let e0 = if mass > 0.0 && Double.IsFinite mass then mass else median priors.Ground 0.5
                let exponential = match shape with OpenEnded -> exp (-e0 * times.[0]) | PeriodicIn extent -> exp (-e0 * times.[0]) + exp (-e0 * (extent - times.[0]))
                [| e0; max 1e-12 (abs data.Values.[0] / exponential) |]
            else
                let previous = fit shape times data (states - 1) priors svdCut
                let p = previous.Fit.Parameters
                let energies, amplitudes = p.[0 .. states - 2], p.[states - 1 ..]
                Array.concat [ energies; [| median priors.Gap 0.5 |]; amplitudes; [| max 1e-12 (abs (Array.last amplitudes) / 10.0) |] ]
        let result = LeastSquares.fit m { data with Covariance = covariance } { LeastSquares.options guess with MaxIterations = 1000 }
        let estimate (mean: float) (variance: float) = Estimate.independent mean (sqrt (max 0.0 variance)) result.DataPoints
        let energies =
            Array.init states (fun n ->
                let mean = Array.sum result.Parameters.[0 .. n]
                let variance = Seq.sum (seq { for i in 0 .. n do for j in 0 .. n -> result.Covariance.[i, j] })
                estimate mean variance)
        let warning =
            if not result.Converged then
                Some(sprintf "the fit did not converge in %d iterations (χ² = %.3g): try fewer states, better priors or a later first time" result.Iterations result.ChiSquared)
            elif result.DegreesOfFreedom > 0 && result.PValue < 0.01 then
                Some(sprintf "poor fit: χ²/dof = %.2f (p = %.2g); the model or the errors are wrong for these data" result.ChiSquaredPerDof result.PValue)
            elif raised > 0 then
                Some(sprintf "the covariance was ill-conditioned: %d of %d eigenvalues of its correlation matrix were raised to the SVD cut %g" raised times.Length svdCut)
            else None
        { States = states
          Energies = energies
          Gaps = Array.init (states - 1) (fun n -> estimate result.Parameters.[n + 1] result.Covariance.[n + 1, n + 1])
          Amplitudes = Array.init states (fun n -> estimate result.Parameters.[states + n] result.Covariance.[states + n, states + n])
          Fit = result
          ModifiedEigenvalues = raised
          Warning = warning }

    /// Fits 1 … `maxStates` states and returns all fits and the one with the lowest AIC among the converged ones.
    let select (shape: CorrelatorShape) (times: float[]) (data: FitData) (maxStates: int) (priors: SpectralPriors) (svdCut: float) =
        let fits = [ for s in 1 .. min maxStates (times.Length / 2) -> fit shape times data s priors svdCut ]
        let converged = fits |> List.filter (fun f -> f.Fit.Converged)
        let best = (if converged.IsEmpty then fits else converged) |> List.minBy (fun f -> f.Fit.Aic)
        fits, best

    /// Chooses the number of states and the first time of the fit range together: every fit with 1 … `maxStates` states
    /// on the data from times.[first] on, for first = 0 … `maxFirst`, scored by AIC with the cut points counted,
    /// χ² + 2k + 2·first (Jay and Neil, arXiv:2008.01069: cutting a point must cost what fitting it would), so fits on
    /// different ranges compare fairly. Returns the first index and the fit with the lowest score among the converged.
    let selectRange (shape: CorrelatorShape) (times: float[]) (data: FitData) (maxStates: int) (maxFirst: int) (priors: SpectralPriors) (svdCut: float) =
        if maxFirst < 0 || maxFirst > times.Length - 2 then invalidArg "maxFirst" (sprintf "maxFirst %d is not allowed for %d times; it must lie in 0..%d" maxFirst times.Length (times.Length - 2))
        let candidates =
            [ for first in 0 .. maxFirst do
                  let n = times.Length - first
                  let sub = { Values = data.Values.[first..]; Covariance = Array2D.init n n (fun i j -> data.Covariance.[first + i, first + j]) }
                  for states in 1 .. min maxStates (n / 2) ->
                      let f = fit shape times.[first..] sub states priors svdCut
                      first, f, f.Fit.ChiSquared + 2.0 * float (2 * states) + 2.0 * float first ]
        let converged = candidates |> List.filter (fun (_, f, _) -> f.Fit.Converged)
        let first, best, _ = (if converged.IsEmpty then candidates else converged) |> List.minBy (fun (_, _, score) -> score)
        first, best

    /// The matrix-pencil method on equally spaced values c(t₀), c(t₀ + 1), …: the `states` largest generalised
    /// eigenvalues zₙ = e^{−Eₙ} of the Hankel pencil (Y₁ − z Y₀), so Eₙ = −ln zₙ, with no priors and no fit. The
    /// pencil is reduced to its leading `states` singular directions to keep noise out.
    let matrixPencil (values: float[]) (states: int) : float[] =
        let n = values.Length
        let rows = n / 2
        if states < 1 || states >= rows then invalidArg "states" (sprintf "states %d is not allowed for %d values; it must lie in 1..%d" states n (rows - 1))
        let columns = n - rows
        let y0 = Matrix<float>.Build.Dense(rows, columns - 1, fun i j -> values.[i + j])
        let y1 = Matrix<float>.Build.Dense(rows, columns - 1, fun i j -> values.[i + j + 1])
        let svd = y0.Svd(true)
        let u = svd.U.SubMatrix(0, rows, 0, states)
        let v = svd.VT.Transpose().SubMatrix(0, columns - 1, 0, states)
        let s = Matrix<float>.Build.DiagonalOfDiagonalArray(svd.S.SubVector(0, states).ToArray() |> Array.map (fun x -> 1.0 / x))
        let reduced = s * u.Transpose() * y1 * v
        reduced.Evd().EigenValues
        |> Seq.map (fun z -> z.Real)
        |> Seq.filter (fun z -> z > 0.0 && z < 1.0)
        |> Seq.map (fun z -> -log z)
        |> Seq.sort
        |> Array.ofSeq

    /// The principal correlators of mean correlator matrices c.[l] (n × n, symmetric, lag l): the eigenvalues of
    /// C(t₀)^{−1/2} C(t) C(t₀)^{−1/2}, largest first at each lag. For a matrix of n operators they fall as
    /// e^{−Eₖ(t − t₀)} up to corrections from states above the n-th (Lüscher–Wolff; Blossier et al.).
    let principalCorrelators (reference: int) (c: float[,][]) : float[][] =
        let n = Array2D.length1 c.[0]
        let matrix (a: float[,]) = Matrix<float>.Build.Dense(n, n, fun i j -> 0.5 * (a.[i, j] + a.[j, i]))
        let evd0 = (matrix c.[reference]).Evd(Symmetricity.Symmetric)
        let values0 = evd0.EigenValues |> Seq.map (fun z -> z.Real) |> Array.ofSeq
        if values0 |> Array.exists (fun v -> not (v > 0.0)) then
            invalidArg "c" (sprintf "C(t₀) at lag %d is not positive definite (eigenvalues %s); the operators are linearly dependent or t₀ is too late" reference (values0 |> Array.map (sprintf "%.3g") |> String.concat ", "))
        let invRoot = evd0.EigenVectors * Matrix<float>.Build.DiagonalOfDiagonalArray(values0 |> Array.map (fun v -> 1.0 / sqrt v)) * evd0.EigenVectors.Transpose()
        let perLag = c |> Array.map (fun a -> (invRoot * matrix a * invRoot).Evd(Symmetricity.Symmetric).EigenValues |> Seq.map (fun z -> z.Real) |> Seq.sortDescending |> Array.ofSeq)
        Array.init n (fun k -> perLag |> Array.map (fun v -> v.[k]))

    /// GEVP energies from per-sample correlator matrices samples.[s].[l] (n × n at lag l, spacing `step`), reference
    /// lag t₀ = `reference`: principal correlators of the mean, effective energies, and per state a plateau over the
    /// lags from t₀ + 1 while the principal correlator stays positive and determined to 20% (at most 10 lags), all
    /// with errors from a delete-one-block jackknife over at most 50 blocks of samples. A prior-free cross-check of a
    /// Källén–Lehmann fit.
    let gevp (step: float) (reference: int) (samples: float[,][][]) : GevpResult =
        if samples.Length < 4 then invalidArg "samples" (sprintf "%d samples is too few for a jackknife; give at least 4" samples.Length)
        let lags = samples.[0].Length
        if reference < 0 || reference > lags - 3 then invalidArg "reference" (sprintf "reference lag %d is not allowed; it must lie in 0..%d for %d lags" reference (lags - 3) lags)
        if not (step > 0.0) then invalidArg "step" (sprintf "step %g is not allowed; it must be > 0" step)
        let n = Array2D.length1 samples.[0].[0]
        let blocks = min 50 samples.Length
        let blockOf s = s * blocks / samples.Length
        let sums = Array.init blocks (fun _ -> Array.init lags (fun _ -> Array2D.zeroCreate n n))
        let counts = Array.zeroCreate blocks
        samples |> Array.iteri (fun s m ->
            let b = blockOf s
            counts.[b] <- counts.[b] + 1
            for l in 0 .. lags - 1 do
                for i in 0 .. n - 1 do
                    for j in 0 .. n - 1 do sums.[b].[l].[i, j] <- sums.[b].[l].[i, j] + m.[l].[i, j])
        let total = Array.init lags (fun l -> Array2D.init n n (fun i j -> Seq.sum (seq { for b in 0 .. blocks - 1 -> sums.[b].[l].[i, j] })))
        let meanWithout (drop: int option) =
            let count = float (samples.Length - (match drop with Some b -> counts.[b] | None -> 0))
            Array.init lags (fun l -> Array2D.init n n (fun i j -> (total.[l].[i, j] - (match drop with Some b -> sums.[b].[l].[i, j] | None -> 0.0)) / count))
        let effective (principal: float[][]) = principal |> Array.map (fun p -> Array.init (lags - reference - 2) (fun e -> let l = reference + 1 + e in log (p.[l] / p.[l + 1]) / step))
        let full = principalCorrelators reference (meanWithout None)
        let replicas = Array.init blocks (fun b -> principalCorrelators reference (meanWithout (Some b)))
        let jackknife (value: float) (replicaValues: float[]) = Jackknife.estimate value replicaValues samples.Length
        let principalError k l = (jackknife full.[k].[l] (replicas |> Array.map (fun r -> r.[k].[l]))).Error
        let fullEffective = effective full
        let replicaEffective = replicas |> Array.map effective
        let effectiveEstimates =
            Array.init n (fun k -> Array.init fullEffective.[k].Length (fun e -> jackknife fullEffective.[k].[e] (replicaEffective |> Array.map (fun r -> r.[k].[e]))))
        let windows =
            Array.init n (fun k ->
                let first = reference + 1
                let good l = full.[k].[l] > 0.0 && principalError k l < 0.2 * full.[k].[l]
                let mutable last = first
                while last + 1 < lags - 1 && last - first < 9 && good (last + 1) && good (last + 2) do last <- last + 1
                first, last)
        let plateau (values: float[][]) k = let first, last = windows.[k] in Array.average values.[k].[first - reference - 1 .. last - reference - 1]
        let energies =
            Array.init n (fun k -> jackknife (plateau fullEffective k) (replicaEffective |> Array.map (fun r -> plateau r k)))
        { Step = step; Reference = reference; Principal = full; EffectiveEnergies = effectiveEstimates; Energies = energies; Windows = windows }
