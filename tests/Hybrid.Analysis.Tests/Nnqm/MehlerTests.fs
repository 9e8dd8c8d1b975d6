module Hybrid.Analysis.Tests.Nnqm.MehlerTests

open System
open Expecto
open MathNet.Numerics
open MathNet.Numerics.LinearAlgebra
open Hybrid.Analysis.Nnqm

/// Probabilists' Gauss–Hermite rule (weight e^{−x²/2}/√(2π), weights summing to 1) by Golub–Welsch: the eigenvalues
/// of the Jacobi matrix with off-diagonal √k, weights the squared first components of the eigenvectors.
let private gaussHermite (n: int) =
    let jacobi = Matrix<float>.Build.Dense(n, n, fun i j -> if abs (i - j) = 1 then sqrt (float (max i j)) else 0.0)
    let evd = jacobi.Evd(Symmetricity.Symmetric)
    struct (evd.EigenValues |> Seq.map (fun z -> z.Real) |> Array.ofSeq, Array.init n (fun k -> evd.EigenVectors.[0, k] ** 2.0))

let private rule = lazy (gaussHermite 160)

[<Tests>]
let tests =
    testList
        "nnqm mehler"
        [ test "the odd gaps are ω, 3ω, 5ω" {
              Expect.equal (Mehler.oddGaps 1.5 3) [| 1.5; 4.5; 7.5 |] "(2m + 1)ω"
          }

          test "the Mehler weights of erf(a u) sum to its variance (2/π) arcsin k" {
              for a in [ 0.5; 1.0; 2.0 ] do
                  let k = 2.0 * a * a / (1.0 + 2.0 * a * a)
                  Expect.floatClose Accuracy.high (Array.sum (Mehler.erfWeights a 200)) (2.0 / Math.PI * asin k) (sprintf "a = %g" a)
              // At a = 1, k = 2/3: (2/π)k and (2/π)k³/6.
              let w = Mehler.erfWeights 1.0 2
              Expect.floatClose { absolute = 1e-14; relative = 0.0 } w.[0] (2.0 / Math.PI * (2.0 / 3.0)) "(2/π)k"
              Expect.floatClose { absolute = 1e-14; relative = 0.0 } w.[1] (2.0 / Math.PI * (2.0 / 3.0) ** 3.0 / 6.0) "(2/π)k³/6"
          }

          test "the kink of erf(a u) is −2G′(0⁺) of (2/π) arcsin(k e^{−ωt})" {
              let a, omega, h = 0.8, 1.3, 1e-6
              let k = 2.0 * a * a / (1.0 + 2.0 * a * a)
              let g t = 2.0 / Math.PI * asin (k * exp (-omega * t))
              // One-sided second-order difference at 0⁺.
              let slope = (-3.0 * g 0.0 + 4.0 * g h - g (2.0 * h)) / (2.0 * h)
              Expect.floatClose { absolute = 1e-6; relative = 0.0 } (Mehler.erfKink a omega) (-2.0 * slope) "(4/π)kω/√(1 − k²)"
          }

          test "the ensemble weights of random erf networks: k₁ = σ_W² E_w[(4/π) w²/(1 + 2w²)], even orders vanish" {
              let weights = Mehler.ensembleWeights rule.Value 1.0 4
              Expect.floatClose { absolute = 1e-5; relative = 0.0 } weights.[1] 0.289254 "k₁ at σ_W = 1"
              // ⟨erf(wu) u⟩ = (2w/√π)/√(1 + 2w²): the first Hermite coefficient in closed form, averaged over w ~ N(0, 1).
              let density w = exp (-w * w / 2.0) / sqrt (2.0 * Math.PI)
              let k1 = Integrate.OnClosedInterval((fun w -> density w * 4.0 / Math.PI * w * w / (1.0 + 2.0 * w * w)), -12.0, 12.0)
              // The integrand in w has poles at ±i/√2: 160 Gauss–Hermite nodes agree with adaptive quadrature to ~1e-7.
              Expect.floatClose { absolute = 1e-7; relative = 0.0 } weights.[1] k1 "k₁ against the closed-form coefficient"
              for n in [ 0; 2; 4 ] do Expect.floatClose { absolute = 1e-12; relative = 0.0 } weights.[n] 0.0 (sprintf "k_%d of an odd function" n)
              // σ_W² scales the output: at σ_W = 2 the weights are those of w ~ N(0, 4) times 4.
              let wide = Mehler.ensembleWeights rule.Value 2.0 1
              let k1wide = Integrate.OnClosedInterval((fun w -> density w * 4.0 * 4.0 / Math.PI * 4.0 * w * w / (1.0 + 8.0 * w * w)), -12.0, 12.0)
              // Poles nearer the real axis (±i/√8 in v = w/σ_W): 160 nodes are good to ~2e-4 relative here.
              Expect.floatClose { absolute = 0.0; relative = 1e-3 } wide.[1] k1wide "k₁ at σ_W = 2"
          }

          test "the ensemble kink is 2ωσ_W²(4/π)E_w[w²/√(1 + 4w²)]" {
              let density w = exp (-w * w / 2.0) / sqrt (2.0 * Math.PI)
              let mean = Integrate.OnClosedInterval((fun w -> density w * w * w / sqrt (1.0 + 4.0 * w * w)), -12.0, 12.0)
              // Branch points at w = ±i/2 limit 160 Gauss–Hermite nodes to about 1e-6 relative.
              Expect.floatClose { absolute = 0.0; relative = 1e-5 } (Mehler.ensembleKink rule.Value 1.0 1.5) (2.0 * 1.5 * 4.0 / Math.PI * mean) "σ_W = 1, ω = 1.5"
          } ]
