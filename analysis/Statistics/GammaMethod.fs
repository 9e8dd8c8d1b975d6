namespace Hybrid.Analysis.Statistics

open System
open System.Numerics
open MathNet.Numerics.IntegralTransforms

/// The autocorrelation function of one observable and the integrated autocorrelation time as a
/// function of the summation window, as used by the Γ-method (for plots of τ_int(W)).
type AutocorrelationProfile =
    {
        /// Autocovariance Γ(t) for t = 0 .. Wmax−1.
        Gamma: float[]
        /// Normalised autocorrelation ρ(t) = Γ(t)/Γ(0).
        Rho: float[]
        /// τ_int(W) = ½ + Σ_{t=1}^{W} ρ(t) for W = 0 .. Wmax−1, without bias correction and
        /// clamped from below at ½ (as pyerrors does; τ_int(0) = ½).
        TauIntByWindow: float[]
        /// Statistical error of τ_int(W): 2 τ_int(W) √((W + ½ − τ_int(W))/N).
        TauIntErrorByWindow: float[]
        /// The window W chosen by the automatic windowing procedure.
        Window: int
        /// Number of samples N over all replicas.
        Samples: int
        /// The factor S of the automatic windowing procedure.
        S: float
    }

/// Error analysis of Markov-chain data by the Γ-method (U. Wolff, "Monte Carlo errors with less
/// errors", hep-lat/0306017), following the conventions of pyerrors (CPC 2023).
/// Data of one observable are given as replicas: each replica is one independent Markov chain,
/// in Monte Carlo order; replicas may differ in length.
[<RequireQualifiedAccess>]
module GammaMethod =

    /// Wolff's default S = 1.5 of the automatic windowing procedure.
    [<Literal>]
    let DefaultS = 1.5

    let private sampleCount (replicas: float[][]) = replicas |> Array.sumBy Array.length

    let private validate (replicas: float[][]) =
        if isNull replicas || replicas |> Array.exists isNull then
            nullArg "replicas"
        if sampleCount replicas = 0 then
            invalidArg "replicas" "The Γ-method needs at least one sample."

    let private mean (replicas: float[][]) =
        (replicas |> Array.sumBy Array.sum) / float (sampleCount replicas)

    let private nextPowerOfTwo (n: int) =
        let mutable p = 1
        while p < n do
            p <- 2 * p
        p

    // Σ_i d_i d_{i+t} of one replica for t < lags, by the Wiener–Khinchin theorem in
    // O(n log n): padding to ≥ n + lags makes the circular correlation equal to the linear one
    // for every lag we read.
    let private laggedProducts (deviations: float[]) (lags: int) : float[] =
        let n = deviations.Length
        let size = nextPowerOfTwo (n + lags)
        let buffer = Array.init size (fun i -> if i < n then Complex(deviations.[i], 0.0) else Complex.Zero)
        Fourier.Forward(buffer, FourierOptions.NoScaling)
        for k in 0 .. size - 1 do
            let z = buffer.[k]
            buffer.[k] <- Complex(z.Real * z.Real + z.Imaginary * z.Imaginary, 0.0)
        Fourier.Inverse(buffer, FourierOptions.NoScaling)
        Array.init lags (fun t -> if t < n then buffer.[t].Real / float size else 0.0)

    // Γ(t) for t = 0 .. wMax−1 about the global mean: the lagged products of all replicas summed
    // and divided by the number of pairs Σ_r max(0, N_r − t) (= N − R·t when every replica is
    // longer than t). Pairs never straddle two replicas: they are independent chains.
    let private autocovariance (replicas: float[][]) (globalMean: float) (wMax: int) : float[] =
        let gamma = Array.zeroCreate wMax
        for replica in replicas do
            let products = laggedProducts (replica |> Array.map (fun a -> a - globalMean)) wMax
            for t in 0 .. wMax - 1 do
                gamma.[t] <- gamma.[t] + products.[t]
        for t in 0 .. wMax - 1 do
            let pairs = replicas |> Array.sumBy (fun r -> max 0 (r.Length - t))
            gamma.[t] <- gamma.[t] / float (max 1 pairs)
        gamma

    let private isConstant (replicas: float[][]) =
        let nonEmpty = replicas |> Array.filter (fun r -> r.Length > 0)
        let first = nonEmpty.[0].[0]
        nonEmpty |> Array.forall (Array.forall (fun a -> a = first))

    /// Split-R̂ of replicas (independent chains): each chain is cut into two halves, all halves are trimmed to the
    /// shortest, and R̂ = √(V̂⁺/W) with W the mean within-half variance, B/n the variance of the half means and
    /// V̂⁺ = (n−1)/n W + B/n (Gelman et al., BDA3 §11.4; Vehtari et al. 2021 without rank normalisation).
    /// Splitting makes one drifting chain show up as well as chains that disagree. NaN when the halves would hold
    /// fewer than 2 samples; 1 for constant data.
    let splitRHat (replicas: float[][]) : float =
        validate replicas
        let halves =
            replicas
            |> Array.filter (fun r -> r.Length >= 4)
            |> Array.collect (fun r -> let h = r.Length / 2 in [| r.[.. h - 1]; r.[r.Length - h ..] |])
        if halves.Length < 2 then nan
        else
            let n = halves |> Array.map Array.length |> Array.min
            let halves = halves |> Array.map (fun h -> h.[.. n - 1])
            let means = halves |> Array.map Array.average
            let grand = Array.average means
            let between = float n / float (halves.Length - 1) * (means |> Array.sumBy (fun m -> (m - grand) * (m - grand)))
            let within = Array.map2 (fun (h: float[]) m -> (h |> Array.sumBy (fun x -> (x - m) * (x - m))) / float (n - 1)) halves means |> Array.average
            if within = 0.0 then (if between = 0.0 then 1.0 else infinity)
            else sqrt ((float (n - 1) / float n * within + between / float n) / within)

    // Everything the Γ-method derives from the data, computed once; `analyzeWith` and
    // `autocorrelationWith` present different parts of it.
    type private Analysis =
        { Profile: AutocorrelationProfile
          Result: Estimate }

    // numpy's float64 eps, the margin pyerrors keeps above ½ when it clamps τ_int(W).
    let private machineEpsilon = Math.Pow(2.0, -52.0)

    let private run (s: float) (replicas: float[][]) : Analysis =
        validate replicas
        if not (s > 0.0) then
            invalidArg "s" "The windowing factor S must be positive."
        let n = sampleCount replicas
        let nf = float n
        let abar = mean replicas
        // Cases without a usable Γ(t): the window is 0 and only the error needs choosing.
        let withoutWindow gamma0 (result: Estimate) =
            { Profile =
                { Gamma = [| gamma0 |]; Rho = [| 1.0 |]; TauIntByWindow = [| 0.5 |]
                  TauIntErrorByWindow = [| 0.0 |]; Window = 0; Samples = n; S = s }
              Result = result }
        if not (Double.IsFinite abar) then
            // NaN or infinite data: no error can be assigned, but no exception either.
            withoutWindow nan { Estimate.undefined n with Mean = abar }
        elif n < 2 then
            // One sample says nothing about fluctuations.
            withoutWindow nan (Estimate.independent abar nan n)
        elif isConstant replicas then
            // Zero variance: ρ = Γ/Γ(0) would be 0/0; the error is exactly zero, and the mean is
            // the constant itself rather than a sum divided by N that may be off by an ulp.
            let constant = (replicas |> Array.find (fun r -> r.Length > 0)).[0]
            withoutWindow 0.0 { Estimate.independent constant 0.0 n with Variance = 0.0; RHat = 1.0 }
        else
            let wMax = max 1 ((replicas |> Array.map Array.length |> Array.max) / 2)
            let gamma = autocovariance replicas abar wMax
            let rho = gamma |> Array.map (fun g -> g / gamma.[0])
            // τ_int(W ≥ 1) ≤ ½ is noise around ½; clamping it just above ½ (as pyerrors does)
            // gives τ ≈ S/36 below, so g(W) < 0 and the window closes.
            let tauIntByWindow =
                Array.scan (+) 0.5 rho.[1..]
                |> Array.mapi (fun w tau -> if w > 0 && tau <= 0.5 then 0.5 + machineEpsilon else tau)
            let tauIntErrorByWindow =
                tauIntByWindow
                |> Array.mapi (fun w tau -> if w = 0 then 0.0 else 2.0 * tau * sqrt (abs (float w + 0.5 - tau) / nf))
            // Wolff's criterion: g(W) = e^{−W/τ} − τ/√(W N) balances the truncation bias of the
            // window (first term) against the statistical error of τ_int(W) (second term).
            let g (w: int) =
                let tauW = tauIntByWindow.[w]
                let tau = s / log ((2.0 * tauW + 1.0) / (2.0 * tauW - 1.0))
                exp (-float w / tau) - tau / sqrt (float w * nf)
            let window =
                if wMax < 2 then 0
                else
                    seq { 1 .. wMax - 1 }
                    |> Seq.tryFind (fun w -> g w < 0.0 || w >= wMax - 1)
                    |> Option.defaultValue (wMax - 1)
            let tauW = tauIntByWindow.[window]
            // Bias correction of Γ(t) for the subtracted mean, hep-lat/0306017 eq. (49).
            let tauInt = tauW * (1.0 + float (2 * window + 1) / nf) / (1.0 + 1.0 / nf)
            let error = sqrt (2.0 * tauInt * gamma.[0] * (1.0 + 1.0 / nf) / nf)
            { Profile =
                { Gamma = gamma; Rho = rho; TauIntByWindow = tauIntByWindow
                  TauIntErrorByWindow = tauIntErrorByWindow; Window = window; Samples = n; S = s }
              Result =
                { Mean = abar; Error = error; TauInt = tauInt
                  TauIntError = tauIntErrorByWindow.[window]; Window = window; Samples = n
                  Variance = gamma.[0]; RHat = splitRHat replicas } }

    /// Γ-method analysis of one observable given as replicas, with windowing factor `s`
    /// (S of Wolff's automatic windowing; larger S → larger window, less bias, more noise).
    /// Mean over all samples; error σ = √(2 τ_int Γ(0)(1 + 1/N)/N) with the bias-corrected
    /// τ_int. A constant series gives Error = 0, TauInt = ½; a single sample gives Error = NaN.
    let analyzeWith (s: float) (replicas: float[][]) : Estimate = (run s replicas).Result

    /// Γ-method analysis of one observable given as replicas, with the default S = 1.5.
    let analyze (replicas: float[][]) : Estimate = analyzeWith DefaultS replicas

    /// Γ(t), ρ(t) and τ_int(W) of one observable for W = 0 .. Wmax−1 (Wmax = longest replica / 2)
    /// together with the automatically chosen window, for windowing factor `s`.
    let autocorrelationWith (s: float) (replicas: float[][]) : AutocorrelationProfile =
        (run s replicas).Profile

    /// Γ(t), ρ(t) and τ_int(W) with the window chosen for the default S = 1.5.
    let autocorrelation (replicas: float[][]) : AutocorrelationProfile =
        autocorrelationWith DefaultS replicas

    /// Error of a derived quantity f(ā_1, …, ā_n) of several primary observables measured on the
    /// same configurations; observables.[α].[r].[i] is primary α on replica r, sample i.
    /// Linear propagation à la Wolff: the gradient of f at the primary means (central
    /// differences with step h_α = naive error of ā_α / 4, as in Wolff's UWerr) projects the data
    /// onto one series Σ_α ∂f/∂ā_α a_{α,r,i}, whose Γ-analysis (windowing factor `s`) gives the
    /// error and τ_int of f. Mean = f(primary means).
    let derivedWith (s: float) (f: float[] -> float) (observables: float[][][]) : Estimate =
        if isNull observables || observables.Length = 0 then
            invalidArg "observables" "At least one primary observable is needed."
        observables |> Array.iter validate
        let layout (replicas: float[][]) = replicas |> Array.map Array.length
        let reference = layout observables.[0]
        if observables |> Array.exists (fun o -> layout o <> reference) then
            invalidArg "observables" "All primary observables must have the same replicas and replica lengths."
        let n = float (sampleCount observables.[0])
        let means = observables |> Array.map mean
        let naiveErrors =
            Array.map2
                (fun (replicas: float[][]) abar ->
                    let squares = replicas |> Array.sumBy (Array.sumBy (fun a -> (a - abar) * (a - abar)))
                    sqrt (squares / n / n))
                observables means
        let shifted alpha delta =
            let point = Array.copy means
            point.[alpha] <- point.[alpha] + delta
            f point
        let gradient =
            naiveErrors
            |> Array.mapi (fun alpha naive ->
                let h = naive / 4.0
                // A primary that does not fluctuate (h = 0) cannot contribute to the error,
                // whatever its derivative.
                if h > 0.0 then (shifted alpha h - shifted alpha -h) / (2.0 * h) else 0.0)
        // Deviations rather than raw values: the projected series then has mean ≈ 0 and the
        // products do not lose digits to a large common offset.
        let projected =
            reference
            |> Array.mapi (fun r length ->
                Array.init length (fun i ->
                    let mutable sum = 0.0
                    for alpha in 0 .. observables.Length - 1 do
                        if gradient.[alpha] <> 0.0 then
                            sum <- sum + gradient.[alpha] * (observables.[alpha].[r].[i] - means.[alpha])
                    sum))
        let value = f means
        let projection = analyzeWith s projected
        if not (Double.IsFinite value) then
            { Estimate.undefined projection.Samples with Mean = value }
        else
            { projection with Mean = value }

    /// Derived quantity f of the primary means with the default S = 1.5 (see `derivedWith`).
    let derived (f: float[] -> float) (observables: float[][][]) : Estimate = derivedWith DefaultS f observables
