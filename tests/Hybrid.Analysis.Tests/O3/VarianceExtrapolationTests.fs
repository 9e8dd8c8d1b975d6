module Hybrid.Analysis.Tests.O3.VarianceExtrapolationTests

open System
open Expecto
open Hybrid.Analysis.Statistics
open Hybrid.Analysis.O3

/// A training that improves a state whose error is one admixed level at distance Δ: E − E* = σ²/Δ, both falling, with
/// sampling noise on every step's energy.
let private training (seed: int) (exact: float) (delta: float) (steps: int) (noise: float) =
    let random = Random(seed)
    let gauss () = sqrt (-2.0 * log (1.0 - random.NextDouble())) * cos (2.0 * Math.PI * random.NextDouble())
    Array.init steps (fun t ->
        let variance = 0.04 * exp (-float t / 400.0) + 0.01
        exact + variance / delta + noise * gauss (), noise, variance)

[<Tests>]
let tests =
    testList
        "variance extrapolation"
        [ test "the slope of the late training carries the measured energy to the exact level, within its error" {
              let exact, delta = -1.25, 0.8
              // 20 independent trainings: the extrapolated level covers the exact one at 3σ every time, while the plain
              // variational energy lies σ²/Δ ≈ 0.013 above it, many errors away.
              for seed in 1 .. 20 do
                  let curve = training seed exact delta 1500 0.002
                  let variance = 0.0102
                  let measured = Estimate.independent (exact + variance / delta) 2e-4 1
                  match VarianceExtrapolation.fromTraining 0.5 10 curve measured variance with
                  | None -> failtest "a falling variance gives a lever arm"
                  | Some z ->
                      Expect.isLessThan (abs (z.Energy.Mean - exact)) (3.0 * z.Energy.Error) (sprintf "seed %d: E* = %g ± %g" seed z.Energy.Mean z.Energy.Error)
                      Expect.isLessThan (abs (z.Slope.Mean - 1.0 / delta)) (3.0 * z.Slope.Error) (sprintf "seed %d: slope %g ± %g" seed z.Slope.Mean z.Slope.Error)
                      Expect.isLessThan z.Energy.Error 0.005 "an error that makes the extrapolation useful"
                      Expect.isGreaterThan (measured.Mean - exact) (5.0 * z.Energy.Error) "the variational bias is resolved"
          }

          test "a training whose variance no longer moves gives no extrapolation" {
              let flat = Array.init 1000 (fun t -> -1.0 + 1e-3 * sin (float t), 1e-3, 0.01 + 1e-6 * float (t % 7))
              Expect.isNone (VarianceExtrapolation.fromTraining 0.5 10 flat (Estimate.independent -1.0 1e-4 1) 0.01) "no lever arm"
              Expect.isNone (VarianceExtrapolation.fromTraining 0.5 10 (Array.truncate 50 flat) (Estimate.independent -1.0 1e-4 1) 0.01) "too short"
          }

          test "bad arguments are named" {
              Expect.throwsT<ArgumentException> (fun () -> VarianceExtrapolation.fromTraining 0.0 10 [||] (Estimate.independent 0.0 1.0 1) 0.0 |> ignore) "fraction"
              Expect.throwsT<ArgumentException> (fun () -> VarianceExtrapolation.fromTraining 0.5 2 [||] (Estimate.independent 0.0 1.0 1) 0.0 |> ignore) "blocks"
          } ]
