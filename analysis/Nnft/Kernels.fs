namespace Hybrid.Analysis.Nnft

open System
open MathNet.Numerics
open Hybrid.Analysis.Numerics

// Analytic reference values for the random-network field theories of Halverson, Maiti and Stoner
// (arXiv:2008.08601): the infinite-width Gaussian-process kernel and the O(1/N) connected 4-point
// function, against which the sampled ensembles of core/Nnft are checked. Pure F#, no TorchSharp.

/// Activation of the hidden units of a fully connected network.
type Activation =
    /// erf(z): bounded, so every moment exists; kernel by the arcsine formula.
    | Erf
    /// max(0, z): the arc-cosine kernel.
    | Relu
    /// Gauss-net: e^{z} divided by e^{σ_b² + σ_W²|x|²/d}, which makes the kernel translation invariant.
    /// That normalisation refers to the input x, so it is defined for one hidden layer only.
    | Gauss
    /// Exp-net: e^{z}, unnormalised; its kernel grows with |x + y|.
    | Exp

/// One hidden layer of width N on inputs x ∈ ℝᵈ: φ(x) = Σₙ W1ₙ hₙ(x) + b1, hₙ(x) = act(W0ₙ·x + b0ₙ), with
/// W0 ~ N(0, σ_W²/d) entrywise, b0, b1 ~ N(0, σ_b²) and W1 ~ N(0, σ_W²/N). The width is not part of the
/// record because the kernel does not depend on it and the 4-point function is exactly ∝ 1/N.
type SingleLayer =
    { Activation: Activation
      InputDimension: int
      SigmaW: float
      SigmaB: float }

/// Cos-net free scalar in d dimensions: φ(x) = √(2/N) Σᵢ aᵢ cos(bᵢ·x + cᵢ), a ~ N(0, σ_a²), c ~ U[−π, π],
/// b isotropic with density ∝ 1/(|b|² + m²) on |b| < Λ. `Cutoff = None` (Λ = ∞) is only normalisable in d = 1,
/// where b is Cauchy(0, m).
type CosNet =
    { InputDimension: int
      Mass: float
      Cutoff: float option }

/// Infinite-width kernels and O(1/N) connected 4-point functions of single-layer networks and of the cos-net.
/// Conventions are those of core/Nnft (SingleLayerNetwork, DeepNetwork, CosNetwork), so that ensemble
/// estimates can be compared with these numbers directly. Bad arguments raise ArgumentException.
[<RequireQualifiedAccess>]
module NnftKernels =

    // ---------------------------------------------------------------- argument checks

    let private fail (name: string) (message: string) : 'a = raise (ArgumentException(message, name))

    let private checkDimension (d: int) =
        if d < 1 then fail "InputDimension" (sprintf "InputDimension %d is not allowed; it must be at least 1." d)

    let private checkSigma (name: string) (value: float) =
        if not (value >= 0.0) || Double.IsPositiveInfinity value then
            fail name (sprintf "%s %g is not allowed; it must be finite and non-negative." name value)

    let private checkNet (net: SingleLayer) =
        checkDimension net.InputDimension
        checkSigma "SigmaW" net.SigmaW
        checkSigma "SigmaB" net.SigmaB

    let private checkPoint (d: int) (name: string) (x: float[]) =
        if isNull x then fail name (sprintf "%s is null; it must be an array of length InputDimension = %d." name d)
        if x.Length <> d then
            fail name (sprintf "%s has length %d; it must have length InputDimension = %d." name x.Length d)
        if x |> Array.exists (fun v -> Double.IsNaN v || Double.IsInfinity v) then
            fail name (sprintf "%s has a non-finite component; all components must be finite." name)

    let private checkFour (d: int) (xs: float[][]) =
        let count = if isNull xs then 0 else xs.Length
        if count <> 4 then fail "xs" (sprintf "xs has %d points; exactly 4 are required." count)
        xs |> Array.iteri (fun i x -> checkPoint d (sprintf "xs[%d]" i) x)

    let private checkWidth (width: int) =
        if width < 1 then fail "width" (sprintf "width %d is not allowed; it must be at least 1." width)

    /// Largest d of the cos-net: beyond it Γ(d/2)(2/z)^{d/2−1} leaves the double range the Bessel route needs.
    let private maxCosDimension = 64

    let private checkCosNet (net: CosNet) =
        checkDimension net.InputDimension
        if net.InputDimension > maxCosDimension then
            fail "InputDimension" (sprintf "InputDimension %d is not allowed for the cos-net; it must be at most %d." net.InputDimension maxCosDimension)
        if not (net.Mass > 0.0) || Double.IsPositiveInfinity net.Mass then
            fail "Mass" (sprintf "Mass %g is not allowed; it must be finite and positive." net.Mass)
        match net.Cutoff with
        | Some l when not (l > 0.0) || Double.IsPositiveInfinity l ->
            fail "Cutoff" (sprintf "Cutoff %g is not allowed; it must be finite and positive (None for no cutoff)." l)
        | None when net.InputDimension <> 1 ->
            fail "Cutoff" (sprintf "Cutoff None is not allowed in InputDimension %d; only d = 1 has a normalisable P(b) without a cutoff." net.InputDimension)
        | _ -> ()

    // ---------------------------------------------------------------- small vector helpers

    let private dot (x: float[]) (y: float[]) =
        let mutable s = 0.0
        for i in 0 .. x.Length - 1 do s <- s + x.[i] * y.[i]
        s

    let private norm (x: float[]) = sqrt (dot x x)

    let private squaredDistance (x: float[]) (y: float[]) =
        let mutable s = 0.0
        for i in 0 .. x.Length - 1 do
            let t = x.[i] - y.[i]
            s <- s + t * t
        s

    let private squaredSum (x: float[]) (y: float[]) =
        let mutable s = 0.0
        for i in 0 .. x.Length - 1 do
            let t = x.[i] + y.[i]
            s <- s + t * t
        s

    let private clampUnit (c: float) = max -1.0 (min 1.0 c)

    /// ln(1 + x) without the cancellation of 1 + x for small x (Goldberg's correction). MathNet's Log1p and
    /// Expm1 are truncated series, good to ~1e-10 only, which the sampler quantiles cannot afford.
    let private log1p (x: float) =
        let u = 1.0 + x
        if u = 1.0 then x else log u * x / (u - 1.0)

    /// eˣ − 1 without cancellation for small x (Kahan's correction).
    let private expm1 (x: float) =
        let u = exp x
        if u = 1.0 then x
        elif u - 1.0 = -1.0 then -1.0
        else (u - 1.0) * x / log u

    // ---------------------------------------------------------------- quadrature

    // One 16-point Gauss–Legendre rule, mapped onto every panel: exact for polynomials of degree 31, so a panel
    // that holds at most half an oscillation and stays well away from complex singularities is integrated to
    // rounding error. The adaptive rule stops at 1000 panels (nearly degenerate Gaussians make f noisy).
    let private panel f a b = Quadrature.panel 16 f a b
    let private overMesh f mesh = Quadrature.overMesh 16 f mesh
    let private integrateAdaptive tolerance f a b = Quadrature.adaptive 16 1000 tolerance f a b

    // ---------------------------------------------------------------- Gaussian orthant probabilities
    //
    // Gaussians are carried in factor form, vᵢ = rowᵢ·g with g standard normal, rather than as covariance
    // matrices: correlations then become angles between rows and conditioning becomes projection, both of which
    // stay accurate when the covariance is nearly singular (nearly degenerate point sets), where differences of
    // covariance entries would cancel.

    let private unitVector (v: float[]) = let n = norm v in v |> Array.map (fun x -> x / n)

    /// arcsin of the correlation of a·g and b·g, as π/2 minus the angle between a and b; the angle comes from
    /// atan2(|a||b − (a·b/|a|²)a|, a·b), which is accurate also for nearly parallel rows, where arcsin of a
    /// rounded correlation near ±1 is not. 0 when a row vanishes (a coordinate that is identically 0).
    let private asinCorrelation (a: float[]) (b: float[]) =
        let aa = dot a a
        if aa = 0.0 || dot b b = 0.0 then 0.0
        else
            let ab = dot a b
            let p = ab / aa
            let mutable perp = 0.0
            for k in 0 .. a.Length - 1 do
                let t = b.[k] - p * a.[k]
                perp <- perp + t * t
            Math.PI / 2.0 - atan2 (sqrt perp * sqrt aa) ab

    /// E[sign v₁ sign v₂ sign v₃ sign v₄], v = rows·g. There is no closed form in four dimensions, so it is
    /// integrated along the correlation path R(t) = (1 − t)I + tR, t ∈ [0, 1] (Price's theorem):
    ///   ∂E/∂R_ij = 4 p_ij(0, 0) E[sign v_k sign v_l | v_i = v_j = 0] = (4/π²) arcsin ρ_{kl·ij}(t) / √(1 − t²R_ij²),
    /// with ρ_{kl·ij} the partial correlation, and E = 0 at t = 0. R(t) has the factor rows (√(1−t) eᵢ, √t r̂ᵢ), so
    /// partial correlations are angles between projected rows. The integrand is analytic on [0, 1] for a
    /// non-singular R; t = 1 − (1 − τ)² turns the √(1 − t) behaviour of a (nearly) singular one into a smooth one.
    let private signProduct4 (rows: float[][]) =
        if rows |> Array.exists (fun row -> dot row row = 0.0) then 0.0   // a symmetric sign that is always 0
        else
            let units = rows |> Array.map unitVector
            let r = units.[0].Length
            let correlation = Array2D.init 4 4 (fun i j -> dot units.[i] units.[j])
            let pairs = [| 0, 1, 2, 3; 0, 2, 1, 3; 0, 3, 1, 2; 1, 2, 0, 3; 1, 3, 0, 2; 2, 3, 0, 1 |]
            let project (v: float[]) (q: float[]) = let p = dot v q in Array.map2 (fun x y -> x - p * y) v q
            let integrand (sqrtOneMinusT: float) =
                let sqrtT = sqrt ((1.0 - sqrtOneMinusT) * (1.0 + sqrtOneMinusT))
                let u = Array.init 4 (fun i -> Array.init (4 + r) (fun k -> if k < 4 then (if k = i then sqrtOneMinusT else 0.0) else sqrtT * units.[i].[k - 4]))
                let mutable s = 0.0
                for (i, j, k, l) in pairs do
                    let rij = correlation.[i, j]
                    if rij <> 0.0 then
                        // Orthonormal basis (u_i, q) of span(u_i, u_j); |u_j ⊥ u_i| = √(1 − t²R_ij²).
                        let w = project u.[j] u.[i]
                        let nw = norm w
                        let q = w |> Array.map (fun x -> x / nw)
                        let rk = project (project u.[k] u.[i]) q
                        let rl = project (project u.[l] u.[i]) q
                        s <- s + rij * asinCorrelation rk rl / nw
                4.0 / (Math.PI * Math.PI) * s
            integrateAdaptive 1e-14 (fun tau -> let a = 1.0 - tau in 2.0 * a * integrand a) 0.0 1.0

    /// P(all vᵢ > 0), v = rows·g, n ≤ 4: 2⁻ⁿ Σ_S E[Π_{i∈S} sign vᵢ], where odd S give 0, pairs (2/π) arcsin ρ
    /// (Sheppard), and the 4-fold product comes from signProduct4.
    let private orthantOfRows (rows: float[][]) =
        let n = rows.Length
        let asinSum () =
            let mutable s = 0.0
            for i in 0 .. n - 1 do
                for j in i + 1 .. n - 1 do s <- s + asinCorrelation rows.[i] rows.[j]
            s
        match n with
        | 0 -> 1.0
        | 1 -> 0.5
        | 2 -> 0.25 + asinSum () / (2.0 * Math.PI)
        | 3 -> 0.125 + asinSum () / (4.0 * Math.PI)
        | _ -> 1.0 / 16.0 + asinSum () / (8.0 * Math.PI) + signProduct4 rows / 16.0

    /// Cholesky rows L of C = L Lᵀ (None if C is not positive definite).
    let private choleskyRows (c: float[,]) =
        let n = Array2D.length1 c
        let l = Array2D.zeroCreate n n
        let mutable ok = true
        for j in 0 .. n - 1 do
            if ok then
                let mutable diagonal = c.[j, j]
                for k in 0 .. j - 1 do diagonal <- diagonal - l.[j, k] * l.[j, k]
                if diagonal <= 0.0 then ok <- false
                else
                    l.[j, j] <- sqrt diagonal
                    for i in j + 1 .. n - 1 do
                        let mutable v = c.[i, j]
                        for k in 0 .. j - 1 do v <- v - l.[i, k] * l.[j, k]
                        l.[i, j] <- v / l.[j, j]
        if ok then Some(Array.init n (fun i -> Array.init n (fun k -> l.[i, k]))) else None

    /// P(v₁ > 0, …, vₙ > 0) for v ~ N(0, C), n = 1 … 4 and C positive definite (only its correlations matter).
    /// n ≤ 3 in closed form (Sheppard's arcsine formulas); n = 4 through P = 2⁻⁴ Σ_S E[Π_{i∈S} sign vᵢ], whose
    /// only term without a closed form, the full sign product, is integrated along a correlation path to ~1e-13.
    let orthantProbability (covariance: float[,]) : float =
        if isNull covariance then fail "covariance" "covariance is null; it must be a square matrix of size 1 to 4."
        let n = Array2D.length1 covariance
        if n < 1 || n > 4 || Array2D.length2 covariance <> n then
            fail "covariance" (sprintf "covariance is %dx%d; it must be square of size 1 to 4." n (Array2D.length2 covariance))
        for i in 0 .. n - 1 do
            for j in 0 .. n - 1 do
                if covariance.[i, j] <> covariance.[j, i] || Double.IsNaN covariance.[i, j] then
                    fail "covariance" (sprintf "covariance[%d,%d] = %g does not match covariance[%d,%d]; it must be symmetric." i j covariance.[i, j] j i)
        match choleskyRows covariance with
        | Some rows -> orthantOfRows rows
        | None -> fail "covariance" "covariance is not positive definite; it must be."

    /// Rows of v given v_j = 0 (the mean stays zero): every other row projected orthogonally to row_j.
    let private conditionOnZero (rows: float[][]) (j: int) =
        let aj = rows.[j]
        let njj = dot aj aj
        [| for k in 0 .. rows.Length - 1 do
               if k <> j then
                   let p = dot rows.[k] aj / njj
                   yield Array.map2 (fun x y -> x - p * y) rows.[k] aj |]

    /// Truncated moment E[Π_k v_k^{α_k} ; v ≥ 0] of v = rows·g, g standard normal, by Stein's identity
    /// E[vᵢ f] = Σ_j Cov(vᵢ, v_j) E[∂_j f]: differentiating a power lowers the degree; differentiating the step
    /// 1{v_j ≥ 0} gives δ(v_j), i.e. the density at 0 times the same moment one dimension lower, conditioned on
    /// v_j = 0. The recursion ends in orthant probabilities. It needs the covariance to be non-singular (with a
    /// singular one, steps at exactly zero variance would be ambiguous), which is why low-rank cases are first
    /// mapped onto simplicial cones.
    let rec private orthantMoment (rows: float[][]) (alpha: int[]) : float =
        let n = alpha.Length
        if n = 0 then 1.0
        else
            match Array.tryFindIndex (fun a -> a > 0) alpha with
            | None -> orthantOfRows rows
            | Some i ->
                let beta = Array.copy alpha
                beta.[i] <- beta.[i] - 1
                let mutable total = 0.0
                for j in 0 .. n - 1 do
                    let cij = dot rows.[i] rows.[j]
                    if cij <> 0.0 then
                        if beta.[j] > 0 then
                            let lower = Array.copy beta
                            lower.[j] <- lower.[j] - 1
                            total <- total + cij * float beta.[j] * orthantMoment rows lower
                        else
                            let nj = norm rows.[j]
                            if nj > 0.0 then
                                let rest = [| for k in 0 .. n - 1 do if k <> j then yield beta.[k] |]
                                let density = 1.0 / (sqrt (2.0 * Math.PI) * nj)
                                total <- total + cij * density * orthantMoment (conditionOnZero rows j) rest
                total

    // ---------------------------------------------------------------- E[Π relu(aᵢ·g)] by simplicial cones

    /// Coordinates of the rows in an orthonormal basis of their span (modified Gram–Schmidt with pivoting):
    /// z = A g with g standard normal only depends on the rows through their Gram matrix, so the rows may be
    /// replaced by r ≤ 4 coordinates. A direction whose residual is below `threshold` times the largest row is
    /// dropped: it moves each zᵢ by at most that fraction.
    let private reduceToSpan (threshold: float) (rows: float[][]) : float[][] =
        let n = rows.Length
        let scale = rows |> Array.map norm |> Array.max
        let residual = rows |> Array.map Array.copy
        let basis = ResizeArray<float[]>()
        let mutable searching = true
        while searching && basis.Count < min n rows.[0].Length do
            let norms = residual |> Array.map norm
            let pivot = Array.findIndex (fun v -> v = Array.max norms) norms
            if norms.[pivot] <= threshold * scale then searching <- false
            else
                let e = residual.[pivot] |> Array.map (fun v -> v / norms.[pivot])
                // Re-orthogonalise once against the basis so far: Gram–Schmidt twice is enough.
                for b in basis do
                    let p = dot e b
                    for k in 0 .. e.Length - 1 do e.[k] <- e.[k] - p * b.[k]
                let ne = norm e
                for k in 0 .. e.Length - 1 do e.[k] <- e.[k] / ne
                basis.Add e
                for i in 0 .. n - 1 do
                    let p = dot residual.[i] e
                    for k in 0 .. e.Length - 1 do residual.[i].[k] <- residual.[i].[k] - p * e.[k]
        rows |> Array.map (fun row -> [| for b in basis -> dot row b |])

    let private invertSmall (m: float[,]) =
        let n = Array2D.length1 m
        let a = Array2D.init n (2 * n) (fun i j -> if j < n then m.[i, j] elif j - n = i then 1.0 else 0.0)
        for col in 0 .. n - 1 do
            let pivot = [ col .. n - 1 ] |> List.maxBy (fun r -> abs a.[r, col])
            for j in 0 .. 2 * n - 1 do
                let t = a.[col, j]
                a.[col, j] <- a.[pivot, j]
                a.[pivot, j] <- t
            let p = a.[col, col]
            for j in 0 .. 2 * n - 1 do a.[col, j] <- a.[col, j] / p
            for r in 0 .. n - 1 do
                if r <> col then
                    let f = a.[r, col]
                    if f <> 0.0 then
                        for j in 0 .. 2 * n - 1 do a.[r, j] <- a.[r, j] - f * a.[col, j]
        Array2D.init n n (fun i j -> a.[i, j + n])

    let private cross (a: float[]) (b: float[]) =
        [| a.[1] * b.[2] - a.[2] * b.[1]; a.[2] * b.[0] - a.[0] * b.[2]; a.[0] * b.[1] - a.[1] * b.[0] |]

    /// Extreme rays of the polyhedral cone {g : aᵢ·g ≥ 0} in r = 2 or 3 dimensions, cut into simplicial cones
    /// (pairs or triangles of unit rays). Empty when the cone has no interior (then E[Π relu] = 0).
    let private simplicialCones (a: float[][]) : float[][][] =
        let r = a.[0].Length
        let feasible (v: float[]) = a |> Array.forall (fun ai -> dot ai v >= -1e-12 * norm ai)
        let rays = ResizeArray<float[]>()
        let add (v: float[]) =
            if feasible v && rays |> Seq.forall (fun w -> Math.PI / 2.0 - asinCorrelation v w > 1e-13) then rays.Add v
        if r = 2 then
            for ai in a do
                let p = unitVector [| -ai.[1]; ai.[0] |]
                add p
                add (p |> Array.map (~-))
            if rays.Count < 2 then [||]
            else
                // In a pointed 2-d cone only the two boundary rays are feasible candidates; keep the widest pair.
                let pairs = [| for i in 0 .. rays.Count - 1 do for j in i + 1 .. rays.Count - 1 do yield rays.[i], rays.[j] |]
                let v1, v2 = pairs |> Array.minBy (fun (u, v) -> dot u v)
                [| [| v1; v2 |] |]
        else
            for i in 0 .. a.Length - 1 do
                for j in i + 1 .. a.Length - 1 do
                    let c = cross a.[i] a.[j]
                    if norm c > 1e-12 * norm a.[i] * norm a.[j] then
                        let v = unitVector c
                        add v
                        add (v |> Array.map (~-))
            if rays.Count < 3 then [||]
            else
                // Order the rays around the cone's axis and fan-triangulate from the first.
                let axis = unitVector (Array.init 3 (fun k -> rays |> Seq.sumBy (fun v -> v.[k])))
                let helper = if abs axis.[0] < 0.9 then [| 1.0; 0.0; 0.0 |] else [| 0.0; 1.0; 0.0 |]
                let e1 = unitVector (cross axis helper)
                let e2 = cross axis e1
                let sorted = rays |> Seq.sortBy (fun v -> atan2 (dot v e2) (dot v e1)) |> Array.ofSeq
                [| for k in 1 .. sorted.Length - 2 -> [| sorted.[0]; sorted.[k]; sorted.[k + 1] |] |]

    /// E[Π_{i=1}^{4} relu(aᵢ·g)], g ~ N(0, I_r), with the aᵢ already reduced to r coordinates. On a simplicial cone
    /// g = Vλ, λ ≥ 0, with λ ~ N(0, (VᵀV)⁻¹) exactly; Π(aᵢ·Vλ) expands into monomials with non-negative
    /// coefficients aᵢ·v_k, so the sum has no cancellation.
    let private reluProduct (a: float[][]) : float =
        let r = a.[0].Length
        match r with
        | 0 -> 0.0
        | 1 ->
            let s = a |> Array.map (fun v -> v.[0])
            // z = s g: E[g⁴ ; g > 0] = 3/2, and the product vanishes unless all sᵢ have one sign.
            if Array.forall (fun v -> v >= 0.0) s || Array.forall (fun v -> v <= 0.0) s then
                1.5 * (s |> Array.fold (fun p v -> p * abs v) 1.0)
            else 0.0
        | 4 ->
            orthantMoment a [| 1; 1; 1; 1 |]
        | _ ->
            simplicialCones a
            |> Array.sumBy (fun rays ->
                // λ = V⁻¹g: the rows of V⁻¹ are λ's factor form.
                let inverse = invertSmall (Array2D.init r r (fun i j -> rays.[j].[i]))
                let lambdaRows = Array.init r (fun k -> Array.init r (fun j -> inverse.[k, j]))
                let b = Array.init 4 (fun i -> Array.init r (fun k -> max 0.0 (dot a.[i] rays.[k])))
                let memo = Collections.Generic.Dictionary<string, float>()
                let moment (alpha: int[]) =
                    let key = String.Join(",", alpha)
                    match memo.TryGetValue key with
                    | true, value -> value
                    | _ ->
                        let value = orthantMoment lambdaRows alpha
                        memo.[key] <- value
                        value
                let mutable total = 0.0
                for k0 in 0 .. r - 1 do
                    for k1 in 0 .. r - 1 do
                        for k2 in 0 .. r - 1 do
                            for k3 in 0 .. r - 1 do
                                let coefficient = b.[0].[k0] * b.[1].[k1] * b.[2].[k2] * b.[3].[k3]
                                if coefficient > 0.0 then
                                    let alpha = Array.zeroCreate r
                                    for k in [ k0; k1; k2; k3 ] do alpha.[k] <- alpha.[k] + 1
                                    total <- total + coefficient * moment alpha
                total)

    // ---------------------------------------------------------------- single hidden layer

    /// First pre-activation kernel K₀(x, y) = E[z(x) z(y)] = σ_b² + σ_W² x·y/d, z = W0·x + b0.
    let preactivationKernel (net: SingleLayer) (x: float[]) (y: float[]) : float =
        checkNet net
        checkPoint net.InputDimension "x" x
        checkPoint net.InputDimension "y" y
        net.SigmaB * net.SigmaB + net.SigmaW * net.SigmaW * dot x y / float net.InputDimension

    /// E[act(u) act(v)] for (u, v) ~ N(0, [[kxx, kxy], [kxy, kyy]]): the layer-to-layer map of the kernel.
    /// Gauss-net's act(u) = e^{u − kuu} is its normalisation written through the pre-activation variance (not
    /// reached: deepKernel stops Gauss-net at one layer, and one layer uses the cancellation-free form below).
    let private dual (activation: Activation) (kxx: float) (kxy: float) (kyy: float) =
        match activation with
        | Erf -> 2.0 / Math.PI * asin (clampUnit (2.0 * kxy / sqrt ((1.0 + 2.0 * kxx) * (1.0 + 2.0 * kyy))))
        | Relu ->
            let s = sqrt (kxx * kyy)
            if s = 0.0 then 0.0
            else
                let c = clampUnit (kxy / s)
                let theta = acos c
                s * (sqrt (1.0 - c * c) + (Math.PI - theta) * c) / (2.0 * Math.PI)
        | Gauss -> exp (kxy - 0.5 * (kxx + kyy))
        | Exp -> exp (0.5 * (kxx + kyy) + kxy)

    /// K̃(x, y) = E[h(x) h(y)] of one hidden unit. Gauss- and Exp-net in the forms without cancellation:
    /// Gauss e^{−σ_W²|x−y|²/(2d)} (the σ_b² of numerator and normalisation cancel), Exp e^{2σ_b² + σ_W²|x+y|²/(2d)}.
    let hiddenCorrelation (net: SingleLayer) (x: float[]) (y: float[]) : float =
        checkNet net
        checkPoint net.InputDimension "x" x
        checkPoint net.InputDimension "y" y
        let d = float net.InputDimension
        let sw2, sb2 = net.SigmaW * net.SigmaW, net.SigmaB * net.SigmaB
        match net.Activation with
        | Gauss -> exp (-sw2 * squaredDistance x y / (2.0 * d))
        | Exp -> exp (2.0 * sb2 + sw2 * squaredSum x y / (2.0 * d))
        | activation ->
            let k0 (u: float[]) (v: float[]) = sb2 + sw2 * dot u v / d
            dual activation (k0 x x) (k0 x y) (k0 y y)

    /// Gaussian-process kernel of the single-layer network, K(x, y) = σ_b² + σ_W² K̃(x, y) (any width: the
    /// 2-point function has no 1/N correction). Erf: (2σ_W²/π) arcsin of 2K₀(x,y)/√((1+2K₀(x,x))(1+2K₀(y,y)));
    /// ReLU: σ_W²√(K₀(x,x)K₀(y,y)) (sin θ + (π−θ) cos θ)/(2π), cos θ the K₀ correlation (clamped to [−1, 1]).
    let kernel (net: SingleLayer) (x: float[]) (y: float[]) : float =
        net.SigmaB * net.SigmaB + net.SigmaW * net.SigmaW * hiddenCorrelation net x y

    /// Kernel of a network with `depth` hidden layers (depth 1 is `kernel`, bit for bit). Convention (as
    /// core/Nnft/DeepNetwork): every weight matrix has variance σ_W²/fan-in, d for the first layer and N_{l−1}
    /// after, and every bias σ_b²; so the 1/d appears only in K⁽⁰⁾ = σ_b² + σ_W² x·y/d, and each further layer
    /// maps K⁽ˡ⁺¹⁾ = σ_b² + σ_W² E_{(u,v)~N(0,K⁽ˡ⁾)}[act(u) act(v)]. Gauss-net is allowed at depth 1 only, because
    /// its normalisation refers to the input.
    let deepKernel (activation: Activation) (depth: int) (inputDimension: int) (sigmaW: float) (sigmaB: float) (x: float[]) (y: float[]) : float =
        if depth < 1 then fail "depth" (sprintf "depth %d is not allowed; it must be at least 1 (the number of hidden layers)." depth)
        if activation = Gauss && depth > 1 then
            fail "activation" (sprintf "activation Gauss at depth %d is not allowed; its normalisation is defined for one hidden layer (use Erf, Relu or Exp)." depth)
        let net = { Activation = activation; InputDimension = inputDimension; SigmaW = sigmaW; SigmaB = sigmaB }
        let mutable kxy = kernel net x y
        let mutable kxx = kernel net x x
        let mutable kyy = kernel net y y
        let sw2, sb2 = sigmaW * sigmaW, sigmaB * sigmaB
        for _ in 2 .. depth do
            let nxy = sb2 + sw2 * dual activation kxx kxy kyy
            let nxx = sb2 + sw2 * dual activation kxx kxx kxx
            let nyy = sb2 + sw2 * dual activation kyy kyy kyy
            kxy <- nxy
            kxx <- nxx
            kyy <- nyy
        kxy

    /// μ₄ = E[h(x₁) h(x₂) h(x₃) h(x₄)] of one hidden unit.
    /// Gauss: e^{4σ_b² + σ_W²(|S|²/2 − Σ|xᵢ|²)/d} and Exp: e^{8σ_b² + σ_W²|S|²/(2d)}, S = Σxᵢ (from E e^{W0·S + 4b0}).
    /// Erf: erf(z) = E_ξ sign(√2 z − ξ) with ξ ~ N(0, 1), so μ₄ = E Π sign vᵢ with v ~ N(0, 2C + I) (C = K₀ at
    /// the points), a 4-variate orthant integral done along a correlation path (error ~1e-13).
    /// ReLU: zᵢ = aᵢ·g with rows aᵢ = (σ_W xᵢ/√d, σ_b) reduced to their span, of rank r ≤ 4 (directions below 1e-9
    /// of the largest row are dropped, an error of that relative order). r = 1 is closed form; for r = 2, 3 the
    /// cone {aᵢ·g ≥ 0} is cut into simplicial cones, on each of which the moment is an exact Gaussian orthant
    /// moment (Stein recursion); for r = 4 the cone is the orthant of z itself. Only 4-variate orthant
    /// probabilities need the 1-d path quadrature. Measured: 1e-13 relative for points in general position;
    /// smooth (linear in the distance) as points approach degenerate configurations, down to clusters ~1e-7 wide.
    let hiddenFourPoint (net: SingleLayer) (xs: float[][]) : float =
        checkNet net
        checkFour net.InputDimension xs
        let d = float net.InputDimension
        let sw2, sb2 = net.SigmaW * net.SigmaW, net.SigmaB * net.SigmaB
        let s = Array.init net.InputDimension (fun k -> xs |> Array.sumBy (fun x -> x.[k]))
        match net.Activation with
        | Gauss -> exp (4.0 * sb2 + sw2 * (0.5 * dot s s - (xs |> Array.sumBy (fun x -> dot x x))) / d)
        | Exp -> exp (8.0 * sb2 + sw2 * dot s s / (2.0 * d))
        | Erf ->
            // vᵢ = √2 zᵢ − ξᵢ in factor form: rows (√2 aᵢ, −eᵢ) with aᵢ reduced to the span of the points.
            let a = reduceToSpan 1e-14 (xs |> Array.map (fun x -> Array.append (x |> Array.map (fun v -> net.SigmaW * v / sqrt d)) [| net.SigmaB |]))
            let r = if a.Length > 0 then a.[0].Length else 0
            signProduct4 (Array.init 4 (fun i -> Array.init (r + 4) (fun k -> if k < r then sqrt 2.0 * a.[i].[k] elif k - r = i then -1.0 else 0.0)))
        | Relu ->
            let rows = xs |> Array.map (fun x -> Array.append (x |> Array.map (fun v -> net.SigmaW * v / sqrt d)) [| net.SigmaB |])
            if rows |> Array.exists (fun row -> norm row = 0.0) then 0.0   // some zᵢ ≡ 0, so relu(zᵢ) ≡ 0
            // 1e-9: a kept direction much smaller than that makes the simplicial cones ill-conditioned.
            else reluProduct (reduceToSpan 1e-9 rows)

    /// Connected 4-point function at width N, exact at every N (not only to leading order):
    /// G4c = (σ_W⁴/N)[3μ₄ − (K̃₁₂K̃₃₄ + K̃₁₃K̃₂₄ + K̃₁₄K̃₂₃)]. It comes from E[W1⁴] = 3(σ_W²/N)² on one neuron;
    /// the bias b1 is Gaussian and drops out.
    let fourPointConnected (net: SingleLayer) (width: int) (xs: float[][]) : float =
        checkWidth width
        let mu4 = hiddenFourPoint net xs
        let k i j = hiddenCorrelation net xs.[i] xs.[j]
        let sw2 = net.SigmaW * net.SigmaW
        sw2 * sw2 / float width * (3.0 * mu4 - (k 0 1 * k 2 3 + k 0 2 * k 1 3 + k 0 3 * k 1 2))

    // ---------------------------------------------------------------- cos-net

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
