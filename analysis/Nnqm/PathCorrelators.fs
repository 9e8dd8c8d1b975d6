namespace Hybrid.Analysis.Nnqm

open System
open Hybrid.Analysis.Statistics
open Hybrid.Analysis.Correlators
open Hybrid.Analysis.Fitting

/// The quantum mechanics read off sampled Euclidean paths y(t) of a stationary process with ⟨y⟩ = 0: the two-point
/// function and its Källén–Lehmann spectrum (gaps ΔEₙ and weights |⟨0|y|n⟩|²), the GEVP's operator matrices, the
/// kink of the two-point function at t = 0 (the canonical commutator), the uncertainty product Δx Δp over the fitted
/// states and the connected four-point function. The home of these estimators for every NN-QM experiment (a process
/// sampled from a network, an oscillator's ground-state diffusion, a trained model's paths): the experiments sample,
/// these measure.
///
/// Paths come as one row-major array [paths × steps] of spacing dt, one row per independent path; every estimator
/// averages each path over its time origins first, so one path is one independent sample for the errors.
[<RequireQualifiedAccess>]
module PathCorrelators =

    /// The kink −[G′(0⁺) − G′(0⁻)] from the paths' increments: K(Δ) = ⟨(y_{t+Δ} − y_t)²⟩/Δ = 2[G(0) − G(Δ)]/Δ tends to
    /// the kink as Δ → 0 with corrections in Δ and Δ²; K(Δt), K(2Δt), K(3Δt) extrapolate to Δ = 0 as
    /// 3K(Δt) − 3K(2Δt) + K(3Δt), leaving O(Δt³). The kink is 2 Σₙ ΔEₙ |⟨0|y|n⟩|², = 1 for a canonical position
    /// ([x, p] = i, the Thomas–Reiche–Kuhn sum rule). One value per path, so the error is the spread over paths.
    let kink (values: float[]) (paths: int) (steps: int) (dt: float) =
        let perPath =
            Array.init paths (fun p ->
                let row = values.[p * steps .. (p + 1) * steps - 1]
                let increments k =
                    let mutable sum = 0.0
                    for s in 0 .. steps - 1 - k do sum <- sum + (row.[s + k] - row.[s]) ** 2.0
                    sum / float (steps - k) / (float k * dt)
                3.0 * increments 1 - 3.0 * increments 2 + increments 3)
        let mean = Array.average perPath
        Estimate.independent mean (sqrt (Array.sumBy (fun v -> (v - mean) ** 2.0) perPath / float (paths - 1) / float paths)) paths

    /// Per path, the 3 × 3 correlator matrix of O = y, y³, y⁵ at lags 0 … lags − 1, averaged over time origins and
    /// symmetrised: one independent sample per path for the GEVP's jackknife (`Spectral.gevp`). Three odd operators
    /// keep the two lowest odd states clear of the fourth (corrections e^{−(E₇ − E₃)t} for erf(a u) instead of
    /// e^{−(E₅ − E₃)t} with two).
    let operatorMatrices (values: float[]) (paths: int) (steps: int) (lags: int) : float[,][][] =
        Array.init paths (fun p ->
            let y = values.[p * steps .. (p + 1) * steps - 1]
            let o = [| y; y |> Array.map (fun v -> v * v * v); y |> Array.map (fun v -> v ** 5.0) |]
            Array.init lags (fun lag ->
                Array2D.init 3 3 (fun i j ->
                    let mutable sum = 0.0
                    for s in 0 .. steps - 1 - lag do sum <- sum + o.[i].[s + lag] * o.[j].[s] + o.[j].[s + lag] * o.[i].[s]
                    0.5 * sum / float (steps - lag))))

    /// The two-point function of stationary paths at lags dt … lags·dt, one sample per path averaged over time origins
    /// (independent samples for the mean and its covariance), and the Källén–Lehmann priors for it. The priors come
    /// from the data, never from an exact answer: the lowest gap and its weight centred on the effective mass at the
    /// first two lags, excited gaps on twice that, each a factor e either way (log-normal width 1). Returns the times,
    /// the data and the priors; throws when the correlator does not fall between the first two lags.
    let fitPaths (values: float[]) (paths: int) (steps: int) (dt: float) (lags: int) =
        let perPath =
            Array.init paths (fun p ->
                (Correlator.pathAutocorrelation values.[p * steps .. (p + 1) * steps - 1] (lags + 1)).[1..])
        let data = LeastSquares.ofSamples perPath
        let times = Array.init lags (fun l -> float (l + 1) * dt)
        let mass = log (data.Values.[0] / data.Values.[1]) / dt
        if not (mass > 0.0 && Double.IsFinite mass) then
            raise (InvalidOperationException(sprintf "the correlator does not fall between the first two lags (effective mass %g); use more paths or a larger Δt" mass))
        let amplitude = data.Values.[0] * exp (mass * times.[0])
        let priors = { Ground = LogNormal(mass, 1.0); Gap = LogNormal(2.0 * mass, 1.0); Amplitude = LogNormal(amplitude, 2.0) }
        times, data, priors

    /// `fitPaths` then the Källén–Lehmann fit G(t) = Σₙ Aₙ e^{−ΔEₙ t}: `states` states from the first lag, or with
    /// `select` the states (1 … `states`) and the first lag (among the first third) of the lowest AIC with cut points
    /// counted (`Spectral.selectRange`). Returns the fitted times, their data and the fit.
    let fitSpectrum (values: float[]) (paths: int) (steps: int) (dt: float) (lags: int) (states: int) (select: bool) =
        let times, data, priors = fitPaths values paths steps dt lags
        if select then
            let first, fit = Spectral.selectRange OpenEnded times data states (lags / 3) priors 1e-8
            let n = times.Length - first
            times.[first..], { Values = data.Values.[first..]; Covariance = Array2D.init n n (fun i j -> data.Covariance.[first + i, first + j]) }, fit
        else times, data, Spectral.fit OpenEnded times data states priors 1e-8

    /// Δx Δp = √(Σ Aₙ · Σ ΔEₙ² Aₙ) over the states of a spectral fit (⟨0|p|n⟩ = i ΔEₙ ⟨0|x|n⟩), with its error from
    /// the fit's covariance by linear propagation: ½ for the harmonic oscillator's ground state (minimal uncertainty).
    /// States beyond those fitted are missing from it.
    let uncertaintyProduct (fit: SpectralFit) =
        let n = fit.States
        let p = fit.Fit.Parameters
        let energies = Array.scan (+) 0.0 p.[0 .. n - 1] |> Array.tail
        let amplitudes = p.[n .. 2 * n - 1]
        let dx2 = Array.sum amplitudes
        let dp2 = Array.sum (Array.map2 (fun e a -> e * e * a) energies amplitudes)
        let product = sqrt (dx2 * dp2)
        // E_n = Σ_{k≤n} p_k, so ∂/∂p_k of Σ_n E_n² A_n is Σ_{n≥k} 2 E_n A_n.
        let gradient =
            Array.append (Array.init n (fun k -> product / (2.0 * dp2) * Seq.sum (seq { for m in k .. n - 1 -> 2.0 * energies.[m] * amplitudes.[m] })))
                (Array.init n (fun m -> product / 2.0 * (1.0 / dx2 + energies.[m] ** 2.0 / dp2)))
        let mutable variance = 0.0
        for i in 0 .. 2 * n - 1 do
            for j in 0 .. 2 * n - 1 do variance <- variance + gradient.[i] * fit.Fit.Covariance.[i, j] * gradient.[j]
        Estimate.independent product (sqrt (max variance 0.0)) fit.Fit.DataPoints

    /// The connected four-point function G₄c(0, τ, 2τ, 3τ) = G₄ − G₂(τ)² − G₂(2τ)² − G₂(3τ)G₂(τ) of stationary paths
    /// with ⟨y⟩ = 0, τ = lag·Δt, from per-path time averages, with a bootstrap error over paths (200 resamples from
    /// `seed`): zero for a Gaussian process (Wick), so it measures the interaction a two-point fit cannot see.
    let connectedFourPoint (values: float[]) (paths: int) (steps: int) (lag: int) (seed: int) =
        let perPath =
            Array.init paths (fun p ->
                let y = values.[p * steps .. (p + 1) * steps - 1]
                let origins = steps - 3 * lag
                let mutable g4 = 0.0
                for s in 0 .. origins - 1 do g4 <- g4 + y.[s] * y.[s + lag] * y.[s + 2 * lag] * y.[s + 3 * lag]
                let g2 = Correlator.pathAutocorrelation y (3 * lag + 1)
                [| g4 / float origins; g2.[lag]; g2.[2 * lag]; g2.[3 * lag] |])
        Bootstrap.estimate seed 200 (fun m -> m.[0] - m.[1] * m.[1] - m.[2] * m.[2] - m.[3] * m.[1]) (Array.init 4 (fun k -> perPath |> Array.map (fun v -> v.[k])))
