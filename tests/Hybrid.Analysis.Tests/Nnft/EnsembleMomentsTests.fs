module Hybrid.Analysis.Tests.Nnft.EnsembleMomentsTests

open System
open Expecto
open Hybrid.Analysis.Nnft
open Hybrid.Analysis.Tests.Synthetic

/// Correlated Gaussian fields at three points: x = L z with a fixed lower-triangular L, so G₂ = L Lᵀ and every
/// connected function above order 2 vanishes.
let private gaussianFields (seed: int) (n: int) =
    let g = Gaussian seed
    let l = array2D [ [ 1.0; 0.0; 0.0 ]; [ 0.5; 0.8; 0.0 ]; [ 0.2; 0.3; 0.9 ] ]
    Array.init n (fun _ ->
        let z = Array.init 3 (fun _ -> g.Next())
        Array.init 3 (fun i -> Array.fold (+) 0.0 (Array.init 3 (fun j -> l.[i, j] * z.[j]))))

/// The seed of the block bootstrap intervals.
let private bootstrapSeed = 20240607

[<Tests>]
let tests =
    testList
        "EnsembleMoments"
        [ test "moments, and connected functions by their definitions, on a small explicit ensemble" {
              let samples = [| [| 1.0; 2.0 |]; [| -1.0; 0.5 |]; [| 0.5; -2.0 |]; [| 2.0; 1.0 |] |]
              let s = EnsembleMoments.ofSamples 2 6 samples
              let mean f = samples |> Array.averageBy f
              let e = EnsembleMoments.estimate bootstrapSeed s (EnsembleMoments.twoPoint 0 1)
              Expect.floatClose Accuracy.veryHigh e.Estimate.Mean (mean (fun x -> x.[0] * x.[1])) "G₂₀₁"
              let g4c = EnsembleMoments.estimate bootstrapSeed s (EnsembleMoments.connectedFourPoint 0 0 1 1)
              let g2 i j = mean (fun x -> x.[i] * x.[j])
              let direct = mean (fun x -> x.[0] * x.[0] * x.[1] * x.[1]) - (g2 0 0 * g2 1 1 + 2.0 * g2 0 1 * g2 0 1)
              Expect.floatClose Accuracy.veryHigh g4c.Estimate.Mean direct "G₄c = G₄ − three pairings"
              let g6c = EnsembleMoments.estimate bootstrapSeed s (EnsembleMoments.connectedSixPoint [| 0; 0; 0; 0; 0; 0 |])
              let m k = mean (fun x -> x.[0] ** float k)
              Expect.floatClose Accuracy.veryHigh g6c.Estimate.Mean (m 6 - 15.0 * m 4 * m 2 + 30.0 * m 2 ** 3.0) "one point: κ₆ = m₆ − 15 m₄m₂ + 30 m₂³"
              Expect.equal (EnsembleMoments.multisets 3 2) [| [| 0; 0 |]; [| 0; 1 |]; [| 0; 2 |]; [| 1; 1 |]; [| 1; 2 |]; [| 2; 2 |] |] "lexicographic multisets"
          }

          test "a Gaussian ensemble has G₂ = LLᵀ and connected 4- and 6-point functions zero within their errors" {
              let s = EnsembleMoments.ofSamples 32 6 (gaussianFields 11 40_000)
              let g21 = EnsembleMoments.estimate bootstrapSeed s (EnsembleMoments.twoPoint 1 2)
              // (LLᵀ)₁₂ = 0.5·0.2 + 0.8·0.3 = 0.34
              Expect.isLessThan (abs (g21.Estimate.Mean - 0.34) / g21.Estimate.Error) 4.0 (sprintf "G₂₁₂ = %A" g21.Estimate)
              for f, name in [ EnsembleMoments.connectedFourPoint 0 1 1 2, "G₄c(0,1,1,2)"; EnsembleMoments.connectedFourPoint 0 0 0 0, "G₄c(0,0,0,0)"
                               EnsembleMoments.connectedSixPoint [| 0; 0; 1; 1; 2; 2 |], "G₆c(0,0,1,1,2,2)" ] do
                  let e = EnsembleMoments.estimate bootstrapSeed s f
                  Expect.isLessThan (abs e.Estimate.Mean / e.Estimate.Error) 4.0 (sprintf "%s = %A" name e.Estimate)
                  Expect.isNone e.Warning (sprintf "%s: Gaussian blocks are not heavy-tailed" name)
                  let lo, hi = e.BootstrapInterval
                  Expect.isTrue (lo < e.Estimate.Mean && e.Estimate.Mean < hi) "the bootstrap interval contains the value"
          }

          test "the bootstrap interval is the caller's seed's: the same seed repeats it, another draws other resamples" {
              let s = EnsembleMoments.ofSamples 16 4 (gaussianFields 5 4000)
              let interval seed = (EnsembleMoments.estimate seed s (EnsembleMoments.connectedFourPoint 0 1 1 2)).BootstrapInterval
              Expect.equal (interval 7) (interval 7) "same seed, same interval"
              Expect.notEqual (interval 7) (interval 8) "another seed, other resamples"
              let a = EnsembleMoments.estimate 7 s (EnsembleMoments.twoPoint 0 1)
              let b = EnsembleMoments.estimate 8 s (EnsembleMoments.twoPoint 0 1)
              Expect.equal (a.Estimate.Mean, a.Estimate.Error) (b.Estimate.Mean, b.Estimate.Error) "value and jackknife error do not depend on the seed"
          }

          test "jackknife errors cover the truth about 68% of the time over independent ensembles" {
              // G₂₀₀ = 1 exactly; 200 ensembles of 2000 fields in 20 blocks: the count inside ±1σ is Binomial(200, 0.68).
              let inside =
                  [ for r in 0 .. 199 ->
                        let e = (EnsembleMoments.estimate bootstrapSeed (EnsembleMoments.ofSamples 20 4 (gaussianFields (1000 + r) 2000)) (EnsembleMoments.twoPoint 0 0)).Estimate
                        abs (e.Mean - 1.0) < e.Error ]
                  |> List.filter id |> List.length
              // ±4σ of the binomial (σ = 6.6), widened by the jackknife's own error with 20 blocks.
              Expect.isTrue (inside >= 106 && inside <= 164) (sprintf "%d of 200 inside ±1σ" inside)
          }

          test "heavy-tailed blocks are flagged: the error of a log-normal mean is not trustworthy" {
              let g = Gaussian 3
              let lognormal = Array.init 20_000 (fun _ -> [| exp (3.0 * g.Next()) |])
              let e = EnsembleMoments.estimate bootstrapSeed (EnsembleMoments.ofSamples 64 4 lognormal) (EnsembleMoments.twoPoint 0 0)
              Expect.isSome e.Warning "σ = 3 log-normal squares: e^{2·3z} is far from Gaussian at this size"
              Expect.stringContains e.Warning.Value "heavy tails" "says why"
          } ]
