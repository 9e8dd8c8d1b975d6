module Hybrid.Analysis.Tests.Nnft.KernelsTests

open System
open Expecto
open MathNet.Numerics
open MathNet.Numerics.LinearAlgebra
open Hybrid.Analysis.Numerics
open Hybrid.Analysis.Nnft

// Tolerances. The paper's reference values are given to 3-4 significant digits, so they are checked to half a
// unit of the last digit given. Closed forms against brute-force Gauss–Hermite of smooth integrands: 1e-10
// relative (the rule converges geometrically; 1e-10 leaves room for rounding in sums of ~10⁴ terms). ReLU
// brute force has kinks, so midpoint/trapezoid rules only reach O(h²): 1e-6 to 1e-5 there, or 5 standard
// errors for Monte Carlo. Radial quadratures are promised to 1e-8 relative; they are checked at that level or
// tighter, and against analytic truncation-error bounds where the cutoff is finite.

let private near (tolerance: float) (actual: float) (expected: float) (message: string) =
    let error = abs (actual - expected)
    if not (error <= tolerance * max 1.0 (abs expected)) then
        failtestf "%s: %.15g vs %.15g (difference %.3g > %.3g)" message actual expected error (tolerance * max 1.0 (abs expected))

let private relative (tolerance: float) (actual: float) (expected: float) (message: string) =
    let error = abs (actual - expected)
    if not (error <= tolerance * abs expected) then
        failtestf "%s: %.15g vs %.15g (relative difference %.3g > %.3g)" message actual expected (error / abs expected) tolerance

/// Probabilists' Gauss–Hermite rule (weight e^{−x²/2}/√(2π), weights summing to 1) by Golub–Welsch.
let private hermite (n: int) =
    let jacobi = Matrix<float>.Build.Dense(n, n)
    for k in 1 .. n - 1 do
        jacobi.[k - 1, k] <- sqrt (float k)
        jacobi.[k, k - 1] <- sqrt (float k)
    let evd = jacobi.Evd(Symmetricity.Symmetric)
    Array.init n (fun k -> evd.EigenValues.[k].Real), Array.init n (fun k -> let v = evd.EigenVectors.[0, k] in v * v)

/// E f(g), g ~ N(0, I_k), by a tensor Gauss–Hermite rule of n points per axis.
let private gaussian (k: int) (n: int) (f: float[] -> float) =
    let x, w = hermite n
    let g = Array.zeroCreate k
    let rec go level weight =
        if level = k then weight * f g
        else
            let mutable s = 0.0
            for i in 0 .. n - 1 do
                g.[level] <- x.[i]
                s <- s + go (level + 1) (weight * w.[i])
            s
    go 0 1.0

let private dot (x: float[]) (y: float[]) = Array.fold2 (fun s a b -> s + a * b) 0.0 x y

/// One hidden unit written out from its definition, with (W0, b0) = (σ_W/√d · g[0..d−1], σ_b · g[d]).
let private unit (net: SingleLayer) (g: float[]) (x: float[]) =
    let d = net.InputDimension
    let mutable z = net.SigmaB * g.[d]
    for k in 0 .. d - 1 do z <- z + net.SigmaW / sqrt (float d) * g.[k] * x.[k]
    match net.Activation with
    | Erf -> SpecialFunctions.Erf z
    | Relu -> max 0.0 z
    | Gauss -> exp (z - (net.SigmaB * net.SigmaB + net.SigmaW * net.SigmaW * dot x x / float d))
    | Exp -> exp z

/// Rows aᵢ with zᵢ = aᵢ·g: (σ_W xᵢ/√d, σ_b).
let private rows (net: SingleLayer) (xs: float[][]) =
    xs |> Array.map (fun x -> Array.append (x |> Array.map (fun v -> net.SigmaW * v / sqrt (float net.InputDimension))) [| net.SigmaB |])

/// E Π relu(aᵢ·g) for g ∈ ℝ²: the product is homogeneous of degree k, so it is E ρᵏ (2 for k = 2, 8 for k = 4)
/// times the average over the circle, taken by the trapezoid rule (error O(h²) at the kinks).
let private reluCircle (a: float[][]) =
    let m = 400_000
    let mutable s = 0.0
    for t in 0 .. m - 1 do
        let theta = 2.0 * Math.PI * float t / float m
        let w = [| cos theta; sin theta |]
        s <- s + (a |> Array.fold (fun p ai -> p * max 0.0 (dot ai w)) 1.0)
    (if a.Length = 2 then 2.0 else 8.0) * s / float m

/// Same on the sphere S² (E ρ⁴ = 15 in three dimensions), midpoint rule in (cos θ, ψ).
let private reluSphere (a: float[][]) =
    let nu, npsi = 1500, 3000
    let mutable s = 0.0
    for i in 0 .. nu - 1 do
        let u = -1.0 + (float i + 0.5) * 2.0 / float nu
        let rho = sqrt (1.0 - u * u)
        for j in 0 .. npsi - 1 do
            let psi = (float j + 0.5) * 2.0 * Math.PI / float npsi
            let w = [| rho * cos psi; rho * sin psi; u |]
            s <- s + (a |> Array.fold (fun p ai -> p * max 0.0 (dot ai w)) 1.0)
    15.0 * s / float (nu * npsi)

/// Composite Simpson rule: an independent, algebraically convergent check of the Gauss–Legendre panels.
let private simpson (f: float -> float) (a: float) (b: float) (n: int) =
    let h = (b - a) / float n
    let mutable s = f a + f b
    for k in 1 .. n - 1 do s <- s + (if k % 2 = 1 then 4.0 else 2.0) * f (a + float k * h)
    s * h / 3.0

/// A_d(z) by its Poisson integral Γ(d/2)/(√π Γ((d−1)/2)) ∫₀^π cos(z cos θ) sin^{d−2}θ dθ, d ≥ 2.
let private poisson (d: int) (z: float) =
    let c = exp (SpecialFunctions.GammaLn(float d / 2.0) - SpecialFunctions.GammaLn(float (d - 1) / 2.0)) / sqrt Math.PI
    c * simpson (fun t -> cos (z * cos t) * Math.Pow(sin t, float (d - 2))) 0.0 Math.PI 20_000

let private layer activation d sw sb : SingleLayer = { Activation = activation; InputDimension = d; SigmaW = sw; SigmaB = sb }
let private cosNet d m cutoff : CosNet = { InputDimension = d; Mass = m; Cutoff = cutoff }
let private points (xs: float list) = xs |> List.map (fun x -> [| x |]) |> Array.ofList

[<Tests>]
let tests =
    testList "NnftKernels" [
        testList "reference values" [
            test "Gauss-net G4c, σ_W = 0.6, σ_b = 0.3, d = 1 (arXiv:2008.08601)" {
                // Given to 3 significant digits: half a unit of the last digit.
                let net = layer Gauss 1 0.6 0.3
                let xs = points [ -0.3; 0.0; 0.2; 0.5 ]
                near 5e-5 (SingleLayerKernels.fourPointConnected net 2 xs) 0.0708 "N = 2"
                near 5e-5 (SingleLayerKernels.fourPointConnected net 8 xs) 0.0177 "N = 8"
            }
            test "Cos-net G4c, d = 1, m = 1, no cutoff" {
                let net = cosNet 1 1.0 None
                let xs = points [ 0.0; 0.4; 1.0; 1.5 ]
                near 5e-5 (CosNetKernels.cosFourPointConnected net 1 xs) 0.3748 "N = 1"
                near 5e-5 (CosNetKernels.cosFourPointConnected net 4 xs) 0.0937 "N = 4"
            }
            test "G4c is exactly ∝ 1/N" {
                let xs = points [ -0.3; 0.0; 0.2; 0.5 ]
                for net in [ layer Gauss 1 0.6 0.3; layer Exp 1 0.6 0.3; layer Erf 1 1.1 0.3; layer Relu 1 1.1 0.3 ] do
                    relative 1e-14 (7.0 * SingleLayerKernels.fourPointConnected net 7 xs) (SingleLayerKernels.fourPointConnected net 1 xs) (sprintf "%A" net.Activation)
                relative 1e-14 (5.0 * CosNetKernels.cosFourPointConnected (cosNet 1 1.0 None) 5 xs) (CosNetKernels.cosFourPointConnected (cosNet 1 1.0 None) 1 xs) "cos"
            }
        ]

        testList "single-layer kernels" [
            test "all four kernels equal brute-force Gauss–Hermite over (W0, b0) in d = 1" {
                let x, y = [| 0.7 |], [| -0.4 |]
                for activation, n, tolerance in [ Erf, 120, 1e-10; Gauss, 60, 1e-12; Exp, 60, 1e-12 ] do
                    let net = layer activation 1 1.2 0.5
                    let brute = net.SigmaB ** 2.0 + net.SigmaW ** 2.0 * gaussian 2 n (fun g -> unit net g x * unit net g y)
                    relative tolerance (SingleLayerKernels.kernel net x y) brute (sprintf "%A" activation)
                // ReLU: homogeneous, so a circle average (trapezoid, O(h²) at the kinks).
                let net = layer Relu 1 1.2 0.5
                let brute = 0.25 + 1.44 * reluCircle (rows net [| x; y |])
                relative 1e-8 (SingleLayerKernels.kernel net x y) brute "Relu"
            }
            test "Gauss- and Exp-net kernels equal brute force in d = 2 (the 1/d in W0's variance)" {
                let x, y = [| 0.7; -0.2 |], [| -0.4; 0.5 |]
                for activation in [ Gauss; Exp ] do
                    let net = layer activation 2 0.9 0.4
                    let brute = 0.16 + 0.81 * gaussian 3 30 (fun g -> unit net g x * unit net g y)
                    relative 1e-12 (SingleLayerKernels.kernel net x y) brute (sprintf "%A" activation)
            }
            test "Gauss-net kernel is translation invariant, Exp-net is not" {
                let shift = [| 0.37; -1.1 |]
                let moved (v: float[]) = Array.map2 (+) v shift
                let x, y = [| 0.7; -0.2 |], [| -0.4; 0.5 |]
                let gauss = layer Gauss 2 0.9 0.4
                relative 1e-14 (SingleLayerKernels.kernel gauss (moved x) (moved y)) (SingleLayerKernels.kernel gauss x y) "Gauss"
                let exp' = layer Exp 2 0.9 0.4
                Expect.isGreaterThan (abs (SingleLayerKernels.kernel exp' (moved x) (moved y) - SingleLayerKernels.kernel exp' x y)) 1e-3 "Exp moves"
            }
            test "ReLU diagonal is σ_b² + σ_W² K₀/2, erf the arcsine formula" {
                let x = [| 0.3; -1.2; 0.8 |]
                let relu = layer Relu 3 1.4 0.2
                let k0 = SingleLayerKernels.preactivationKernel relu x x
                relative 1e-15 (SingleLayerKernels.kernel relu x x) (0.04 + 1.96 * k0 / 2.0) "relu"
                let erf = layer Erf 3 1.4 0.2
                relative 1e-15 (SingleLayerKernels.kernel erf x x) (0.04 + 1.96 * 2.0 / Math.PI * asin (2.0 * k0 / (1.0 + 2.0 * k0))) "erf"
            }
        ]

        testList "deep kernels" [
            test "depth 1 is kernel, bit for bit" {
                let x, y = [| 0.3; -1.2 |], [| -0.5; 0.4 |]
                for activation in [ Erf; Relu; Gauss; Exp ] do
                    let net = layer activation 2 1.3 0.2
                    Expect.equal (SingleLayerKernels.deepKernel activation 1 2 1.3 0.2 x y) (SingleLayerKernels.kernel net x y) (sprintf "%A" activation)
            }
            test "depth 3 follows the layer recursion (no 1/d after the first layer)" {
                let x, y = [| 0.3; -1.2 |], [| -0.5; 0.4 |]
                let sw, sb = 1.3, 0.2
                let net = layer Relu 2 sw sb
                let step kxx kxy kyy =
                    let s = sqrt (kxx * kyy)
                    let c = kxy / s
                    let t = acos c
                    sb * sb + sw * sw * s * (sin t + (Math.PI - t) * c) / (2.0 * Math.PI)
                let mutable kxx, kxy, kyy = SingleLayerKernels.kernel net x x, SingleLayerKernels.kernel net x y, SingleLayerKernels.kernel net y y
                for _ in 2 .. 3 do
                    let nxy = step kxx kxy kyy
                    kxx <- sb * sb + sw * sw * kxx / 2.0
                    kyy <- sb * sb + sw * sw * kyy / 2.0
                    kxy <- nxy
                relative 1e-14 (SingleLayerKernels.deepKernel Relu 3 2 sw sb x y) kxy "relu depth 3"
                let erf2 = SingleLayerKernels.deepKernel Erf 2 2 sw sb x y
                let e1 u v = SingleLayerKernels.kernel (layer Erf 2 sw sb) u v
                let expected = sb * sb + sw * sw * 2.0 / Math.PI * asin (2.0 * e1 x y / sqrt ((1.0 + 2.0 * e1 x x) * (1.0 + 2.0 * e1 y y)))
                relative 1e-14 erf2 expected "erf depth 2"
            }
            test "Exp depth 2 equals brute force over the second layer's Gaussian pre-activations" {
                let x, y = [| 0.3 |], [| -0.5 |]
                let sw, sb = 0.5, 0.2
                let k u v = SingleLayerKernels.kernel (layer Exp 1 sw sb) u v
                let kxx, kxy, kyy = k x x, k x y, k y y
                // (u, v) = Cholesky factor × g.
                let l11 = sqrt kxx
                let l21 = kxy / l11
                let l22 = sqrt (kyy - l21 * l21)
                let brute = sb * sb + sw * sw * gaussian 2 60 (fun g -> exp (l11 * g.[0]) * exp (l21 * g.[0] + l22 * g.[1]))
                relative 1e-12 (SingleLayerKernels.deepKernel Exp 2 1 sw sb x y) brute "exp depth 2"
            }
        ]

        testList "hidden 4-point moments" [
            let xs = points [ -0.7; 0.1; 0.5; 1.2 ]
            yield test "Gauss- and Exp-net μ₄ and G4c equal brute force in d = 1" {
                for activation in [ Gauss; Exp ] do
                    let net = layer activation 1 0.6 0.3
                    let mu4 = gaussian 2 60 (fun g -> xs |> Array.fold (fun p x -> p * unit net g x) 1.0)
                    relative 1e-12 (SingleLayerKernels.hiddenFourPoint net xs) mu4 (sprintf "%A μ₄" activation)
                    let kt i j = gaussian 2 60 (fun g -> unit net g xs.[i] * unit net g xs.[j])
                    let g4 = 0.6 ** 4.0 / 3.0 * (3.0 * mu4 - (kt 0 1 * kt 2 3 + kt 0 2 * kt 1 3 + kt 0 3 * kt 1 2))
                    relative 1e-10 (SingleLayerKernels.fourPointConnected net 3 xs) g4 (sprintf "%A G4c" activation)
            }
            yield test "erf μ₄ at four equal points with K₀ = 1/2 is 1/5 (equicorrelated orthant, ρ = 1/2)" {
                // 2C + I has correlations 1/2, P(all > 0) = 1/5 exactly, so E Π sign = 16(1/5 − 1/16 − 6·(π/6)/(8π)) = 1/5.
                let x = [| sqrt 0.5 |]
                near 1e-12 (SingleLayerKernels.hiddenFourPoint (layer Erf 1 1.0 0.0) [| x; x; x; x |]) 0.2 "E erf(z)⁴"
            }
            yield test "erf μ₄ equals brute-force Gauss–Hermite in d = 1" {
                let net = layer Erf 1 1.3 0.4
                let brute = gaussian 2 160 (fun g -> xs |> Array.fold (fun p x -> p * unit net g x) 1.0)
                near 1e-10 (SingleLayerKernels.hiddenFourPoint net xs) brute "μ₄"
            }
            yield test "erf μ₄ in d = 3 matches Monte Carlo (5 standard errors)" {
                let net = layer Erf 3 1.3 0.4
                let ys = [| [| 0.3; -0.2; 0.9 |]; [| -0.5; 0.4; 0.1 |]; [| 0.8; 0.7; -0.6 |]; [| 0.0; -0.9; 0.2 |] |]
                let random = Random(20240229)
                let normal () = sqrt (-2.0 * log (1.0 - random.NextDouble())) * cos (2.0 * Math.PI * random.NextDouble())
                let n = 1_000_000
                let mutable s, s2 = 0.0, 0.0
                let g = Array.zeroCreate 4
                for _ in 1 .. n do
                    for k in 0 .. 3 do g.[k] <- normal ()
                    let v = ys |> Array.fold (fun p x -> p * unit net g x) 1.0
                    s <- s + v
                    s2 <- s2 + v * v
                let mean = s / float n
                let error = sqrt ((s2 / float n - mean * mean) / float n)
                near (5.0 * error) (SingleLayerKernels.hiddenFourPoint net ys) mean "μ₄"
            }
            yield test "ReLU μ₄ at four equal points is 3K₀²/2 (rank 1)" {
                let net = layer Relu 2 1.1 0.3
                let x = [| 0.4; -0.8 |]
                let k0 = SingleLayerKernels.preactivationKernel net x x
                relative 1e-13 (SingleLayerKernels.hiddenFourPoint net [| x; x; x; x |]) (1.5 * k0 * k0) "μ₄"
            }
            yield test "ReLU μ₄ without bias in d = 1 is (3/2)σ_W⁴ Π xᵢ for one sign, 0 for mixed signs" {
                let net = layer Relu 1 0.9 0.0
                relative 1e-13 (SingleLayerKernels.hiddenFourPoint net (points [ 0.2; 0.5; 1.0; 1.5 ])) (1.5 * 0.9 ** 4.0 * 0.15) "positive"
                relative 1e-13 (SingleLayerKernels.hiddenFourPoint net (points [ -0.2; -0.5; -1.0; -1.5 ])) (1.5 * 0.9 ** 4.0 * 0.15) "negative"
                Expect.equal (SingleLayerKernels.hiddenFourPoint net (points [ -0.2; 0.5; 1.0; 1.5 ])) 0.0 "mixed"
            }
            yield test "ReLU μ₄ in d = 1 (rank 2) equals a circle average" {
                let net = layer Relu 1 1.3 0.4
                relative 1e-6 (SingleLayerKernels.hiddenFourPoint net xs) (reluCircle (rows net xs)) "μ₄"
                let ys = points [ -1.5; -0.2; 0.3; 2.0 ]
                relative 1e-6 (SingleLayerKernels.hiddenFourPoint net ys) (reluCircle (rows net ys)) "μ₄ wide"
            }
            yield test "ReLU μ₄ in d = 2 (rank 3) equals a sphere average" {
                let net = layer Relu 2 1.3 0.4
                let ys = [| [| 0.3; -0.2 |]; [| -0.5; 0.4 |]; [| 0.8; 0.7 |]; [| 0.0; -0.9 |] |]
                relative 2e-5 (SingleLayerKernels.hiddenFourPoint net ys) (reluSphere (rows net ys)) "μ₄"
            }
            yield test "ReLU μ₄ for two independent pairs (rank 4) is K̃₁₂K̃₃₄" {
                let net = layer Relu 4 1.2 0.0
                let a, b = 0.7, 2.1
                let ys = [| [| 1.0; 0.0; 0.0; 0.0 |]; [| cos a; sin a; 0.0; 0.0 |]; [| 0.0; 0.0; 1.5; 0.0 |]; [| 0.0; 0.0; 1.5 * cos b; 1.5 * sin b |] |]
                let expected = SingleLayerKernels.hiddenCorrelation net ys.[0] ys.[1] * SingleLayerKernels.hiddenCorrelation net ys.[2] ys.[3]
                relative 1e-12 (SingleLayerKernels.hiddenFourPoint net ys) expected "μ₄"
            }
            yield test "ReLU μ₄ in d = 3 (rank 4) matches Monte Carlo (5 standard errors)" {
                let net = layer Relu 3 1.3 0.4
                let ys = [| [| 0.3; -0.2; 0.9 |]; [| -0.5; 0.4; 0.1 |]; [| 0.8; 0.7; -0.6 |]; [| 0.0; -0.9; 0.2 |] |]
                let a = rows net ys
                let random = Random(12345)
                let normal () = sqrt (-2.0 * log (1.0 - random.NextDouble())) * cos (2.0 * Math.PI * random.NextDouble())
                let n = 2_000_000
                let mutable s, s2 = 0.0, 0.0
                let g = Array.zeroCreate 4
                for _ in 1 .. n do
                    for k in 0 .. 3 do g.[k] <- normal ()
                    let v = a |> Array.fold (fun p ai -> p * max 0.0 (dot ai g)) 1.0
                    s <- s + v
                    s2 <- s2 + v * v
                let mean = s / float n
                let error = sqrt ((s2 / float n - mean * mean) / float n)
                near (5.0 * error) (SingleLayerKernels.hiddenFourPoint net ys) mean "μ₄"
            }
            yield test "ReLU μ₄ is continuous across ranks and symmetric in the points" {
                // rank 3 → 4: a tiny bias in d = 3 without bias; rank 2 → 3: tiny second coordinates in d = 2.
                let ys = [| [| 0.3; -0.2; 0.9 |]; [| -0.5; 0.4; 0.1 |]; [| 0.8; 0.7; -0.6 |]; [| 0.4; -0.9; 0.2 |] |]
                let rank3 = SingleLayerKernels.hiddenFourPoint (layer Relu 3 1.3 0.0) ys
                relative 1e-6 (SingleLayerKernels.hiddenFourPoint (layer Relu 3 1.3 1e-8) ys) rank3 "3 → 4"
                let flat eps = [| [| -0.7; 0.3 * eps |]; [| 0.1; -0.5 * eps |]; [| 0.5; 0.9 * eps |]; [| 1.2; 0.2 * eps |] |]
                let rank2 = SingleLayerKernels.hiddenFourPoint (layer Relu 2 1.3 0.4) (flat 0.0)
                relative 1e-6 (SingleLayerKernels.hiddenFourPoint (layer Relu 2 1.3 0.4) (flat 1e-8)) rank2 "2 → 3"
                // rank 1 → 4: four points within 1e-7 of each other in d = 3 (a nearly singular 4×4 covariance).
                let c = [| 0.5; 0.2; -0.3 |]
                let cluster eps = ys |> Array.map (fun y -> Array.map2 (fun a b -> a + eps * b) c y)
                let rank1 = SingleLayerKernels.hiddenFourPoint (layer Relu 3 1.3 0.4) (cluster 0.0)
                relative 1e-6 (SingleLayerKernels.hiddenFourPoint (layer Relu 3 1.3 0.4) (cluster 1e-7)) rank1 "1 → 4"
                for net, zs in [ layer Relu 3 1.3 0.4, ys; layer Relu 3 1.3 0.0, ys; layer Relu 2 1.3 0.4, flat 0.3 ] do
                    let reference = SingleLayerKernels.hiddenFourPoint net zs
                    for order in [ [| 3; 1; 0; 2 |]; [| 2; 3; 1; 0 |]; [| 1; 0; 3; 2 |] ] do
                        relative 1e-11 (SingleLayerKernels.hiddenFourPoint net (order |> Array.map (fun k -> zs.[k]))) reference "permuted"
            }
            yield test "orthant probabilities: independent, equicorrelated ρ = 1/2, two blocks" {
                let identity n = Array2D.init n n (fun i j -> if i = j then 2.0 else 0.0)
                for n in 1 .. 4 do near 1e-14 (GaussianOrthants.orthantProbability (identity n)) (0.5 ** float n) (sprintf "independent %d" n)
                let half n = Array2D.init n n (fun i j -> if i = j then 1.0 else 0.5)
                near 1e-14 (GaussianOrthants.orthantProbability (half 3)) 0.25 "ρ = 1/2, n = 3"
                near 1e-13 (GaussianOrthants.orthantProbability (half 4)) 0.2 "ρ = 1/2, n = 4"
                let blocks = array2D [ [ 1.0; -0.6; 0.0; 0.0 ]; [ -0.6; 1.0; 0.0; 0.0 ]; [ 0.0; 0.0; 2.0; 1.9 ]; [ 0.0; 0.0; 1.9; 2.0 ] ]
                let p2 rho = 0.25 + asin rho / (2.0 * Math.PI)
                near 1e-13 (GaussianOrthants.orthantProbability blocks) (p2 -0.6 * p2 0.95) "blocks"
            }
        ]

        testList "cos-net" [
            test "amplitude variance: closed forms in d = 1, 2, 3" {
                relative 1e-15 (CosNetKernels.cosAmplitudeVariance (cosNet 1 1.7 None)) (1.0 / 3.4) "d = 1, no cutoff"
                relative 1e-14 (CosNetKernels.cosAmplitudeVariance (cosNet 1 1.7 (Some 9.0))) (atan (9.0 / 1.7) / (1.7 * Math.PI)) "d = 1"
                relative 1e-14 (CosNetKernels.cosAmplitudeVariance (cosNet 2 1.7 (Some 9.0))) (log (1.0 + 81.0 / 2.89) / (4.0 * Math.PI)) "d = 2"
                relative 1e-13 (CosNetKernels.cosAmplitudeVariance (cosNet 3 1.7 (Some 9.0))) ((9.0 - 1.7 * atan (9.0 / 1.7)) / (2.0 * Math.PI * Math.PI)) "d = 3"
            }
            test "d = 1 without cutoff: G₂ = e^{−m|t|}/(2m) exactly" {
                let net = cosNet 1 1.3 None
                relative 1e-15 (CosNetKernels.cosKernel net [| 0.2 |] [| -0.9 |]) (exp (-1.3 * 1.1) / 2.6) "G₂"
            }
            test "d = 1 with a large cutoff approaches e^{−m|t|}/(2m) within the tail bound 2/(π t (Λ² + m²))" {
                let m, t = 1.0, 0.75
                for cutoff in [ 30.0; 1000.0 ] do
                    let bound = 2.0 / (Math.PI * t * (cutoff * cutoff + m * m))
                    near bound (CosNetKernels.cosKernel (cosNet 1 m (Some cutoff)) [| t |] [| 0.0 |]) (exp (-m * t) / (2.0 * m)) (sprintf "Λ = %g" cutoff)
            }
            test "d = 3 with a large cutoff approaches e^{−m r}/(4π r) within Λ/((Λ² + m²) π² r²)" {
                let m, r, cutoff = 0.7, 1.1, 3000.0
                let bound = cutoff / (cutoff * cutoff + m * m) / (Math.PI * Math.PI * r * r)
                let g2 = CosNetKernels.cosKernel (cosNet 3 m (Some cutoff)) [| 0.0; r; 0.0 |] [| 0.0; 0.0; 0.0 |]
                near bound g2 (exp (-m * r) / (4.0 * Math.PI * r)) "G₂"
                Expect.isLessThan bound (1e-3 * g2) "the bound is tight enough to mean something"
            }
            test "d = 2 with a large cutoff approaches K₀(m r)/(2π)" {
                // The tail ∫_Λ^∞ p J₀(pr)/(p² + m²) dp is O((Λr)^{-3/2}) ≈ 1e-5 here.
                let m, r, cutoff = 0.9, 1.3, 2000.0
                let g2 = CosNetKernels.cosKernel (cosNet 2 m (Some cutoff)) [| 0.6; -0.2 |] [| 0.6 - r * 0.6; -0.2 + r * 0.8 |]
                relative 2e-4 g2 (SpecialFunctions.BesselK0(m * r) / (2.0 * Math.PI)) "G₂"
            }
            test "angular average A_d: cos, J₀, sin z / z and closed forms" {
                near 1e-15 (CosNetKernels.cosAngularAverage 1 2.3) (cos 2.3) "d = 1"
                near 1e-15 (CosNetKernels.cosAngularAverage 2 1.0) 0.7651976865579666 "J₀(1)"
                near 1e-15 (CosNetKernels.cosAngularAverage 2 10.0) -0.2459357644513483 "J₀(10)"
                near 1e-15 (CosNetKernels.cosAngularAverage 2 2.404825557695773) 0.0 "first zero of J₀"
                for z in [ 0.0; 0.3; 7.0 ] do
                    near 1e-15 (CosNetKernels.cosAngularAverage 3 z) (if z = 0.0 then 1.0 else sin z / z) (sprintf "d = 3, z = %g" z)
                for z in [ 0.5; 3.1; 3.2; 20.0 ] do
                    near 1e-14 (CosNetKernels.cosAngularAverage 5 z) (3.0 * (sin z - z * cos z) / (z * z * z)) (sprintf "d = 5, z = %g" z)
                for d, z in [ 2, 1.7; 2, 2.1; 4, 2.7; 4, 2.9; 8, 3.9; 8, 4.1; 8, 25.0; 13, 40.0 ] do
                    near 1e-12 (CosNetKernels.cosAngularAverage d z) (poisson d z) (sprintf "d = %d, z = %g (Poisson integral)" d z)
            }
            test "E cos(b·y) equals an independent Simpson quadrature in d = 1, 2, 5" {
                for d, m, cutoff, y in [ 1, 1.3, 7.0, [| 2.5 |]; 2, 0.8, 9.0, [| 1.2; -0.9 |]; 5, 1.0, 6.0, [| 0.0; 1.2; 0.0; -1.6; 0.0 |] ] do
                    let size = sqrt (dot y y)
                    let angular z =
                        match d with
                        | 1 -> cos z
                        | 2 -> simpson (fun t -> cos (z * sin t)) 0.0 Math.PI 64 / Math.PI   // spectral for periodic
                        | _ -> if z < 1e-3 then 1.0 - z * z / 10.0 else 3.0 * (sin z - z * cos z) / (z * z * z)
                    let weight r = Math.Pow(r, float (d - 1)) / (r * r + m * m)
                    let expected = simpson (fun r -> weight r * angular (r * size)) 0.0 cutoff 200_000 / simpson weight 0.0 cutoff 200_000
                    near 1e-11 (CosNetKernels.cosCharacteristic (cosNet d m (Some cutoff)) y) expected (sprintf "d = %d" d)
            }
            test "radial quadrature converges: doubling the panels changes E cos(b·y) by < 1e-8 relative at Λ|y| = 200" {
                for d in [ 1; 2; 3; 4 ] do
                    let net = cosNet d 1.0 (Some 100.0)
                    let y = Array.init d (fun k -> if k = 0 then 2.0 else 0.0)
                    let coarse = CosNetKernels.cosCharacteristicRefined 1 net y
                    let fine = CosNetKernels.cosCharacteristicRefined 2 net y
                    let finer = CosNetKernels.cosCharacteristicRefined 4 net y
                    Expect.equal coarse (CosNetKernels.cosCharacteristic net y) "refine 1 is cosCharacteristic"
                    relative 1e-8 coarse finer (sprintf "d = %d, 1 vs 4" d)
                    near 1e-13 fine finer (sprintf "d = %d, 2 vs 4 (absolute)" d)
            }
            test "radial quantile: monotone, 0 ↦ 0, 1 ↦ Λ, inverse of the CDF" {
                for d in [ 1; 2; 3; 5 ] do
                    let net = cosNet d 1.5 (Some 10.0)
                    let q = [| for k in 0 .. 100 -> CosNetKernels.cosRadialQuantile net (float k / 100.0) |]
                    Expect.equal q.[0] 0.0 (sprintf "d = %d, u = 0" d)
                    Expect.equal q.[100] 10.0 (sprintf "d = %d, u = 1" d)
                    for k in 1 .. 100 do Expect.isGreaterThan q.[k] q.[k - 1] (sprintf "d = %d, monotone at %d" d k)
                    for k in 1 .. 99 do near 1e-12 (CosNetKernels.cosRadialCdf net q.[k]) (float k / 100.0) (sprintf "d = %d, F(Q(u)) = u" d)
            }
            test "radial quantile in closed form: half-Cauchy median m; d = 3 as the C# sampler's equation" {
                let free = cosNet 1 1.7 None
                relative 1e-15 (CosNetKernels.cosRadialQuantile free 0.5) 1.7 "median"
                Expect.equal (CosNetKernels.cosRadialQuantile free 1.0) Double.PositiveInfinity "u = 1"
                near 1e-15 (CosNetKernels.cosRadialCdf free (CosNetKernels.cosRadialQuantile free 0.83)) 0.83 "F(Q(u))"
                let m, cutoff, u = 1.5, 10.0, 0.37
                let r = CosNetKernels.cosRadialQuantile (cosNet 3 m (Some cutoff)) u
                relative 1e-12 (r - m * atan (r / m)) (u * (cutoff - m * atan (cutoff / m))) "r − m atan(r/m) = u(Λ − m atan(Λ/m))"
                let r2 = CosNetKernels.cosRadialQuantile (cosNet 2 m (Some cutoff)) u
                relative 1e-14 (log (1.0 + r2 * r2 / (m * m))) (u * log (1.0 + cutoff * cutoff / (m * m))) "d = 2"
            }
        ]

        testList "argument checks" [
            let throws (why: string) (f: unit -> 'a) = test why { Expect.throwsT<ArgumentException> (f >> ignore) why }
            let x1, xs = [| 0.1 |], points [ 0.0; 0.1; 0.2; 0.3 ]
            yield throws "d = 0" (fun () -> SingleLayerKernels.kernel (layer Erf 0 1.0 0.1) [||] [||])
            yield throws "σ_W < 0" (fun () -> SingleLayerKernels.kernel (layer Erf 1 -1.0 0.1) x1 x1)
            yield throws "σ_b < 0" (fun () -> SingleLayerKernels.kernel (layer Relu 1 1.0 -0.1) x1 x1)
            yield throws "σ_b NaN" (fun () -> SingleLayerKernels.kernel (layer Relu 1 1.0 nan) x1 x1)
            yield throws "point of the wrong dimension" (fun () -> SingleLayerKernels.kernel (layer Gauss 2 1.0 0.1) x1 [| 0.1; 0.2 |])
            yield throws "3 points" (fun () -> SingleLayerKernels.fourPointConnected (layer Gauss 1 1.0 0.1) 2 xs.[0..2])
            yield throws "5 points" (fun () -> SingleLayerKernels.hiddenFourPoint (layer Gauss 1 1.0 0.1) (Array.append xs [| x1 |]))
            yield throws "width 0" (fun () -> SingleLayerKernels.fourPointConnected (layer Gauss 1 1.0 0.1) 0 xs)
            yield throws "depth 0" (fun () -> SingleLayerKernels.deepKernel Relu 0 1 1.0 0.1 x1 x1)
            yield throws "Gauss-net deeper than one layer" (fun () -> SingleLayerKernels.deepKernel Gauss 2 1 1.0 0.1 x1 x1)
            yield throws "mass 0" (fun () -> CosNetKernels.cosKernel (cosNet 1 0.0 None) x1 x1)
            yield throws "mass < 0" (fun () -> CosNetKernels.cosAmplitudeVariance (cosNet 1 -1.0 (Some 3.0)))
            yield throws "cutoff 0" (fun () -> CosNetKernels.cosAmplitudeVariance (cosNet 1 1.0 (Some 0.0)))
            yield throws "no cutoff in d = 2" (fun () -> CosNetKernels.cosAmplitudeVariance (cosNet 2 1.0 None))
            yield throws "cos-net d = 0" (fun () -> CosNetKernels.cosAmplitudeVariance (cosNet 0 1.0 (Some 1.0)))
            yield throws "cos-net point of the wrong dimension" (fun () -> CosNetKernels.cosKernel (cosNet 2 1.0 (Some 5.0)) x1 x1)
            yield throws "cos-net 3 points" (fun () -> CosNetKernels.cosFourPointConnected (cosNet 1 1.0 None) 1 xs.[0..2])
            yield throws "u > 1" (fun () -> CosNetKernels.cosRadialQuantile (cosNet 1 1.0 None) 1.5)
            yield throws "u < 0" (fun () -> CosNetKernels.cosRadialQuantile (cosNet 3 1.0 (Some 2.0)) -0.1)
            yield throws "orthant covariance not positive definite" (fun () -> GaussianOrthants.orthantProbability (array2D [ [ 1.0; 2.0 ]; [ 2.0; 1.0 ] ]))
            yield throws "orthant of size 5" (fun () -> GaussianOrthants.orthantProbability (Array2D.init 5 5 (fun i j -> if i = j then 1.0 else 0.0)))
            yield test "messages are one line and name the value" {
                let e = Expect.throwsC (fun () -> SingleLayerKernels.kernel (layer Erf 1 -2.5 0.1) x1 x1 |> ignore) id
                Expect.stringContains e.Message "SigmaW -2.5" "names the value"
                Expect.isFalse (e.Message.Contains "\n") "one line"
            }
        ]
    ]
