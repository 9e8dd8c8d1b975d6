namespace Hybrid.Analysis.Nnft

open System
open Hybrid.Analysis.Numerics
open Hybrid.Analysis.Nnft.Architectures

/// Infinite-width kernels and the O(1/N) connected 4-point functions of fully connected networks (SingleLayer; deep
/// networks for the kernel), in the conventions of core/Nnft's SingleLayerNetwork and DeepNetwork. Bad arguments
/// raise ArgumentException.
[<RequireQualifiedAccess>]
module SingleLayerKernels =

    let private dot = SmallMatrices.dot
    let private norm = SmallMatrices.norm

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
            let a = SmallMatrices.reduceToSpan 1e-14 (xs |> Array.map (fun x -> Array.append (x |> Array.map (fun v -> net.SigmaW * v / sqrt d)) [| net.SigmaB |]))
            let r = if a.Length > 0 then a.[0].Length else 0
            GaussianOrthants.signProduct4 (Array.init 4 (fun i -> Array.init (r + 4) (fun k -> if k < r then sqrt 2.0 * a.[i].[k] elif k - r = i then -1.0 else 0.0)))
        | Relu ->
            let rows = xs |> Array.map (fun x -> Array.append (x |> Array.map (fun v -> net.SigmaW * v / sqrt d)) [| net.SigmaB |])
            if rows |> Array.exists (fun row -> norm row = 0.0) then 0.0   // some zᵢ ≡ 0, so relu(zᵢ) ≡ 0
            // 1e-9: a kept direction much smaller than that makes the simplicial cones ill-conditioned.
            else GaussianOrthants.reluProduct (SmallMatrices.reduceToSpan 1e-9 rows)

    /// Connected 4-point function at width N, exact at every N (not only to leading order):
    /// G4c = (σ_W⁴/N)[3μ₄ − (K̃₁₂K̃₃₄ + K̃₁₃K̃₂₄ + K̃₁₄K̃₂₃)]. It comes from E[W1⁴] = 3(σ_W²/N)² on one neuron;
    /// the bias b1 is Gaussian and drops out.
    let fourPointConnected (net: SingleLayer) (width: int) (xs: float[][]) : float =
        checkWidth width
        let mu4 = hiddenFourPoint net xs
        let k i j = hiddenCorrelation net xs.[i] xs.[j]
        let sw2 = net.SigmaW * net.SigmaW
        sw2 * sw2 / float width * (3.0 * mu4 - (k 0 1 * k 2 3 + k 0 2 * k 1 3 + k 0 3 * k 1 2))
