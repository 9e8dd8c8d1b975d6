module Hybrid.Analysis.Tests.Phi4.Phi4EstimatorsTests

open System
open Expecto
open Hybrid.Analysis.Statistics
open Hybrid.Analysis.Fitting
open Hybrid.Analysis.Phi4
open Hybrid.Analysis.Tests.Synthetic

let private volume = 64

// Gaussian magnetisation as in the free field: M ~ N(0, s²), AR(1)-correlated in MC time.
let private gaussianMagnetization = lazy (
    let g = Gaussian 64
    let s = 3.0
    Array.init 4 (fun _ -> ar1 g 0.5 20_000 |> Array.map ((*) s)))

[<Tests>]
let tests =
    testList "Phi4Estimators" [
        test "Binder cumulant of Gaussian M is 0 within 3σ" {
            let u = Phi4Estimators.binder gaussianMagnetization.Value
            Expect.isTrue (u.Error > 0.0) "finite error"
            Expect.isLessThan (abs u.Mean) (3.0 * u.Error) (sprintf "U₄ = %s" (Estimate.format u))
        }
        test "Binder cumulant of M = ±const is exactly 2/3 with zero error" {
            let m = [| Array.init 1000 (fun i -> if i % 3 = 0 then -2.5 else 2.5) |]
            let u = Phi4Estimators.binder m
            Expect.floatClose Accuracy.veryHigh u.Mean (2.0 / 3.0) "U₄"
            Expect.equal u.Error 0.0 "M² and M⁴ do not fluctuate"
        }
        test "χ₂ = s²/V and ⟨|M|⟩/V = s√(2/π)/V for Gaussian M, within 3σ" {
            let s = 3.0
            let chi = Phi4Estimators.susceptibility volume gaussianMagnetization.Value
            Expect.isLessThan (abs (chi.Mean - s * s / float volume)) (3.0 * chi.Error) "χ₂"
            let absM = Phi4Estimators.absMagnetization volume gaussianMagnetization.Value
            Expect.isLessThan (abs (absM.Mean - s * sqrt (2.0 / Math.PI) / float volume)) (3.0 * absM.Error) "⟨|M|⟩/V"
            // An AR(1) with ρ = 0.5 has τ_int = 1.5 for M, and M² has ρ² = 0.25: τ_int = 5/6.
            Expect.isLessThan (abs (chi.TauInt - 0.5 * 1.25 / 0.75)) (3.0 * chi.TauIntError) "τ_int of M²"
        }
        test "Ising energy is the Γ-analysis of the series" {
            let energy = gaussianMagnetization.Value
            Expect.equal (Phi4Estimators.isingEnergy energy) (GammaMethod.analyze energy) "same estimate"
        }
        test "non-positive volume is rejected" {
            Expect.throwsT<ArgumentException> (fun () -> Phi4Estimators.susceptibility 0 [| [| 1.0 |] |] |> ignore) "V = 0"
        }
    ]
