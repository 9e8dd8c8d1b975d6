module Hybrid.Analysis.Tests.Numerics.GaussianOrthantsTests

open System
open Expecto
open MathNet.Numerics
open Hybrid.Analysis.Numerics

// Closed forms (Sheppard's arcsine formulas, Stein's identity, factor models reduced to one-dimensional
// integrals) are met to rounding level: 1e-15 where only arcsines enter, 1e-13 where the four-variate path
// integral does (its promised accuracy).

let private within (tolerance: float) (actual: float) (expected: float) (message: string) =
    if not (abs (actual - expected) <= tolerance) then
        failtestf "%s: %.17g vs %.17g (difference %.3g > %.3g)" message actual expected (abs (actual - expected)) tolerance

/// The covariance with standard deviations s and correlations r (r.[i, i] ignored).
let private covariance (s: float[]) (r: float[,]) =
    Array2D.init s.Length s.Length (fun i j -> if i = j then s.[i] * s.[i] else r.[i, j] * (s.[i] * s.[j]))

/// Φ, the standard normal distribution function.
let private phi (x: float) = 0.5 * SpecialFunctions.Erfc(-x / sqrt 2.0)

/// Rows (factor form) of two independent standard bivariate pairs with correlations p and q.
let private twoPairs (p: float) (q: float) =
    [| [| 1.0; 0.0; 0.0; 0.0 |]; [| p; sqrt (1.0 - p * p); 0.0; 0.0 |]
       [| 0.0; 0.0; 1.0; 0.0 |]; [| 0.0; 0.0; q; sqrt (1.0 - q * q) |] |]

[<Tests>]
let tests =
    testList "GaussianOrthants" [
        test "bivariate: P(v > 0) = 1/4 + arcsin ρ/(2π) for any variances (Sheppard)" {
            for rho in [ -0.99; -0.9; -0.3; 0.0; 0.4; 0.95; 0.99 ] do
                for s in [ [| 1.0; 1.0 |]; [| 2.0; 0.1 |] ] do
                    let c = covariance s (array2D [ [ 1.0; rho ]; [ rho; 1.0 ] ])
                    within 1e-15 (GaussianOrthants.orthantProbability c) (0.25 + asin rho / (2.0 * Math.PI)) (sprintf "ρ = %g, σ = %A" rho s)
            // Nearly degenerate: arcsin of a correlation this close to ±1 is itself good to ~1e-10 only.
            for rho in [ -0.999999; 0.999999 ] do
                within 1e-10 (GaussianOrthants.orthantProbability (array2D [ [ 1.0; rho ]; [ rho; 1.0 ] ])) (0.25 + asin rho / (2.0 * Math.PI)) (sprintf "ρ = %g" rho)
        }
        test "trivariate: P(v > 0) = 1/8 + (arcsin ρ₁₂ + arcsin ρ₁₃ + arcsin ρ₂₃)/(4π)" {
            for r12, r13, r23 in [ 0.5, 0.5, 0.5; -0.4, 0.3, 0.6; 0.9, 0.85, 0.8; -0.45, -0.45, -0.05; 0.0, 0.0, 0.0 ] do
                let r = array2D [ [ 1.0; r12; r13 ]; [ r12; 1.0; r23 ]; [ r13; r23; 1.0 ] ]
                let expected = 0.125 + (asin r12 + asin r13 + asin r23) / (4.0 * Math.PI)
                within 1e-15 (GaussianOrthants.orthantProbability (covariance [| 1.5; 0.7; 3.0 |] r)) expected (sprintf "ρ = %g, %g, %g" r12 r13 r23)
        }
        test "four variables of a one-factor model equal their one-dimensional integral ∫φ(z) Π Φ(aᵢz/√(1 − aᵢ²)) dz" {
            // vᵢ = aᵢz + √(1 − aᵢ²)εᵢ: correlations aᵢaⱼ; given z the vᵢ are independent.
            for a in [ [| 0.3; 0.5; 0.7; 0.9 |]; [| 0.8; -0.6; 0.5; -0.9 |]; [| 0.95; 0.95; 0.95; 0.95 |]; [| 0.2; -0.1; 0.0; 0.4 |] ] do
                let c = Array2D.init 4 4 (fun i j -> if i = j then 1.0 else a.[i] * a.[j])
                let integrand (z: float) = exp (-0.5 * z * z) / sqrt (2.0 * Math.PI) * (a |> Array.fold (fun p ai -> p * phi (ai * z / sqrt (1.0 - ai * ai))) 1.0)
                let nodes, weights = Quadrature.composite 16 -40.0 40.0 400
                let expected = Array.fold2 (fun s z w -> s + w * integrand z) 0.0 nodes weights
                within 1e-13 (GaussianOrthants.orthantProbability c) expected (sprintf "a = %A" a)
        }
        test "four variables: an independent fourth halves the trivariate value, two independent pairs multiply" {
            let r3 = array2D [ [ 1.0; -0.4; 0.3 ]; [ -0.4; 1.0; 0.6 ]; [ 0.3; 0.6; 1.0 ] ]
            let c4 = Array2D.init 4 4 (fun i j -> if i < 3 && j < 3 then r3.[i, j] elif i = j then 2.0 else 0.0)
            within 1e-13 (GaussianOrthants.orthantProbability c4) (GaussianOrthants.orthantProbability r3 / 2.0) "P₄ = P₃/2"
            let p2 rho = 0.25 + asin rho / (2.0 * Math.PI)
            let pairs = array2D [ [ 1.0; 0.7; 0.0; 0.0 ]; [ 0.7; 1.0; 0.0; 0.0 ]; [ 0.0; 0.0; 1.0; -0.85 ]; [ 0.0; 0.0; -0.85; 1.0 ] ]
            within 1e-13 (GaussianOrthants.orthantProbability pairs) (p2 0.7 * p2 -0.85) "P₂(ρ) P₂(ρ')"
        }
        test "the 16 orthants of a four-variate Gaussian partition the space: their probabilities sum to 1" {
            let c = array2D [ [ 1.0; 0.3; -0.2; 0.1 ]; [ 0.3; 1.0; 0.4; -0.3 ]; [ -0.2; 0.4; 1.0; 0.25 ]; [ 0.1; -0.3; 0.25; 1.0 ] ]
            let probabilities =
                [ for mask in 0 .. 15 ->
                      let s i = if mask &&& (1 <<< i) <> 0 then -1.0 else 1.0
                      GaussianOrthants.orthantProbability (Array2D.init 4 4 (fun i j -> s i * s j * c.[i, j])) ]
            within 1e-13 (List.sum probabilities) 1.0 "Σ over sign patterns"
            Expect.isTrue (probabilities |> List.forall (fun p -> p > 0.0)) "every orthant has positive probability"
        }
        test "sign product of two independent pairs is (2/π)² arcsin ρ arcsin ρ'" {
            for p, q in [ 0.5, 0.5; 0.9, -0.3; -0.99, 0.2 ] do
                let expected = (2.0 / Math.PI) ** 2.0 * asin p * asin q
                within 1e-13 (GaussianOrthants.signProduct4 (twoPairs p q)) expected (sprintf "ρ = %g, ρ' = %g" p q)
            Expect.equal (GaussianOrthants.signProduct4 [| [| 1.0 |]; [| 2.0 |]; [| 0.0 |]; [| 1.0 |] |]) 0.0 "a coordinate that is identically 0"
        }
        test "arcsine of a correlation: the angle formula, accurate also for nearly parallel rows" {
            let a, b = [| 1.0; 2.0; -0.5 |], [| -0.3; 0.4; 1.1 |]
            let rho = SmallMatrices.dot a b / (SmallMatrices.norm a * SmallMatrices.norm b)
            within 1e-15 (GaussianOrthants.asinCorrelation a b) (asin rho) "general rows"
            // The angle between (1, 0) and (1, 1e-9) is atan 1e-9 = 1e-9 − 3.3e-28; arcsin of the rounded correlation would be 0.
            within 1e-24 (GaussianOrthants.asinCorrelation [| 1.0; 0.0 |] [| 1.0; 1e-9 |]) (Math.PI / 2.0 - 1e-9) "nearly parallel"
            Expect.equal (GaussianOrthants.asinCorrelation [| 0.0; 0.0 |] [| 1.0; 1.0 |]) 0.0 "a vanishing row"
        }
        test "truncated moments: one variable σᵏ 2^{k/2} Γ((k+1)/2)/(2√π); two variables by Stein's identity" {
            let sigma = 1.7
            for k in 0 .. 5 do
                let expected = sigma ** float k * 2.0 ** (float k / 2.0) * SpecialFunctions.Gamma((float k + 1.0) / 2.0) / (2.0 * sqrt Math.PI)
                within (1e-14 * max 1.0 expected) (GaussianOrthants.orthantMoment [| [| sigma |] |] [| k |]) expected (sprintf "E[v^%d ; v ≥ 0]" k)
            for rho in [ -0.8; 0.0; 0.35; 0.9 ] do
                let rows = [| [| 1.0; 0.0 |]; [| rho; sqrt (1.0 - rho * rho) |] |]
                // E[v₁v₂ ; v ≥ 0] is the arc-cosine kernel; E[v₁² ; v ≥ 0] = P₂ + ρ√(1 − ρ²)/(2π).
                let arcCosine = (sqrt (1.0 - rho * rho) + (Math.PI - acos rho) * rho) / (2.0 * Math.PI)
                within 1e-15 (GaussianOrthants.orthantMoment rows [| 1; 1 |]) arcCosine (sprintf "E[v₁v₂ ; v ≥ 0], ρ = %g" rho)
                let second = 0.25 + asin rho / (2.0 * Math.PI) + rho * sqrt (1.0 - rho * rho) / (2.0 * Math.PI)
                within 1e-15 (GaussianOrthants.orthantMoment rows [| 2; 0 |]) second (sprintf "E[v₁² ; v ≥ 0], ρ = %g" rho)
        }
        test "relu products: independent coordinates (2π)⁻², rank 1 (3/2)Π|sᵢ|, rank 2 a circle average" {
            let identity = Array.init 4 (fun i -> Array.init 4 (fun j -> if i = j then 1.0 else 0.0))
            within 1e-15 (GaussianOrthants.reluProduct identity) (1.0 / (4.0 * Math.PI * Math.PI)) "E[relu g]⁴"
            within 1e-15 (GaussianOrthants.reluProduct [| [| 0.5 |]; [| 2.0 |]; [| 1.0 |]; [| 0.3 |] |]) 0.45 "one sign"
            Expect.equal (GaussianOrthants.reluProduct [| [| 0.5 |]; [| -2.0 |]; [| 1.0 |]; [| 0.3 |] |]) 0.0 "mixed signs"
            // g = r(cos θ, sin θ): E = (1/2π) ∫dθ Π relu(aᵢ·u(θ)) ∫r⁵e^{−r²/2}dr = (8/2π) ∫dθ Π relu(aᵢ·u(θ)). The
            // integrand is a trigonometric polynomial between the angles where some aᵢ·u changes sign.
            let a = [| [| 1.0; 0.2 |]; [| 0.3; 1.0 |]; [| 1.0; -0.4 |]; [| 0.6; 0.5 |] |]
            let f (theta: float) = a |> Array.fold (fun p ai -> p * max 0.0 (ai.[0] * cos theta + ai.[1] * sin theta)) 1.0
            let kinks = a |> Array.collect (fun ai -> let t = atan2 ai.[0] -ai.[1] in [| t; t + Math.PI |]) |> Array.map (fun t -> (t % (2.0 * Math.PI) + 2.0 * Math.PI) % (2.0 * Math.PI))
            let mesh = Array.concat [ [| 0.0 |]; Array.sort kinks; [| 2.0 * Math.PI |] ]
            let expected = 8.0 / (2.0 * Math.PI) * Quadrature.overMesh 16 f mesh
            within 1e-14 (GaussianOrthants.reluProduct a) expected "rank 2"
        }
        test "bad covariances are refused, naming the argument" {
            let refused (c: float[,]) (what: string) =
                let e = Expect.throwsC (fun () -> GaussianOrthants.orthantProbability c |> ignore) id
                match e with
                | :? ArgumentException as a -> Expect.equal a.ParamName "covariance" what
                | other -> failtestf "%s: %s instead of ArgumentException" what (other.GetType().Name)
            refused (Array2D.init 5 5 (fun i j -> if i = j then 1.0 else 0.0)) "size 5"
            refused (array2D [ [ 1.0; 0.5 ]; [ 0.4; 1.0 ] ]) "not symmetric"
            refused (array2D [ [ 1.0; nan ]; [ nan; 1.0 ] ]) "NaN"
            refused (array2D [ [ 1.0; 2.0 ]; [ 2.0; 1.0 ] ]) "not positive definite"
            refused (Array2D.zeroCreate 2 3) "not square"
        }
    ]
