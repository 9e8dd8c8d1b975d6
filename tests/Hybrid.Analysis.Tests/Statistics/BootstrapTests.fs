module Hybrid.Analysis.Tests.Statistics.BootstrapTests

open Expecto
open Hybrid.Analysis.Statistics
open Hybrid.Analysis.Fitting
open Hybrid.Analysis.Tests.Synthetic

[<Tests>]
let tests =
    testList "Bootstrap" [
        test "mean of iid N(3,1): error = 1/√N within 10 % (3σ of SD-of-SD from 1000 resamples and N = 2000)" {
            let n = 2000
            let samples = [| (Gaussian 9).Draw n |> Array.map ((+) 3.0) |]
            let e = Bootstrap.estimate 1 1000 (fun m -> m.[0]) samples
            Expect.floatClose Accuracy.veryHigh e.Mean (Array.average samples.[0]) "mean of the full sample"
            Expect.isLessThan (abs (e.Error * sqrt (float n) - 1.0)) 0.10 (sprintf "σ√N = %g" (e.Error * sqrt (float n)))
            Expect.equal (e.TauInt, e.TauIntError, e.Window, e.Samples) (0.5, 0.0, 0, n) "independent samples"
        }
        test "deterministic for a seed" {
            let samples = [| (Gaussian 10).Draw 500 |]
            let once = Bootstrap.estimate 42 200 (fun m -> m.[0]) samples
            let again = Bootstrap.estimate 42 200 (fun m -> m.[0]) samples
            let other = Bootstrap.estimate 43 200 (fun m -> m.[0]) samples
            Expect.equal (again.Mean, again.Error, again.Samples) (once.Mean, once.Error, once.Samples) "same seed, same result"
            Expect.notEqual other.Error once.Error "another seed draws other resamples"
        }
        test "ratio of correlated means: error matches linear propagation within 10 %" {
            // x = 2 + z1, y = 4 + 0.5 z1 + z2: Var(x̄/ȳ) ≈ [(1/4 − 2·0.5/16)² + (2/16)²]/N at the true means.
            let n = 4000
            let g = Gaussian 12
            let z1, z2 = g.Draw n, g.Draw n
            let x = z1 |> Array.map ((+) 2.0)
            let y = Array.map2 (fun a b -> 4.0 + 0.5 * a + b) z1 z2
            let e = Bootstrap.estimate 7 1000 (fun m -> m.[0] / m.[1]) [| x; y |]
            let linear = sqrt (((0.25 - 0.0625) ** 2.0 + 0.125 ** 2.0) / float n)
            Expect.isLessThan (abs (e.Error / linear - 1.0)) 0.10 (sprintf "σ = %g vs %g" e.Error linear)
        }
        test "estimateStatistic with the mean reproduces estimate exactly (same resamples)" {
            let samples = [| (Gaussian 13).Draw 300; (Gaussian 14).Draw 300 |]
            let viaMeans = Bootstrap.estimate 5 100 (fun m -> m.[0] - m.[1]) samples
            let viaSamples = Bootstrap.estimateStatistic 5 100 (fun s -> Array.average s.[0] - Array.average s.[1]) samples
            Expect.floatClose Accuracy.veryHigh viaSamples.Error viaMeans.Error "error"
            Expect.floatClose Accuracy.veryHigh viaSamples.Mean viaMeans.Mean "mean"
        }
    ]
