namespace Hybrid.Analysis.Nnqm

open System

/// The exact Källén–Lehmann spectrum of an odd function of a standardised Ornstein–Uhlenbeck process u (gap ω,
/// ⟨u_t u_0⟩ = e^{−ω|t|}), by Mehler's formula: for y = φ(u), ⟨y_t y_0⟩ = Σₙ aₙ² e^{−nωt} with aₙ = ⟨φ(u) hₙ(u)⟩ the
/// orthonormal Hermite coefficients of φ, so the "quantum system" of y has gaps nω and weights aₙ² (only odd n for
/// an odd φ). These are the references the NN-QM experiments check their sampled spectra against: erf(a u) in
/// closed form, and the ensemble of random one-layer erf networks (deep NN-QM at any width) by quadrature.
///
/// Quadrature rules are passed in (nodes and weights of the probabilists' Gauss–Hermite rule, weight e^{−x²/2}/√(2π),
/// weights summing to 1, as core's `Numerics.GaussHermite.Probabilists` gives them), so that this module stays free of tensors.
[<RequireQualifiedAccess>]
module Mehler =

    /// The gaps (2m + 1)ω of the lowest `states` odd levels, m = 0 … states − 1: the levels an odd φ(u) reaches.
    let oddGaps (omega: float) (states: int) = Array.init states (fun m -> float (2 * m + 1) * omega)

    /// The weights of erf(a u) at the gaps (2m + 1)ω, m = 0 … states − 1: (2/π) c_m k^{2m+1} with k = 2a²/(1 + 2a²) and
    /// c_m = (2m)!/(4^m (m!)² (2m + 1)), from (2/π) arcsin(k e^{−ωt}) = Σ_m (2/π) c_m k^{2m+1} e^{−(2m+1)ωt}. They sum
    /// to the variance (2/π) arcsin k.
    let erfWeights (a: float) (states: int) =
        let k = 2.0 * a * a / (1.0 + 2.0 * a * a)
        let logFactorial (n: int) = Seq.sumBy log (seq { 1.0 .. float n })
        let coefficient m = exp (logFactorial (2 * m) - 2.0 * logFactorial m - float m * log 4.0) / (2.0 * float m + 1.0)
        Array.init states (fun m -> 2.0 / Math.PI * coefficient m * k ** float (2 * m + 1))

    /// The kink −[G′(0⁺) − G′(0⁻)] of erf(a u): G = (2/π) arcsin(k e^{−ω|t|}) gives −2G′(0⁺) = (4/π) k ω / √(1 − k²).
    /// Not 1: erf(a u) is no canonical position, and Δp diverges (no kink-free part), so it has no uncertainty product.
    let erfKink (a: float) (omega: float) =
        let k = 2.0 * a * a / (1.0 + 2.0 * a * a)
        4.0 / Math.PI * k * omega / sqrt (1.0 - k * k)

    /// The ensemble's Källén–Lehmann weights k_n = σ_W² E_w[a_n(w)²], n = 0 … maxOrder, with a_n(w) = ⟨erf(wu) h_n(u)⟩
    /// the orthonormal Hermite coefficients of one neuron and w ~ N(0, σ_W²) (Mehler: ⟨y_t y_0⟩ = Σ k_n e^{−nωt} for
    /// y = Σ w₁ erf(w₀ u) with a fresh network per path, σ_b = 0), by the Gauss–Hermite `rule` in u and in w (160
    /// nodes give k₁ = 0.289254 at σ_W = 1).
    let ensembleWeights (rule: struct (float[] * float[])) (sigmaW: float) (maxOrder: int) =
        let struct (x, w) = rule
        let hermite (u: float) =
            let h = Array.zeroCreate (maxOrder + 1)
            h.[0] <- 1.0
            if maxOrder >= 1 then h.[1] <- u
            for k in 1 .. maxOrder - 1 do h.[k + 1] <- (u * h.[k] - sqrt (float k) * h.[k - 1]) / sqrt (float (k + 1))
            h
        let hs = x |> Array.map hermite
        Array.init (maxOrder + 1) (fun n ->
            sigmaW ** 2.0
            * Array.sum (Array.init x.Length (fun i ->
                let weight = sigmaW * x.[i]
                let a = Array.sum (Array.init x.Length (fun j -> w.[j] * MathNet.Numerics.SpecialFunctions.Erf(weight * x.[j]) * hs.[j].[n]))
                w.[i] * a * a)))

    /// The kink of the ensemble process y = Σ w₁ erf(w₀ u): its quadratic variation 2ω E[(dy/du)²] =
    /// 2ω σ_W² (4/π) E_w[w²/√(1 + 4w²)], w ~ N(0, σ_W²), by the Gauss–Hermite `rule`. Like erf(a u), no canonical
    /// momentum: Δp diverges.
    let ensembleKink (rule: struct (float[] * float[])) (sigmaW: float) (omega: float) =
        let struct (x, w) = rule
        let mean = Array.sum (Array.map2 (fun xi wi -> let v = sigmaW * xi in wi * v * v / sqrt (1.0 + 4.0 * v * v)) x w)
        2.0 * omega * sigmaW ** 2.0 * 4.0 / Math.PI * mean
