namespace Hybrid.Analysis.O3

open System
open Hybrid.Analysis.Statistics
open Hybrid.Analysis.Correlators
open Hybrid.Analysis.Fitting

/// The gap read off the zero-momentum time correlator of one time step.
type TimeCorrelatorGap =
    { /// m = E₁ − E₀ at this time step (cosh fit; error by linear propagation of the block means, Γ-method).
      Gap: Estimate
      /// First and last time of the fit range (physical units).
      FitFrom: float
      FitTo: float
      /// Points in the fit and its χ²/dof with the block errors of each point (uncorrelated: the points are correlated,
      /// so this is a check of the form, not a goodness of fit).
      Points: int
      ChiSquaredPerDof: float
      /// Cosh effective masses (τ, m_eff(τ)) for plots, each with its error.
      EffectiveMass: (float * Estimate)[] }

/// One form of the time-step extrapolation m(a_t) = m + Σ_k b_k a_t^{p_k}.
type TimeStepFit =
    { Form: string
      Limit: Estimate
      Coefficients: float[]
      ChiSquared: float
      DegreesOfFreedom: int
      Basis: float -> float[] }

/// The reference's time-step extrapolation: every form tried, and the one the data accept (the theory's a_t² unless
/// its χ² says otherwise).
type TimeStepLimit =
    { Fits: TimeStepFit list
      Central: TimeStepFit }

/// Estimators of the rotor chain's Euclidean path integral (measured by Hybrid.O3.ClusterSampler): the gap from the
/// time correlator, its extrapolation a_t → 0, the energy, and the speed of light from second-moment correlation
/// lengths. Arrays in, estimates out: nothing here knows how the configurations were made.
module PathIntegral =

    /// The cosh fit of the mean of `blocks` (chain → block → lag, lag k at τ = k·a_t, k = 0 … N_t/2) over the times
    /// from `fitFrom` to T/2, thinned to at most `maxPoints` evenly spaced lags; the error propagates the fit through
    /// the block means of every chain (GammaMethod.derived, so correlations between lags and blocks are accounted
    /// for).
    /// Mean and standard error over every block of every chain of the correlator at each lag (chain → block → lag).
    let blockMeans (blocks: float[][][]) : (float * float)[] =
        let all = Array.concat blocks
        Array.init all.[0].Length (fun k ->
            let xs = all |> Array.map (fun b -> b.[k])
            let m = Array.average xs
            m, sqrt ((xs |> Array.sumBy (fun x -> (x - m) ** 2.0)) / float (xs.Length * (xs.Length - 1))))

    let private fitRange (extent: float) (timeStep: float) (blocks: float[][][]) (lags: int[]) =
        let observables = lags |> Array.map (fun k -> blocks |> Array.map (Array.map (fun (b: float[]) -> b.[k])))
        let summary = blockMeans blocks
        let means = lags |> Array.map (fun k -> fst summary.[k])
        let errors = lags |> Array.map (fun k -> snd summary.[k])
        let times = lags |> Array.map (fun k -> float k * timeStep)
        let f (means: float[]) = let m, _, _ = Correlator.coshFit extent times means errors in m
        let estimate = GammaMethod.derived f observables
        let _, _, chi2 = Correlator.coshFit extent times means errors
        estimate, chi2

    let private thin (first: int) (last: int) (maxPoints: int) =
        let count = last - first + 1
        if count <= maxPoints then [| first .. last |]
        else Array.init maxPoints (fun i -> first + int (Math.Round(float i * float (last - first) / float (maxPoints - 1)))) |> Array.distinct

    /// The gap at one time step. `startInMasses` sets the fit's first time to that many 1/m (m from a pilot fit over
    /// [T/6, T/2]), at most T/3: excited l = 1 states lie at least ~2m above in every regime of the chain (two spin
    /// waves in a small box, three particles in a large one), so 3/m leaves them below e⁻⁶ of the signal.
    let timeCorrelatorGap (extent: float) (timeStep: float) (startInMasses: float) (blocks: float[][][]) : TimeCorrelatorGap =
        let lagCount = blocks.[0].[0].Length
        let half = lagCount - 1
        let pilot, _ = fitRange extent timeStep blocks (thin (max 1 (half / 3)) half 24)
        let first = min (int (Math.Ceiling(startInMasses / pilot.Mean / timeStep))) (int (float half * 2.0 / 3.0)) |> max 1
        let lags = thin first half 24
        let gap, chi2 = fitRange extent timeStep blocks lags
        let effective =
            let step = max 1 (half / 40)
            [| for k in step .. step .. half - 1 ->
                   let observables = [| k - 1; k; k + 1 |] |> Array.map (fun j -> blocks |> Array.map (Array.map (fun (b: float[]) -> b.[j])))
                   let m (g: float[]) = let a = (g.[0] + g.[2]) / (2.0 * g.[1]) in if a >= 1.0 then Math.Acosh a / timeStep else nan
                   float k * timeStep, GammaMethod.derived m observables |]
        { Gap = gap; FitFrom = float lags.[0] * timeStep; FitTo = float lags.[lags.Length - 1] * timeStep; Points = lags.Length
          ChiSquaredPerDof = chi2 / float (max 1 (lags.Length - 2)); EffectiveMass = effective }

    /// The forms of the time-step dependence: a_t² (the transfer matrix is e^{−a_t H} to O(a_t³) per step, its
    /// spectrum right to O(a_t²)), a_t² + a_t⁴ with four or more spacings, and a_t alone as the alternative the data
    /// must reject.
    let private forms (count: int) : (string * (float -> float[])) list =
        [ yield "a_t²", (fun a -> [| 1.0; a * a |])
          if count >= 4 then yield "a_t² + a_t⁴", (fun a -> [| 1.0; a * a; a ** 4.0 |])
          yield "a_t", (fun a -> [| 1.0; a |]) ]

    /// Weighted linear least squares of m(a_t) in each form; the limit is the constant term with its error from the
    /// fit's covariance, scaled by √(χ²/dof) where that exceeds 1. Central: a_t² unless its χ² has a p-value below 1% and a_t² + a_t⁴ is available and accepted.
    let extrapolateTimeStep (points: (float * Estimate) list) : TimeStepLimit =
        if points.Length < 2 then invalidArg "points" "a time-step extrapolation needs two or more spacings"
        let xs = points |> List.map fst |> Array.ofList
        let ys = points |> List.map (fun (_, e) -> e.Mean) |> Array.ofList
        let es = points |> List.map (fun (_, e) -> e.Error) |> Array.ofList
        let fit (name, basis: float -> float[]) =
            let rows = xs |> Array.map basis
            let p = rows.[0].Length
            let a = MathNet.Numerics.LinearAlgebra.Matrix<float>.Build.DenseOfRowArrays(Array.map2 (fun r e -> r |> Array.map (fun v -> v / e)) rows es)
            let b = MathNet.Numerics.LinearAlgebra.Vector<float>.Build.DenseOfArray(Array.map2 (/) ys es)
            let covariance = (a.TransposeThisAndMultiply a).Inverse()
            let c = covariance * (a.TransposeThisAndMultiply b)
            let residual = a * c - b
            let chi2, dof = residual * residual, xs.Length - p
            // Where the points scatter more than their errors allow, the error is scaled by √(χ²/dof) (the Particle
            // Data Group's rule): a limit is never more certain than its points agree.
            let scale = if dof > 0 && chi2 > float dof then sqrt (chi2 / float dof) else 1.0
            { Form = name; Limit = Estimate.independent c.[0] (scale * sqrt covariance.[0, 0]) xs.Length; Coefficients = c.ToArray()
              ChiSquared = chi2; DegreesOfFreedom = dof; Basis = basis }
        let fits = forms xs.Length |> List.filter (fun (_, basis) -> (basis 1.0).Length < xs.Length || xs.Length = 2 && (basis 1.0).Length = 2) |> List.map fit
        let accepted (f: TimeStepFit) = f.DegreesOfFreedom = 0 || MathNet.Numerics.Distributions.ChiSquared.CDF(float f.DegreesOfFreedom, f.ChiSquared) < 0.99
        let quadratic = fits |> List.find (fun f -> f.Form = "a_t²")
        let central =
            if accepted quadratic then quadratic
            else fits |> List.tryFind (fun f -> f.Form = "a_t² + a_t⁴" && accepted f) |> Option.defaultValue quadratic
        { Fits = fits; Central = central }

    /// The energy estimator's mean per chain series (E₀ + O(a_t²)), Γ-method over the chains.
    let energy (series: float[][]) : Estimate = GammaMethod.analyze series

    /// Second-moment correlation lengths from χ(0), χ at the lowest spatial momentum and χ at the lowest frequency:
    /// ξ_x² = (χ(0)/χ(p) − 1)/p̂², p̂ = 2 sin(π/L) (lattice momentum of the spatial hop), and ξ_τ² = (χ(0)/χ(ω) − 1)/ω̂²,
    /// ω̂ = (2/a_t) sin(π/N_t). Returns (ξ_x in sites, ξ_τ in time units, c = ξ_x/ξ_τ), each a derived estimate over the
    /// per-sweep series of every chain.
    let correlationLengths (sites: int) (slices: int) (timeStep: float) (chi: float[][]) (chiSpatial: float[][]) (chiTemporal: float[][]) =
        let p = 2.0 * sin (Math.PI / float sites)
        let w = 2.0 / timeStep * sin (Math.PI / float slices)
        let xi (q: float) (c0: float) (cq: float) = sqrt (max 0.0 (c0 / cq - 1.0)) / q
        let observables = [| chi; chiSpatial; chiTemporal |]
        let xiX = GammaMethod.derived (fun m -> xi p m.[0] m.[1]) observables
        let xiT = GammaMethod.derived (fun m -> xi w m.[0] m.[2]) observables
        let c = GammaMethod.derived (fun m -> xi p m.[0] m.[1] / xi w m.[0] m.[2]) observables
        xiX, xiT, c
