namespace Hybrid.Analysis.Numerics

open System

/// Expectations of a zero-mean Gaussian vector over orthants and polyhedral cones: orthant probabilities
/// P(v > 0) (closed forms up to three dimensions, a one-dimensional path integral in four), the sign product
/// E[Π sign vᵢ], truncated moments E[Π vₖ^αₖ ; v ≥ 0], and E[Π max(0, aᵢ·g)] of four linear forms of any rank.
///
/// Gaussians are carried in factor form, vᵢ = rowᵢ·g with g standard normal, rather than as covariance matrices:
/// correlations then become angles between rows and conditioning becomes projection, both of which stay accurate
/// when the covariance is nearly singular, where differences of covariance entries would cancel.
[<RequireQualifiedAccess>]
module GaussianOrthants =

    let private dot = SmallMatrices.dot
    let private norm = SmallMatrices.norm

    let private unitVector (v: float[]) = let n = norm v in v |> Array.map (fun x -> x / n)

    // One 16-point Gauss–Legendre rule per panel, adaptively refined; it stops at 1000 panels, because nearly
    // degenerate Gaussians make the integrand noisy at rounding level.
    let private integrateAdaptive tolerance f a b = Quadrature.adaptive 16 1000 tolerance f a b

    /// arcsin of the correlation of a·g and b·g, as π/2 minus the angle between a and b; the angle comes from
    /// atan2(|a||b − (a·b/|a|²)a|, a·b), which is accurate also for nearly parallel rows, where arcsin of a
    /// rounded correlation near ±1 is not. 0 when a row vanishes (a coordinate that is identically 0).
    let asinCorrelation (a: float[]) (b: float[]) : float =
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
    let signProduct4 (rows: float[][]) : float =
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

    /// P(v₁ > 0, …, vₙ > 0) for v ~ N(0, C), n = 1 … 4 and C positive definite (only its correlations matter).
    /// n ≤ 3 in closed form (Sheppard's arcsine formulas); n = 4 through P = 2⁻⁴ Σ_S E[Π_{i∈S} sign vᵢ], whose
    /// only term without a closed form, the full sign product, is integrated along a correlation path to ~1e-13.
    /// Bad arguments raise ArgumentException.
    let orthantProbability (covariance: float[,]) : float =
        let fail (message: string) : 'a = raise (ArgumentException(message, "covariance"))
        if isNull covariance then fail "covariance is null; it must be a square matrix of size 1 to 4."
        let n = Array2D.length1 covariance
        if n < 1 || n > 4 || Array2D.length2 covariance <> n then
            fail (sprintf "covariance is %dx%d; it must be square of size 1 to 4." n (Array2D.length2 covariance))
        for i in 0 .. n - 1 do
            for j in 0 .. n - 1 do
                if covariance.[i, j] <> covariance.[j, i] || Double.IsNaN covariance.[i, j] then
                    fail (sprintf "covariance[%d,%d] = %g does not match covariance[%d,%d]; it must be symmetric." i j covariance.[i, j] j i)
        match SmallMatrices.choleskyRows covariance with
        | Some rows -> orthantOfRows rows
        | None -> fail "covariance is not positive definite; it must be."

    /// Rows of v given v_j = 0 (the mean stays zero): every other row projected orthogonally to row_j.
    let private conditionOnZero (rows: float[][]) (j: int) =
        let aj = rows.[j]
        let njj = dot aj aj
        [| for k in 0 .. rows.Length - 1 do
               if k <> j then
                   let p = dot rows.[k] aj / njj
                   yield Array.map2 (fun x y -> x - p * y) rows.[k] aj |]

    /// Truncated moment E[Π_k v_k^{α_k} ; v ≥ 0] of v = rows·g, g standard normal, n = α.Length ≤ 4, by Stein's
    /// identity E[vᵢ f] = Σ_j Cov(vᵢ, v_j) E[∂_j f]: differentiating a power lowers the degree; differentiating the
    /// step 1{v_j ≥ 0} gives δ(v_j), i.e. the density at 0 times the same moment one dimension lower, conditioned on
    /// v_j = 0. The recursion ends in orthant probabilities. It needs the covariance to be non-singular (with a
    /// singular one, steps at exactly zero variance would be ambiguous), which is why reluProduct first maps low-rank
    /// cases onto simplicial cones.
    let rec orthantMoment (rows: float[][]) (alpha: int[]) : float =
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

    // ---------------------------------------------------------------- E[Π max(0, aᵢ·g)] by simplicial cones

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

    /// E[Π_{i=1}^{4} relu(aᵢ·g)], relu(z) = max(0, z), g ~ N(0, I_r), for four rows aᵢ in r ≤ 4 coordinates that
    /// span ℝʳ (SmallMatrices.reduceToSpan gives such rows). r = 1 is closed form;
    /// r = 4 is the orthant moment of z itself. For r = 2, 3 the cone {aᵢ·g ≥ 0} is cut into simplicial cones: on each,
    /// g = Vλ, λ ≥ 0, with λ ~ N(0, (VᵀV)⁻¹) exactly; Π(aᵢ·Vλ) expands into monomials with non-negative
    /// coefficients aᵢ·v_k, so the sum of orthant moments has no cancellation.
    let reluProduct (a: float[][]) : float =
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
                let inverse = SmallMatrices.inverse (Array2D.init r r (fun i j -> rays.[j].[i]))
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
