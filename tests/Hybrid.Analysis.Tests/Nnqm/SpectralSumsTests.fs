module Hybrid.Analysis.Tests.Nnqm.SpectralSumsTests

open Expecto
open Hybrid.Analysis.Nnqm

/// The harmonic oscillator p²/2 + x²/2 in its lowest `levels` levels: Eₙ = n + ½, ⟨m|x|n⟩ = √(max(m, n)/2) for |m − n| = 1.
let private levels = 48
let private energies = Array.init levels (fun n -> float n + 0.5)
let private position m n = if abs (m - n) = 1 then sqrt (float (max m n) / 2.0) else 0.0
let private elements = Array.init levels (position 0)

/// ⟨0| x e^{−(H − E₀)s₁} x … x |0⟩ in the truncated basis (exact: k factors of x reach level k at most).
let private correlator (separations: float[]) =
    let mutable v = Array.init levels (position 0)
    for s in separations do
        v <- Array.init levels (fun m -> Seq.sum (seq { for n in 0 .. levels - 1 -> v.[n] * exp (-(energies.[n] - energies.[0]) * s) * position n m }))
    v.[0]

[<Tests>]
let tests =
    testList
        "nnqm spectral sums"
        [ test "the harmonic oscillator has one state: gap 1, weight ½" {
              let gaps, weights = SpectralSums.oddSpectrum energies elements 2
              Expect.equal gaps [| 1.0; 3.0 |] "E₁ − E₀, E₃ − E₀"
              Expect.floatClose Accuracy.high weights.[0] 0.5 "|⟨0|x|1⟩|² = ½"
              Expect.floatClose Accuracy.high weights.[1] 0.0 "|⟨0|x|3⟩|² = 0"
          }

          test "Thomas–Reiche–Kuhn: the kink is 1 and Δx Δp = ½ for the harmonic oscillator" {
              let kink, uncertainty = SpectralSums.kinkAndUncertainty energies elements
              Expect.floatClose Accuracy.high kink 1.0 "[x, p] = i"
              Expect.floatClose Accuracy.high uncertainty 0.5 "minimal uncertainty"
          }

          test "the connected four-point function of the harmonic oscillator vanishes, the full one does not" {
              Expect.floatClose Accuracy.high (correlator [| 0.4 |]) (0.5 * exp -0.4) "G₂(τ) = e^{−τ}/2"
              Expect.isGreaterThan (correlator [| 0.3; 0.3; 0.3 |]) 0.1 "G₄ is not small"
              Expect.floatClose { absolute = 1e-14; relative = 0.0 } (SpectralSums.connectedFourPoint correlator 0.3) 0.0 "Wick: nothing connected"
          }

          test "41 levels at least, more for many states" {
              Expect.equal (SpectralSums.levels 2) 41 "the Thomas–Reiche–Kuhn sum's"
              Expect.equal (SpectralSums.levels 30) 62 "2 states + 2"
          } ]
