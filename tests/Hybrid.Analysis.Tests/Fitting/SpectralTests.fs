module Hybrid.Analysis.Tests.Fitting.SpectralTests

open System
open Expecto
open Hybrid.Analysis.Fitting
open Hybrid.Analysis.Tests.Synthetic

let private energies = [| 0.5; 0.9; 1.5 |]
let private amplitudes = [| 1.0; 0.6; 0.4 |]
let private times = Array.init 16 (fun i -> float (i + 1))
let private exactWith (states: int) (t: float) = Array.fold2 (fun acc e a -> acc + a * exp (-e * t)) 0.0 energies.[.. states - 1] amplitudes.[.. states - 1]
let private exact = exactWith 3

/// `samples` noisy measurements of the three-state correlator: multiplicative noise of 5% per measurement with a
/// correlation that decays over 2 time steps (like a Monte Carlo correlator), so the mean has correlated errors.
let private measurementsOf (states: int) (g: Gaussian) (samples: int) =
    Array.init samples (fun _ ->
        let z = Array.init times.Length (fun _ -> g.Next())
        let smooth = Array.init times.Length (fun i -> (z.[i] + (if i > 0 then 0.7 * z.[i - 1] else 0.0)) / sqrt 1.49)
        Array.init times.Length (fun i -> exactWith states times.[i] * (1.0 + 0.05 * smooth.[i])))

let private measurements = measurementsOf 3

let private priors = { Ground = LogNormal(0.5, 1.0); Gap = LogNormal(0.5, 1.0); Amplitude = LogNormal(0.5, 1.5) }

[<Tests>]
let tests =
    testList
        "Spectral"
        [ test "a correlated fit recovers the ground energy and the first gap of a known spectrum" {
              let data = LeastSquares.ofSamples (measurements (Gaussian 5) 400)
              let f = Spectral.fit OpenEnded times data 3 priors 0.0
              Expect.isTrue f.Fit.Converged "converged"
              Expect.isLessThan (abs (f.Energies.[0].Mean - 0.5) / f.Energies.[0].Error) 3.0 (sprintf "E0 = %A" f.Energies.[0])
              Expect.isLessThan (abs (f.Energies.[1].Mean - 0.9) / f.Energies.[1].Error) 3.0 (sprintf "E1 = %A" f.Energies.[1])
              let _, best = Spectral.select OpenEnded times data 4 priors 0.0
              Expect.isGreaterThanOrEqual best.States 2 "one state is not enough for these data (AIC)"
          }

          test "about 68% of 1σ intervals of the ground energy contain the truth" {
              // Two-state data fitted with two states and wide priors; 150 datasets: the count inside is
              // Binomial(150, 0.68), σ = 5.7; ±4σ.
              let wide = { Ground = LogNormal(0.5, 3.0); Gap = LogNormal(0.5, 3.0); Amplitude = LogNormal(0.5, 3.0) }
              let inside =
                  [ for r in 0 .. 149 ->
                        let f = Spectral.fit OpenEnded times (LeastSquares.ofSamples (measurementsOf 2 (Gaussian(100 + r)) 200)) 2 wide 0.0
                        abs (f.Energies.[0].Mean - 0.5) < f.Energies.[0].Error ]
                  |> List.filter id |> List.length
              Expect.isTrue (inside >= 79 && inside <= 125) (sprintf "%d of 150" inside)
          }

          test "the Mehler spectrum of erf(a u): gaps ω and 3ω with weights (2/π)(k, k³/6)" {
              // ⟨z_t z_0⟩ = (2/π) arcsin(k e^{−ωt}), k = 2a²/(1 + 2a²), a = 1, ω = 1, exact values at t = 0.5 … 6 given
              // 10⁻⁴ relative errors: the states beyond 5ω (weights ≲ 10⁻³, e^{−3.5} at t = 0.5) sit below the errors.
              let k = 2.0 / 3.0
              let t = Array.init 23 (fun i -> 0.5 + 0.25 * float i)
              let c = t |> Array.map (fun s -> 2.0 / Math.PI * asin (k * exp (-s)))
              let data = LeastSquares.ofErrors c (c |> Array.map (fun v -> 1e-4 * v))
              let f = Spectral.fit OpenEnded t data 3 { Ground = LogNormal(1.0, 1.0); Gap = LogNormal(2.0, 1.0); Amplitude = LogNormal(0.1, 2.0) } 0.0
              let near (e: Hybrid.Analysis.Statistics.Estimate) (truth: float) what =
                  Expect.isLessThan (abs (e.Mean - truth)) (3.0 * e.Error + 1e-9) (sprintf "%s: %g ± %g against %g" what e.Mean e.Error truth)
              near f.Energies.[0] 1.0 "E = ω"
              near f.Energies.[1] 3.0 "E = 3ω"
              near f.Amplitudes.[0] (2.0 / Math.PI * k) "weight (2/π)k"
              near f.Amplitudes.[1] (2.0 / Math.PI * k ** 3.0 / 6.0) "weight (2/π)k³/6"
              Expect.isLessThan f.Energies.[0].Error 1e-3 "resolved"
              let pencil = Spectral.matrixPencil c 2
              Expect.floatClose { absolute = 2e-3; relative = 0.0 } (pencil.[0] / 0.25) 1.0 "matrix pencil: ω (per unit of the 0.25 spacing)"
          }

          test "the matrix pencil finds the energies of noiseless exponentials without priors" {
              let c = Array.init 20 (fun t -> 2.0 * exp (-0.3 * float t) + 0.5 * exp (-0.8 * float t))
              let e = Spectral.matrixPencil c 2
              Expect.floatClose Accuracy.high e.[0] 0.3 "E0"
              Expect.floatClose Accuracy.high e.[1] 0.8 "E1"
          }

          test "an ill-conditioned covariance is regulated and said so; too many states are refused" {
              let data = LeastSquares.ofSamples (measurements (Gaussian 9) 18)   // 18 samples for 16 times: nearly singular
              let f = Spectral.fit OpenEnded times data 2 priors 1e-3
              Expect.isSome f.Warning "says what it did"
              Expect.isGreaterThan f.ModifiedEigenvalues 0 "eigenvalues raised"
              Expect.throwsC (fun () -> Spectral.fit OpenEnded times data 9 priors 0.0 |> ignore) (fun e -> Expect.stringContains e.Message "9 states" "names the value")
          }

          test "the GEVP separates two states exactly and within errors from noisy samples" {
              // C_ij(t) = Σ_k v_ik v_jk e^{−E_k t}: two operators, two states (and a faint third one in the noisy case).
              let energies = [| 0.7; 1.9; 4.0 |]
              let overlaps = array2D [ [ 1.0; 0.6; 0.05 ]; [ 0.4; -0.9; 0.05 ] ]
              let exact (states: int) (t: float) =
                  Array2D.init 2 2 (fun i j -> Seq.sum (seq { for k in 0 .. states - 1 -> overlaps.[i, k] * overlaps.[j, k] * exp (-energies.[k] * t) }))
              let clean = Spectral.principalCorrelators 1 (Array.init 12 (fun l -> exact 2 (0.1 * float l)))
              for l in 1 .. 11 do
                  Expect.floatClose Accuracy.high clean.[0].[l] (exp (-0.7 * 0.1 * float (l - 1))) "λ₁ = e^{−E₁(t − t₀)}"
                  Expect.floatClose Accuracy.high clean.[1].[l] (exp (-1.9 * 0.1 * float (l - 1))) "λ₂ = e^{−E₂(t − t₀)}"
              let gaussian = Gaussian 21
              let samples =
                  Array.init 2000 (fun _ ->
                      Array.init 12 (fun l ->
                          let c = exact 3 (0.1 * float l)
                          let a, b, d = 0.02 * gaussian.Next(), 0.02 * gaussian.Next(), 0.02 * gaussian.Next()
                          array2D [ [ c.[0, 0] + a; c.[0, 1] + b ]; [ c.[1, 0] + b; c.[1, 1] + d ] ]))
              let r = Spectral.gevp 0.1 1 samples
              for k in 0 .. 1 do
                  let e = r.Energies.[k]
                  Expect.isLessThan (abs (e.Mean - energies.[k])) (3.0 * e.Error) (sprintf "E%d: %g ± %g against %g (window %A)" (k + 1) e.Mean e.Error energies.[k] r.Windows.[k])
                  Expect.isGreaterThan e.Error 0.0 "a jackknife error"
              Expect.throwsC (fun () -> Spectral.gevp 0.1 11 samples |> ignore) (fun e -> Expect.stringContains e.Message "reference lag 11" "names the value")
          }

          test "choosing the fit range with cut points counted drops the times an excited state spoils" {
              // C(t) = e^{−0.5t} + 0.3 e^{−2t}, 0.1% errors: one state fits only where the second has died away.
              let t = Array.init 30 (fun i -> 0.2 * float (i + 1))
              let c = t |> Array.map (fun s -> exp (-0.5 * s) + 0.3 * exp (-2.0 * s))
              let data = LeastSquares.ofErrors c (c |> Array.map (fun v -> 1e-3 * v))
              let p = { Ground = LogNormal(0.5, 1.0); Gap = LogNormal(1.0, 1.0); Amplitude = LogNormal(0.5, 2.0) }
              let first, one = Spectral.selectRange OpenEnded t data 1 20 p 0.0
              Expect.isGreaterThan first 3 "starts late with one state"
              Expect.isLessThan (abs (one.Energies.[0].Mean - 0.5)) (3.0 * one.Energies.[0].Error + 2e-3) "E₀ of the late range"
              let first2, two = Spectral.selectRange OpenEnded t data 2 20 p 0.0
              Expect.equal (first2, two.States) (0, 2) "two states fit from the start"
              Expect.throwsC (fun () -> Spectral.selectRange OpenEnded t data 1 29 p 0.0 |> ignore) (fun e -> Expect.stringContains e.Message "maxFirst 29" "names the value")
          } ]
