module Hybrid.Analysis.Tests.Statistics.GammaMethodTests

open System
open Expecto
open Hybrid.Analysis.Statistics
open Hybrid.Analysis.Fitting
open Hybrid.Analysis.Tests.Synthetic

// 8 replicas × 50 000 samples of the AR(1) chain with exact τ_int ≈ 20.
let private ar1Replicas = lazy (let g = Gaussian 20240601 in Array.init 8 (fun _ -> ar1 g rho20 50_000))

// Γ(t) by the definition, O(N·W): the reference the FFT must reproduce.
let private directAutocovariance (replicas: float[][]) (lags: int) =
    let n = replicas |> Array.sumBy Array.length
    let mean = (replicas |> Array.sumBy Array.sum) / float n
    Array.init lags (fun t ->
        let mutable sum = 0.0
        for r in replicas do
            for i in 0 .. r.Length - 1 - t do
                sum <- sum + (r.[i] - mean) * (r.[i + t] - mean)
        sum / float (replicas |> Array.sumBy (fun r -> max 0 (r.Length - t))))

let private ar1Tests =
    testList "AR(1) with exact τ_int" [
        test "τ_int agrees with ½(1+ρ)/(1−ρ) within 3 δτ_int" {
            let e = GammaMethod.analyze ar1Replicas.Value
            let exact = exactTauInt rho20
            Expect.floatClose { absolute = 0.0; relative = 1e-3 } exact 20.0 "exact value is 20.0 to 3 digits"
            Expect.isLessThan (abs (e.TauInt - exact)) (3.0 * e.TauIntError)
                (sprintf "τ_int = %g ± %g vs exact %g" e.TauInt e.TauIntError exact)
        }
        test "error agrees with the exact standard error within 3 errors-of-the-error (σ√((W+½)/N))" {
            let e = GammaMethod.analyze ar1Replicas.Value
            let exact = ar1StandardError rho20 (Array.create 8 50_000)
            Expect.isLessThan (abs (e.Error - exact)) (3.0 * errorOfError e)
                (sprintf "σ = %g vs exact %g (δσ = %g)" e.Error exact (errorOfError e))
            // With N = 400 000 and W ≈ 170 that tolerance is about 6 %: the test has teeth.
            Expect.isLessThan (3.0 * errorOfError e / exact) 0.07 "tolerance is a few percent"
        }
        test "mean is within 3σ of the exact mean 0" {
            let e = GammaMethod.analyze ar1Replicas.Value
            Expect.isLessThan (abs e.Mean) (3.0 * e.Error) (sprintf "mean %g ± %g" e.Mean e.Error)
        }
        test "an uncorrelated error would be ≈ √(2τ_int) times too small" {
            // Guards against an implementation that ignores autocorrelations altogether.
            let e = GammaMethod.analyze ar1Replicas.Value
            let naive = 1.0 / sqrt (float e.Samples)
            Expect.isGreaterThan (e.Error / naive) 5.0 "σ/σ_naive ≈ √40 ≈ 6.3"
        }
        test "same data in 8 replicas or as one long chain: errors agree within δσ, τ_int within δτ_int" {
            let replicas = GammaMethod.analyze ar1Replicas.Value
            let chain = GammaMethod.analyze [| Array.concat ar1Replicas.Value |]
            Expect.isLessThan (abs (replicas.Error - chain.Error)) (errorOfError chain) "errors"
            Expect.isLessThan (abs (replicas.TauInt - chain.TauInt)) chain.TauIntError "τ_int"
            Expect.floatClose Accuracy.veryHigh replicas.Mean chain.Mean "same samples, same mean"
        }
        test "replicas of unequal length: τ_int within 3 δτ_int, error within 3 δσ of the exact one" {
            let lengths = [| 20_000; 35_000; 50_000; 65_000; 80_000 |]
            let g = Gaussian 77
            let e = GammaMethod.analyze (lengths |> Array.map (ar1 g rho20))
            let exact = ar1StandardError rho20 lengths
            Expect.equal e.Samples (Array.sum lengths) "all samples counted"
            Expect.isLessThan (abs (e.TauInt - exactTauInt rho20)) (3.0 * e.TauIntError) "τ_int"
            Expect.isLessThan (abs (e.Error - exact)) (3.0 * errorOfError e) "error"
        }
        test "larger S never gives a smaller window" {
            let small = GammaMethod.analyzeWith 1.0 ar1Replicas.Value
            let large = GammaMethod.analyzeWith 3.0 ar1Replicas.Value
            Expect.isGreaterThanOrEqual large.Window small.Window "window grows with S"
        }
    ]

let private iidTests =
    testList "independent Gaussian samples" [
        test "τ_int = ½ within 3 δτ_int and error = 1/√N within 3 δσ" {
            let n = 100_000
            let e = GammaMethod.analyze [| (Gaussian 5).Draw n |]
            Expect.isLessThan (abs (e.TauInt - 0.5)) (3.0 * max e.TauIntError (1.0 / sqrt (float n))) "τ_int"
            Expect.isLessThan (abs (e.Error - 1.0 / sqrt (float n))) (3.0 * errorOfError e) "error"
            Expect.isLessThan (abs e.Mean) (3.0 * e.Error) "mean"
        }
    ]

let private mechanicsTests =
    testList "definition and edge cases" [
        test "FFT autocovariance equals the direct sum over pairs within each replica" {
            let g = Gaussian 11
            let replicas = [| ar1 g 0.7 300; ar1 g 0.7 173; (Gaussian 12).Draw 64 |]
            let profile = GammaMethod.autocorrelation replicas
            let direct = directAutocovariance replicas profile.Gamma.Length
            for t in 0 .. direct.Length - 1 do
                Expect.floatClose { absolute = 1e-12; relative = 1e-10 } profile.Gamma.[t] direct.[t] (sprintf "Γ(%d)" t)
        }
        test "profile: ρ = Γ/Γ(0), τ_int(W) = ½ + Σρ, and the chosen window is the first with g(W) < 0" {
            let profile = GammaMethod.autocorrelation ar1Replicas.Value
            let n = float profile.Samples
            Expect.floatClose Accuracy.veryHigh profile.Rho.[0] 1.0 "ρ(0) = 1"
            let w = profile.Window
            let sumRho = 0.5 + Array.sum profile.Rho.[1..w]
            Expect.floatClose Accuracy.veryHigh profile.TauIntByWindow.[w] (max sumRho 0.5) "τ_int(W)"
            let g w =
                let tau = profile.TauIntByWindow.[w]
                let tauExp = profile.S / log ((2.0 * tau + 1.0) / (2.0 * tau - 1.0))
                exp (-float w / tauExp) - tauExp / sqrt (float w * n)
            Expect.isLessThan (g w) 0.0 "g(W) < 0 at the window"
            for earlier in 1 .. w - 1 do
                Expect.isGreaterThanOrEqual (g earlier) 0.0 (sprintf "g(%d) ≥ 0 before the window" earlier)
            let e = GammaMethod.analyze ar1Replicas.Value
            Expect.equal e.Window w "analyze and autocorrelation agree"
            let corrected = profile.TauIntByWindow.[w] * (1.0 + float (2 * w + 1) / n) / (1.0 + 1.0 / n)
            Expect.floatClose Accuracy.veryHigh e.TauInt corrected "bias-corrected τ_int"
            Expect.floatClose Accuracy.veryHigh e.Error (sqrt (2.0 * corrected * profile.Gamma.[0] * (1.0 + 1.0 / n) / n)) "σ"
        }
        test "constant series: error 0, τ_int ½, no NaN" {
            for value in [ 0.0; 0.1; -3.7e12 ] do
                let e = GammaMethod.analyze [| Array.create 1000 value; Array.create 10 value |]
                Expect.equal e.Mean value "mean is the constant"
                Expect.equal e.Error 0.0 "error"
                Expect.equal e.TauInt 0.5 "τ_int"
                Expect.equal e.TauIntError 0.0 "δτ_int"
        }
        test "very short series do not fail" {
            let e = GammaMethod.analyze [| [| 1.0; 2.0; 4.0 |] |]
            Expect.isTrue (e.Error > 0.0 && e.TauInt = 0.5) "window 0 for three samples"
            Expect.isTrue (Double.IsNaN (GammaMethod.analyze [| [| 1.0 |] |]).Error) "one sample has no error"
        }
        test "no samples is an error" {
            Expect.throwsT<ArgumentException> (fun () -> GammaMethod.analyze [| [||] |] |> ignore) "empty"
        }
    ]

// x = 1 + 0.5u + 0.2v, y = 2 + 0.4u + 0.3w with u, v, w independent AR(1) (τ_int ≈ 20):
// x̄/ȳ is correlated through u. The linearised exact error of x̄/ȳ (at the true means 1, 2) is
// √[(0.5/2 − 1·0.4/4)² + (0.2/2)² + (1·0.3/4)²] times the standard error of one AR(1) mean.
let private correlatedPair (gaussian: Gaussian) (replicas: int) (length: int) =
    let chains = Array.init replicas (fun _ -> Array.init 3 (fun _ -> ar1 gaussian rho20 length))
    let x = chains |> Array.map (fun c -> Array.init length (fun i -> 1.0 + 0.5 * c.[0].[i] + 0.2 * c.[1].[i]))
    let y = chains |> Array.map (fun c -> Array.init length (fun i -> 2.0 + 0.4 * c.[0].[i] + 0.3 * c.[2].[i]))
    [| x; y |]

let private ratio (means: float[]) = means.[0] / means.[1]

let private derivedTests =
    testList "derived quantities" [
        test "ratio of correlated AR(1) means: propagated error matches the spread over 200 experiments" {
            let g = Gaussian 31415
            let experiments = Array.init 200 (fun _ -> GammaMethod.derived ratio (correlatedPair g 2 10_000))
            let values = experiments |> Array.map (fun e -> e.Mean)
            let _, spread = meanAndSd values
            let meanError, errorSd = meanAndSd (experiments |> Array.map (fun e -> e.Error))
            // Tolerance: 3 standard errors of the comparison, combining the relative error of an
            // SD from 200 values, 1/√(2·199), and that of the mean of 200 propagated errors.
            let tolerance = 3.0 * sqrt (1.0 / (2.0 * 199.0) + (errorSd / meanError) ** 2.0 / 200.0)
            Expect.isLessThan (abs (meanError / spread - 1.0)) tolerance
                (sprintf "mean propagated error %g vs spread %g (tolerance %.1f%%)" meanError spread (100.0 * tolerance))
            let exact = sqrt ((0.25 - 0.1) ** 2.0 + 0.1 ** 2.0 + 0.075 ** 2.0) * ar1StandardError rho20 [| 10_000; 10_000 |]
            Expect.isLessThan (abs (meanError / exact - 1.0)) tolerance (sprintf "vs linearised exact %g" exact)
            let tau = experiments |> Array.averageBy (fun e -> e.TauInt)
            Expect.isLessThan (abs (tau - exactTauInt rho20)) 2.0 "τ_int of the ratio is that of the chains (≈ 20)"
        }
        test "derived of a linear function equals the Γ-analysis of the same linear combination" {
            let data = correlatedPair (Gaussian 2718) 3 20_000
            let derived = GammaMethod.derived (fun m -> 2.0 * m.[0] - 3.0 * m.[1]) data
            let combination = Array.map2 (Array.map2 (fun x y -> 2.0 * x - 3.0 * y)) data.[0] data.[1]
            let direct = GammaMethod.analyze combination
            Expect.floatClose Accuracy.veryHigh derived.Mean direct.Mean "mean"
            Expect.floatClose Accuracy.high derived.Error direct.Error "error"
            Expect.equal derived.Window direct.Window "window"
            Expect.floatClose Accuracy.high derived.TauInt direct.TauInt "τ_int"
        }
        test "a constant primary does not produce NaN" {
            let data = correlatedPair (Gaussian 3) 1 5000
            let constant = [| Array.create 5000 2.0 |]
            let e = GammaMethod.derived (fun m -> m.[0] / m.[1]) [| data.[0]; constant |]
            let direct = GammaMethod.analyze (data.[0] |> Array.map (Array.map (fun x -> x / 2.0)))
            Expect.floatClose Accuracy.high e.Error direct.Error "x̄/2 has half the error of x̄"
        }
        test "primaries with different replica layouts are rejected" {
            Expect.throwsT<ArgumentException>
                (fun () -> GammaMethod.derived ratio [| [| [| 1.0; 2.0 |] |]; [| [| 1.0 |] |] |] |> ignore) "layout"
        }
    ]

let private rHatTests =
    testList "split-R̂ and variance" [
        test "a hand-computed case: [1; 2; 3; 4] splits into [1; 2] and [3; 4], R̂ = √(2.25/0.5)" {
            // n = 2, halves' means 1.5 and 3.5: B = 2·(1 + 1)/1 = 4, W = ½, V⁺ = ½·½ + 4/2 = 2.25.
            Expect.floatClose Accuracy.veryHigh (GammaMethod.splitRHat [| [| 1.0; 2.0; 3.0; 4.0 |] |]) (sqrt 4.5) "R̂"
        }
        test "four independent chains of one distribution: R̂ within 0.01 of 1, variance within 5% of 1" {
            let g = Gaussian 404
            let chains = Array.init 4 (fun _ -> g.Draw 2000)
            let e = GammaMethod.analyze chains
            Expect.isLessThan (abs (e.RHat - 1.0)) 0.01 (sprintf "R̂ = %g" e.RHat)
            // Var of the sample variance of 8000 N(0,1) draws: 2/8000, sd 0.016; 5% is 3 sd.
            Expect.isLessThan (abs (e.Variance - 1.0)) 0.05 (sprintf "variance %g" e.Variance)
        }
        test "chains that sample different means, or one that drifts, give R̂ well above 1" {
            let g = Gaussian 405
            let apart = [| g.Draw 1000; g.Draw 1000 |> Array.map ((+) 2.0) |]
            Expect.isGreaterThan (GammaMethod.analyze apart).RHat 1.3 "two chains 2σ apart"
            let drifting = [| Array.init 2000 (fun i -> float i / 500.0 + g.Next()) |]
            Expect.isGreaterThan (GammaMethod.splitRHat drifting) 1.3 "one chain drifting by 4σ: its halves disagree"
        }
        test "edge cases: constant data give 1, chains too short give NaN" {
            Expect.equal (GammaMethod.analyze [| Array.create 10 3.0; Array.create 10 3.0 |]).RHat 1.0 "constant"
            Expect.isTrue (Double.IsNaN(GammaMethod.splitRHat [| [| 1.0; 2.0; 3.0 |] |])) "halves of one sample"
        }
    ]

[<Tests>]
let tests = testList "GammaMethod" [ ar1Tests; iidTests; mechanicsTests; derivedTests; rHatTests ]
