module Hybrid.Analysis.Tests.Numerics.QuadratureTests

open System
open Expecto
open Hybrid.Analysis.Statistics
open Hybrid.Analysis.Numerics

[<Tests>]
let tests =
    testList "Quadrature" [
        test "the n-point rule is exact to degree 2n − 1 and not beyond" {
            let nodes, weights = Quadrature.gaussLegendre 4
            let moment p = Array.fold2 (fun s x w -> s + w * x ** float p) 0.0 nodes weights
            Expect.floatClose Accuracy.veryHigh (moment 6) (2.0 / 7.0) "∫x⁶ = 2/7 (degree 6 ≤ 7)"
            Expect.isGreaterThan (abs (moment 8 - 2.0 / 9.0)) 1e-4 "degree 8 is beyond the rule"
            Expect.floatClose Accuracy.veryHigh (Quadrature.panel 4 (fun x -> x ** 7.0) 0.0 2.0) (2.0 ** 8.0 / 8.0) "mapped onto [0, 2]"
        }
        test "composite and tensor-product rules integrate smooth functions over intervals and boxes" {
            let nodes, weights = Quadrature.composite 8 0.0 Math.PI 4
            Expect.equal nodes.Length 32 "8 nodes per panel"
            Expect.floatClose Accuracy.veryHigh (Array.fold2 (fun s x w -> s + w * sin x) 0.0 nodes weights) 2.0 "∫₀^π sin = 2"
            let points, w2 = Quadrature.composite 8 -1.0 1.0 2 |> Quadrature.tensorProduct 2
            Expect.equal points.Length 256 "16² points"
            let integral = Array.fold2 (fun s (p: float[]) w -> s + w * exp (-(p.[0] * p.[0] + p.[1] * p.[1]))) 0.0 points w2
            let oneD = sqrt Math.PI * MathNet.Numerics.SpecialFunctions.Erf 1.0
            Expect.floatClose Accuracy.veryHigh integral (oneD * oneD) "∫∫ e^{−x²−y²} over [−1, 1]²"
        }
        test "the adaptive rule refines towards a near-singular endpoint" {
            // ∫₀¹ dx/√(x + ε) = 2(√(1 + ε) − √ε): a branch point just outside the interval.
            let eps = 1e-8
            let value = Quadrature.adaptive 16 1000 1e-12 (fun x -> 1.0 / sqrt (x + eps)) 0.0 1.0
            Expect.floatClose Accuracy.high value (2.0 * (sqrt (1.0 + eps) - sqrt eps)) "to the tolerance"
            Expect.isGreaterThan (abs (Quadrature.panel 16 (fun x -> 1.0 / sqrt (x + eps)) 0.0 1.0 - value)) 1e-2 "one panel alone is far off"
        }
        test "bad orders and panel counts are refused" {
            Expect.throwsT<ArgumentException> (fun () -> Quadrature.gaussLegendre 0 |> ignore) "n = 0"
            Expect.throwsT<ArgumentException> (fun () -> Quadrature.composite 8 0.0 1.0 0 |> ignore) "no panels"
        }
    ]

[<Tests>]
let jackknife =
    testList "Jackknife" [
        test "the jackknife of the mean is the standard error of the mean" {
            let data = [| 1.0; 4.0; 2.0; 8.0; 5.0; 7.0 |]
            let n = float data.Length
            let leaveOut = Array.init data.Length (fun i -> (Array.sum data - data.[i]) / (n - 1.0))
            let sem = sqrt ((data |> Array.sumBy (fun x -> (x - Array.average data) ** 2.0)) / (n - 1.0) / n)
            let e = Jackknife.estimate (Array.average data) leaveOut data.Length
            Expect.floatClose Accuracy.veryHigh e.Error sem "jackknife = s/√n for the mean"
            Expect.throwsT<ArgumentException> (fun () -> Jackknife.errorOf [| 1.0 |] |> ignore) "one value is too few"
        }
    ]
