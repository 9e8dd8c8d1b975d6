namespace Hybrid.Analysis.Nnft

open System

// The random-network field theories of Halverson, Maiti and Stoner (arXiv:2008.08601) whose analytic reference
// values (SingleLayerKernels, CosNetKernels) the sampled ensembles of core/Nnft are checked against. Conventions
// are those of core/Nnft (SingleLayerNetwork, DeepNetwork, CosNetwork), so that ensemble estimates can be
// compared with these numbers directly.

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

/// The argument checks the kernel modules share: bad arguments raise ArgumentException naming the value and
/// what it must be, in one line.
module internal Architectures =

    let fail (name: string) (message: string) : 'a = raise (ArgumentException(message, name))

    let checkDimension (d: int) =
        if d < 1 then fail "InputDimension" (sprintf "InputDimension %d is not allowed; it must be at least 1." d)

    let private checkSigma (name: string) (value: float) =
        if not (value >= 0.0) || Double.IsPositiveInfinity value then
            fail name (sprintf "%s %g is not allowed; it must be finite and non-negative." name value)

    let checkNet (net: SingleLayer) =
        checkDimension net.InputDimension
        checkSigma "SigmaW" net.SigmaW
        checkSigma "SigmaB" net.SigmaB

    let checkPoint (d: int) (name: string) (x: float[]) =
        if isNull x then fail name (sprintf "%s is null; it must be an array of length InputDimension = %d." name d)
        if x.Length <> d then
            fail name (sprintf "%s has length %d; it must have length InputDimension = %d." name x.Length d)
        if x |> Array.exists (fun v -> Double.IsNaN v || Double.IsInfinity v) then
            fail name (sprintf "%s has a non-finite component; all components must be finite." name)

    let checkFour (d: int) (xs: float[][]) =
        let count = if isNull xs then 0 else xs.Length
        if count <> 4 then fail "xs" (sprintf "xs has %d points; exactly 4 are required." count)
        xs |> Array.iteri (fun i x -> checkPoint d (sprintf "xs[%d]" i) x)

    let checkWidth (width: int) =
        if width < 1 then fail "width" (sprintf "width %d is not allowed; it must be at least 1." width)

    /// Largest d of the cos-net: beyond it Γ(d/2)(2/z)^{d/2−1} leaves the double range the Bessel route needs.
    let maxCosDimension = 64

    let checkCosNet (net: CosNet) =
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
