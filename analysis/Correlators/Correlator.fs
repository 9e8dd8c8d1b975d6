namespace Hybrid.Analysis.Correlators

open System
open System.Numerics
open MathNet.Numerics.IntegralTransforms
open Hybrid.Analysis.Statistics

/// How the time direction of a correlator closes.
type Boundary =
    /// Periodic time of extent L (a lattice): G(t) ~ cosh(m(t − L/2)), cosh effective mass.
    | Periodic
    /// Open time (a path on [0, T], or ⟨x(t)x(0)⟩ for t ≥ 0): G(t) ~ Σ_n c_n e^{−E_n t}, log-ratio effective mass.
    | Open

/// Zero-momentum correlators G_c(t) of a periodic lattice of time extent L, their cosh effective
/// mass and the correlation length; the `…With Open` variants treat correlators of open time. Measurements are given as slices.[t].[r].[i]: time slice
/// t = 0 .. L−1, replica r, sample i (the full periodic range, not folded).
[<RequireQualifiedAccess>]
module Correlator =

    // m_p(t) = arccosh[(G(t−1) + G(t+1)) / (2 G(t))]; NaN where the argument is below 1 (no real
    // mass: the correlator is not convex there, usually noise).
    let private coshMass (previous: float) (current: float) (next: float) =
        let argument = (previous + next) / (2.0 * current)
        if argument >= 1.0 then Math.Acosh argument else nan

    /// Cosh effective mass of a periodic correlator g.[t], t = 0 .. L−1. The result is indexed
    /// by t like g (length L): m_p(t) = arccosh[(G(t−1) + G(t+1))/(2G(t))] for t = 1 .. L−2;
    /// entries t = 0 and t = L−1, and those where the argument is below 1, are NaN.
    /// For G(t) = cosh(m(t − L/2)) it is m at every t = 1 .. L−2.
    let effectiveMass (g: float[]) : float[] =
        Array.init g.Length (fun t ->
            if t = 0 || t = g.Length - 1 then nan else coshMass g.[t - 1] g.[t] g.[t + 1])

    // m(t) = ln[G(t)/G(t+1)]; NaN where the ratio is not positive (no decaying exponential there).
    let private logRatioMass (current: float) (next: float) =
        let ratio = current / next
        if ratio > 0.0 then log ratio else nan

    /// Effective mass of g.[t] for either boundary: the cosh mass for Periodic (as `effectiveMass`), and
    /// m(t) = ln[G(t)/G(t+1)] for Open, defined for t = 0 .. T−2 (the last entry is NaN). For G(t) = e^{−mt} it is m.
    let effectiveMassWith (boundary: Boundary) (g: float[]) : float[] =
        match boundary with
        | Periodic -> effectiveMass g
        | Open -> Array.init g.Length (fun t -> if t = g.Length - 1 then nan else logRatioMass g.[t] g.[t + 1])

    /// Weighted least-squares fit of G(τ) = A·[e^{−mτ} + e^{−m(T−τ)}] (one state on a periodic time of extent T) to
    /// values at `times` with `errors`: returns (m, A, χ²). For fixed m the amplitude is linear, so χ²(m) is scanned on
    /// a grid of ln m around the log-slope of the data and refined by golden sections; the result is the global
    /// minimum over that bracket (m/8 … 8m), not a local one.
    let coshFit (extent: float) (times: float[]) (values: float[]) (errors: float[]) : float * float * float =
        if times.Length < 2 || values.Length <> times.Length || errors.Length <> times.Length then
            invalidArg "times" "a cosh fit needs at least two points with one value and one error each"
        let weights = errors |> Array.map (fun e -> 1.0 / (e * e))
        let shape m t = exp (-m * t) + exp (-m * (extent - t))
        let solve m =
            let mutable fy, ff = 0.0, 0.0
            for i in 0 .. times.Length - 1 do
                let f = shape m times.[i]
                fy <- fy + weights.[i] * f * values.[i]
                ff <- ff + weights.[i] * f * f
            let a = fy / ff
            let mutable chi2 = 0.0
            for i in 0 .. times.Length - 1 do
                let r = values.[i] - a * shape m times.[i]
                chi2 <- chi2 + weights.[i] * r * r
            a, chi2
        let last = times.Length - 1
        let slope = log (abs (values.[0] / values.[last])) / (times.[last] - times.[0])
        let guess = if Double.IsFinite slope && slope > 0.0 then slope else 1.0 / extent
        let lo, hi = log (guess / 8.0), log (guess * 8.0)
        let grid = 160
        let at k = lo + (hi - lo) * float k / float grid
        let best = [| 0 .. grid |] |> Array.minBy (fun k -> snd (solve (exp (at k))))
        let mutable a, b = at (max 0 (best - 1)), at (min grid (best + 1))
        let golden = (sqrt 5.0 - 1.0) / 2.0
        for _ in 1 .. 80 do
            let c, d = b - golden * (b - a), a + golden * (b - a)
            if snd (solve (exp c)) < snd (solve (exp d)) then b <- d else a <- c
        let m = exp ((a + b) / 2.0)
        let amplitude, chi2 = solve m
        m, amplitude, chi2

    /// Default plateau window [t1, t2] for time extent L: t1 = max(1, L/4), t2 = max(t1, L/2 − 1)
    /// (integer division). It starts a quarter of the lattice in, where excited states have
    /// decayed for ξ ≲ L/4, and ends before the midpoint, where the cosh turns over and
    /// m_p(t) loses its signal.
    let defaultPlateau (extent: int) : int * int =
        let t1 = max 1 (extent / 4)
        t1, max t1 (extent / 2 - 1)

    /// Γ-method estimates of G_c(t) for every time slice.
    let timeSliceEstimates (slices: float[][][]) : Estimate[] = slices |> Array.map GammaMethod.analyze

    /// Estimates of m_p(t), indexed by t like `slices` (t = 0 and t = L−1 undefined), each by
    /// GammaMethod.derived on the three slices t−1, t, t+1; NaN where m_p is not defined at
    /// the means.
    let effectiveMassEstimates (slices: float[][][]) : Estimate[] =
        let extent = slices.Length
        Array.init extent (fun t ->
            if t = 0 || t = extent - 1 then
                Estimate.undefined (slices.[t] |> Array.sumBy Array.length)
            else
                GammaMethod.derived (fun m -> coshMass m.[0] m.[1] m.[2]) slices.[t - 1 .. t + 1])

    /// Estimates of the effective mass for either boundary, indexed by t like `slices`, by GammaMethod.derived on the
    /// slices each mass uses (t−1, t, t+1 for Periodic; t, t+1 for Open).
    let effectiveMassEstimatesWith (boundary: Boundary) (slices: float[][][]) : Estimate[] =
        match boundary with
        | Periodic -> effectiveMassEstimates slices
        | Open ->
            let extent = slices.Length
            Array.init extent (fun t ->
                if t = extent - 1 then Estimate.undefined (slices.[t] |> Array.sumBy Array.length)
                else GammaMethod.derived (fun m -> logRatioMass m.[0] m.[1]) slices.[t .. t + 1])

    // The window average of m_p(t) as a function of the means of slices t1−1 .. t2+1.
    let private plateauAverage (t1: int, t2: int) (means: float[]) =
        // means.[k] is the mean of slice t1 − 1 + k.
        [| for t in t1 .. t2 -> coshMass means.[t - t1] means.[t - t1 + 1] means.[t - t1 + 2] |]
        |> Array.average

    let private checkPlateau (t1: int, t2: int) (slices: float[][][]) =
        if t1 < 1 || t2 < t1 || t2 > slices.Length - 2 then
            invalidArg "plateau" (sprintf "The plateau [%d, %d] must satisfy 1 ≤ t1 ≤ t2 ≤ L − 2 = %d." t1 t2 (slices.Length - 2))

    /// Plateau mass: the average of m_p(t) over t = t1 .. t2, with its error and τ_int from
    /// GammaMethod.derived (correlations between the time slices included).
    let plateauMass (plateau: int * int) (slices: float[][][]) : Estimate =
        checkPlateau plateau slices
        let t1, t2 = plateau
        GammaMethod.derived (plateauAverage plateau) slices.[t1 - 1 .. t2 + 1]

    /// Correlation length ξ = 1/(average of m_p(t) over t = t1 .. t2), with its error and τ_int
    /// from GammaMethod.derived. Use `defaultPlateau L` for the window when in doubt.
    let correlationLength (plateau: int * int) (slices: float[][][]) : Estimate =
        checkPlateau plateau slices
        let t1, t2 = plateau
        GammaMethod.derived (fun means -> 1.0 / plateauAverage plateau means) slices.[t1 - 1 .. t2 + 1]

    /// ⟨y_{s+l} y_s⟩ of one path, averaged over the T − l time origins, for l = 0 … lags − 1, by direct sums: O(T·lags).
    let pathAutocorrelationDirect (path: float[]) (lags: int) : float[] =
        Array.init lags (fun lag ->
            let mutable sum = 0.0
            for s in 0 .. path.Length - 1 - lag do sum <- sum + path.[s] * path.[s + lag]
            sum / float (path.Length - lag))

    /// The same by FFT: the path zero-padded to a power of two ≥ 2T (so no lag wraps around), |ŷ|², inverse
    /// transform: O(T log T) for all lags at once.
    let pathAutocorrelationFft (path: float[]) (lags: int) : float[] =
        let n = path.Length
        let mutable size = 1
        while size < 2 * n do size <- size * 2
        let buffer = Array.init size (fun i -> if i < n then Complex(path.[i], 0.0) else Complex.Zero)
        Fourier.Forward(buffer, FourierOptions.NoScaling)
        for i in 0 .. size - 1 do buffer.[i] <- Complex(buffer.[i].Magnitude ** 2.0, 0.0)
        Fourier.Inverse(buffer, FourierOptions.NoScaling)
        Array.init lags (fun lag -> buffer.[lag].Real / float size / float (n - lag))

    /// ⟨y_{s+l} y_s⟩ of one path averaged over time origins, l = 0 … lags − 1 (lags ≤ T): direct sums while they are
    /// cheaper (few lags), FFT beyond; both agree to round-off (see the tests and `build.fsx bench nnqm`).
    let pathAutocorrelation (path: float[]) (lags: int) : float[] =
        if lags < 1 || lags > path.Length then invalidArg "lags" (sprintf "lags %d is not allowed for a path of %d points; it must lie in 1..%d" lags path.Length path.Length)
        // Measured on the project machine (`build.fsx bench nnqm`): direct sums cost about 1 ns per multiply-add, MathNet's
        // managed FFT pair about 1 ms per 1000 points, so the FFT pays off beyond T·lags ≈ 4·10⁶ (T ≈ 3000 at lags = T/2).
        if float lags * float path.Length <= 4e6 then pathAutocorrelationDirect path lags
        else pathAutocorrelationFft path lags
