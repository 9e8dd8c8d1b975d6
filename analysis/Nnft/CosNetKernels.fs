namespace Hybrid.Analysis.Nnft

open System
open MathNet.Numerics
open Hybrid.Analysis.Numerics
open Hybrid.Analysis.Nnft.Architectures

/// The cos-net free scalar (CosNet): its amplitude variance, the characteristic function of its momenta, the
/// kernel (the cut-off free propagator), the O(1/N) connected 4-point function, and the radial distribution of the
/// momenta that core/Nnft's CosNetwork samples from. Bad arguments raise ArgumentException.
[<RequireQualifiedAccess>]
module CosNetKernels =

    let private norm = SmallMatrices.norm
    let private log1p = Elementary.log1p
    let private expm1 = Elementary.expm1

    // One 16-point Gauss–Legendre rule, mapped onto every panel: exact for polynomials of degree 31, so a panel
    // that holds at most half an oscillation and stays well away from complex singularities is integrated to
    // rounding error.
    let private overMesh f mesh = Quadrature.overMesh 16 f mesh

    /// A_d(z) = average of cos(z ω₁) over the unit sphere in ℝᵈ = Γ(d/2)(2/z)^{d/2−1} J_{d/2−1}(z): cos z for d = 1,
    /// J₀(z) for d = 2, sin z / z for d = 3. The power series Σ_k (−z²/4)ᵏ Γ(d/2)/(k! Γ(k + d/2)) is used while its
    /// terms cannot grow (z² ≤ 2d, or z ≤ 2), MathNet's Bessel J beyond; d ≤ 64.
    let cosAngularAverage (d: int) (z: float) : float =
        checkDimension d
        if d > maxCosDimension then
            fail "d" (sprintf "d %d is not allowed; it must be at most %d." d maxCosDimension)
        if Double.IsNaN z || Double.IsInfinity z then fail "z" (sprintf "z %g is not allowed; it must be finite." z)
        let z = abs z
        let half = float d / 2.0
        let series () =
            let q = -z * z / 4.0
            let mutable term = 1.0
            let mutable sum = 1.0
            let mutable k = 0
            while abs term > 1e-17 * abs sum && k < 200 do
                term <- term * q / (float (k + 1) * (float k + half))
                sum <- sum + term
                k <- k + 1
            sum
        match d with
        | 1 -> cos z
        | 3 -> if z < 0.5 then series () else sin z / z
        | _ when z * z <= 2.0 * float d || z <= 2.0 -> series ()
        | _ ->
            let nu = half - 1.0
            exp (SpecialFunctions.GammaLn half + nu * log (2.0 / z)) * SpecialFunctions.BesselJ(nu, z)

    /// Panels of [0, upper] for radial integrands ρ(r)·A_d(r|y|): each at most half an oscillation π/|y| long and at
    /// most a fixed fraction of max(m, r) (finer for large d, where r^{d−1} varies faster), so the pole of
    /// 1/(r² + m²) at ±im and the oscillation both stay resolved by 16 Gauss points. `refine` splits every panel
    /// into that many equal parts; refine = 2 doubles the panels for a convergence check.
    let private radialMesh (m: float) (upper: float) (frequency: float) (d: int) (refine: int) =
        let halfPeriod = if frequency > 0.0 then Math.PI / frequency else Double.PositiveInfinity
        if upper / halfPeriod > 2e6 then
            fail "y" (sprintf "Cutoff·|y| = %g is not allowed; the radial quadrature supports at most about 6e6." (upper * frequency))
        let fraction = 0.5 * min 1.0 (4.0 / float (max 1 (d - 1)))
        let points = ResizeArray<float>([ 0.0 ])
        let mutable r = 0.0
        while r < upper do
            let w = min halfPeriod (fraction * max m r)
            let next = if r + w >= upper * (1.0 - 1e-14) then upper else r + w
            for k in 1 .. refine do points.Add(if k = refine then next else r + (next - r) * float k / float refine)
            r <- next
        points.ToArray()

    /// Radial weight r^{d−1}/(r² + m²), divided by Λ^{d−1} for d ≥ 3 so large d and Λ cannot overflow.
    let private radialWeight (d: int) (m: float) (cutoff: float) (r: float) =
        match d with
        | 1 -> 1.0 / (r * r + m * m)
        | 2 -> r / (r * r + m * m)
        | _ -> Math.Pow(r / cutoff, float (d - 1)) / (r * r + m * m)

    /// ∫₀^upper of radialWeight (same scaling), closed form in d = 1, 2.
    let private radialMass (d: int) (m: float) (cutoff: float) (upper: float) =
        match d with
        | 1 -> atan (upper / m) / m
        | 2 -> 0.5 * log1p(upper * upper / (m * m))
        | _ -> overMesh (radialWeight d m cutoff) (radialMesh m upper 0.0 d 1)

    /// σ_a² = Z/(2π)ᵈ with Z = ∫_{|p|<Λ} dᵈp/(p² + m²) = S_{d−1} ∫₀^Λ r^{d−1}/(r² + m²) dr, S_{d−1} = 2π^{d/2}/Γ(d/2):
    /// the amplitude variance that makes G₂ the unit-normalised propagator. d = 1 without cutoff: 1/(2m).
    let cosAmplitudeVariance (net: CosNet) : float =
        checkCosNet net
        let d, m = net.InputDimension, net.Mass
        match net.Cutoff with
        | None -> 1.0 / (2.0 * m)
        | Some l ->
            let logSphere = log 2.0 + float d / 2.0 * log Math.PI - SpecialFunctions.GammaLn(float d / 2.0)
            let logRadial = (if d >= 3 then float (d - 1) * log l else 0.0) + log (radialMass d m l l)
            exp (logSphere + logRadial - float d * log (2.0 * Math.PI))

    let private characteristic (refine: int) (net: CosNet) (y: float[]) =
        let d, m = net.InputDimension, net.Mass
        let size = norm y
        if size = 0.0 then 1.0
        else
            match net.Cutoff with
            | None -> exp (-m * size)   // d = 1: characteristic function of Cauchy(0, m)
            | Some l ->
                let mesh = radialMesh m l size d refine
                overMesh (fun r -> radialWeight d m l r * cosAngularAverage d (r * size)) mesh / radialMass d m l l

    /// E_b cos(b·y): e^{−m|y|} in d = 1 without cutoff; otherwise ∫₀^Λ ρ(r) A_d(r|y|) dr with the radial density
    /// ρ(r) ∝ r^{d−1}/(r² + m²), by composite 16-point Gauss–Legendre (absolute error ~1e-13 for Λ|y| up to
    /// thousands; the cost grows like Λ|y|).
    let cosCharacteristic (net: CosNet) (y: float[]) : float =
        checkCosNet net
        checkPoint net.InputDimension "y" y
        characteristic 1 net y

    /// cosCharacteristic with every quadrature panel split into `refine` parts: for convergence checks only.
    let cosCharacteristicRefined (refine: int) (net: CosNet) (y: float[]) : float =
        if refine < 1 then fail "refine" (sprintf "refine %d is not allowed; it must be at least 1." refine)
        checkCosNet net
        checkPoint net.InputDimension "y" y
        characteristic refine net y

    /// G₂(x, y) = σ_a² E_b cos(b·(x − y)) = ∫_{|p|<Λ} dᵈp/(2π)ᵈ e^{ip(x−y)}/(p² + m²) (every width: no 1/N term).
    let cosKernel (net: CosNet) (x: float[]) (y: float[]) : float =
        checkCosNet net
        checkPoint net.InputDimension "x" x
        checkPoint net.InputDimension "y" y
        cosAmplitudeVariance net * characteristic 1 net (Array.map2 (-) x y)

    /// Connected 4-point function at width N (exact in N):
    /// G4c = (1/N)[(3σ_a⁴/2) Σ E_b cos(b·y) − (K₁₂K₃₄ + K₁₃K₂₄ + K₁₄K₂₃)], y over x₁+x₂−x₃−x₄, x₁−x₂+x₃−x₄,
    /// x₁−x₂−x₃+x₄. The first term is one neuron's E[a⁴](2/N)² E_c Π cos(b·xᵢ + c), where averaging over the phase c
    /// keeps only the sign patterns with two + and two −.
    let cosFourPointConnected (net: CosNet) (width: int) (xs: float[][]) : float =
        checkCosNet net
        checkWidth width
        checkFour net.InputDimension xs
        let s2 = cosAmplitudeVariance net
        let combine (signs: float[]) = Array.init net.InputDimension (fun k -> Array.fold2 (fun acc sg (x: float[]) -> acc + sg * x.[k]) 0.0 signs xs)
        let patterns = [| [| 1.0; 1.0; -1.0; -1.0 |]; [| 1.0; -1.0; 1.0; -1.0 |]; [| 1.0; -1.0; -1.0; 1.0 |] |]
        let single = patterns |> Array.sumBy (fun p -> characteristic 1 net (combine p))
        let k i j = s2 * characteristic 1 net (Array.map2 (-) xs.[i] xs.[j])
        (1.5 * s2 * s2 * single - (k 0 1 * k 2 3 + k 0 2 * k 1 3 + k 0 3 * k 1 2)) / float width

    /// P(|b| ≤ r) of the radial distribution ∝ r^{d−1}/(r² + m²) on [0, Λ] (0 below 0, 1 above Λ).
    let cosRadialCdf (net: CosNet) (r: float) : float =
        checkCosNet net
        if Double.IsNaN r then fail "r" "r NaN is not allowed; it must be a number."
        let d, m = net.InputDimension, net.Mass
        match net.Cutoff with
        | None -> if r <= 0.0 then 0.0 elif Double.IsPositiveInfinity r then 1.0 else 2.0 / Math.PI * atan (r / m)
        | Some l ->
            if r <= 0.0 then 0.0
            elif r >= l then 1.0
            else
                match d with
                | 1 -> atan (r / m) / atan (l / m)
                | 2 -> log1p(r * r / (m * m)) / log1p(l * l / (m * m))
                | _ -> min 1.0 (overMesh (radialWeight d m l) (radialMesh m r 0.0 d 1) / radialMass d m l l)

    /// Inverse of cosRadialCdf, what a sampler maps a uniform u ∈ [0, 1] through to get |b|.
    /// d = 1: m tan(u·atan(Λ/m)) (Λ = ∞: m tan(uπ/2), +∞ at u = 1); d = 2: m √(exp(u·ln(1 + Λ²/m²)) − 1);
    /// d ≥ 3: Newton's method on the numerical CDF, kept inside a bisection bracket, to ~1e-15·Λ. u = 1 gives Λ.
    let cosRadialQuantile (net: CosNet) (u: float) : float =
        checkCosNet net
        if not (u >= 0.0 && u <= 1.0) then fail "u" (sprintf "u %g is not allowed; it must lie in [0, 1]." u)
        let d, m = net.InputDimension, net.Mass
        match net.Cutoff with
        | None -> if u = 1.0 then Double.PositiveInfinity else m * tan (u * Math.PI / 2.0)
        | Some l when u = 1.0 -> l
        | Some _ when u = 0.0 -> 0.0
        | Some l ->
            match d with
            | 1 -> min l (m * tan (u * atan (l / m)))
            | 2 -> min l (m * sqrt (expm1(u * log1p(l * l / (m * m)))))
            | _ ->
                let total = radialMass d m l l
                let cdf r = cosRadialCdf net r
                let density r = radialWeight d m l r / total
                let mutable lo, hi = 0.0, l
                let mutable r = u * l
                let mutable finished = false
                let mutable iterations = 0
                while not finished && hi - lo > 1e-15 * l && iterations < 200 do
                    let f = cdf r - u
                    if f = 0.0 then finished <- true
                    else
                        if f > 0.0 then hi <- r else lo <- r
                        let step = f / density r
                        if abs step <= 1e-15 * l then
                            // Newton's step is at rounding level: take it and stop.
                            r <- min hi (max lo (r - step))
                            finished <- true
                        else
                            let newton = r - step
                            r <- if newton > lo && newton < hi then newton else 0.5 * (lo + hi)
                    iterations <- iterations + 1
                r
