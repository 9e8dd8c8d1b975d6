module Hybrid.Analysis.Tests.O3.StepScalingTests

open System
open Expecto
open Hybrid.Analysis.Statistics
open Hybrid.Analysis.O3

[<Tests>]
let tests =
    testList
        "step scaling"
        [ test "the two-loop step-scaling function has physics.md's coefficients" {
              // σ(2, u) − u = 0.110318 u² + 0.029727 u³: read the coefficients off two small u.
              let c2, c3 =
                  let a, b = 1e-2, 2e-2
                  let fa, fb = StepScaling.perturbative 2.0 a - a, StepScaling.perturbative 2.0 b - b
                  // f = c2 u² + c3 u³ exactly (a cubic), so two points determine both.
                  let c3 = (fb / (b * b) - fa / (a * a)) / (b - a)
                  fa / (a * a) - c3 * a, c3
              Expect.floatClose { absolute = 5e-7; relative = 0.0 } c2 0.110318 "b₀ ln 2"
              // 0.0297276…: physics.md quotes it cut to six decimals.
              Expect.floatClose { absolute = 1e-6; relative = 0.0 } c3 0.029727 "b₁ ln 2 + b₀² ln² 2"
              Expect.floatClose { absolute = 5e-6; relative = 0.0 } (StepScaling.perturbative 2.0 1.0595) 1.21869 "at u = 1.0595"
          }

          test "the logarithmic derivative of σ is that of the perturbative series, 1 at tree level" {
              for u in [ 0.3; 1.0595; 1.5 ] do
                  let h = 1e-5
                  let numeric = (log (StepScaling.perturbative 2.0 (u * exp h)) - log (StepScaling.perturbative 2.0 (u * exp -h))) / (2.0 * h)
                  Expect.floatClose { absolute = 1e-8; relative = 0.0 } (StepScaling.logDerivative 2 2.0 u) numeric (sprintf "two loops at u = %g" u)
              // One loop: σ = u + b₀ ln2 u², so r = (1 + 2x)/(1 + x) with x = b₀ ln2 u.
              let x = StepScaling.b0 * log 2.0 * 1.0595
              Expect.floatClose { absolute = 1e-12; relative = 0.0 } (StepScaling.logDerivative 1 2.0 1.0595) ((1.0 + 2.0 * x) / (1.0 + x)) "one loop"
              Expect.floatClose { absolute = 1e-6; relative = 0.0 } (StepScaling.logDerivative 2 2.0 1e-6) 1.0 "tree level"
              Expect.throwsT<ArgumentException> (fun () -> StepScaling.logDerivative 3 2.0 1.0 |> ignore) "three loops are not known here"
          }

          test "two-loop running agrees with the expanded step-scaling function to O(u⁴)" {
              for u in [ 0.05; 0.1; 0.2 ] do
                  let difference = abs (StepScaling.running u 4.0 8.0 - StepScaling.perturbative 2.0 u)
                  // The first neglected term is O(u⁴) with a coefficient of order b₀³ ln³2 ≈ 10⁻³.
                  Expect.isLessThan difference (0.01 * u ** 4.0) (sprintf "u = %g" u)
              Expect.isGreaterThan (StepScaling.running 1.0 4.0 8.0) 1.0 "asymptotic freedom: ū grows with L"
          }

          test "tuning a coupling recovers a power law's root, with the error of its inputs" {
              let law g2 = 1.6 * g2 ** 1.3
              let exactRoot = (1.0595 / 1.6) ** (1.0 / 1.3)
              let points = [ for g2 in [ 0.5; 0.6; 0.7; 0.8 ] -> g2, Estimate.independent (law g2) (0.002 * law g2) 100 ]
              let g2, slope = StepScaling.tuneCoupling 1.0595 points
              Expect.floatClose { absolute = 1e-10; relative = 0.0 } g2.Mean exactRoot "the root"
              Expect.floatClose { absolute = 1e-10; relative = 0.0 } slope 1.3 "the logarithmic slope"
              // δ ln g² ≈ δ ln ū / β with ~4 points' worth of averaging: of order 0.002/1.3/√4.
              Expect.isGreaterThan (g2.Error / g2.Mean) 2e-4 "the error is propagated, not zero"
              Expect.isLessThan (g2.Error / g2.Mean) 2e-3 "and not larger than one point's"
          }

          test "tuning follows the curvature of ū(g²): a parabola in ln g² recovers the root where a line would not" {
              // ln ū = 0.1 + 1.5 x + 0.8 x², x = ln g²: three points 10% apart.
              let law g2 = let x = log g2 in exp (0.1 + 1.5 * x + 0.8 * x * x)
              let target = law 0.79
              let points = [ for g2 in [ 0.72; 0.78; 0.85 ] -> g2, Estimate.independent (law g2) (1e-4 * law g2) 100 ]
              let g2, slope = StepScaling.tuneCoupling target points
              Expect.floatClose { absolute = 1e-9; relative = 0.0 } g2.Mean 0.79 "the root"
              Expect.floatClose { absolute = 1e-8; relative = 0.0 } slope (1.5 + 1.6 * log 0.79) "the local logarithmic slope"
              let line, _ = StepScaling.tuneCoupling target [ points.[0]; points.[2] ]
              Expect.isGreaterThan (abs (line.Mean - 0.79)) (5.0 * g2.Error) "a line through the outer points misses by many errors"
          }

          test "continuum extrapolation recovers σ of data with known cutoff effects; forms the data reject carry no weight" {
              let sizes = [ 4; 6; 8; 12; 16 ]
              let exact = 1.261210
              let points = [ for l in sizes -> l, Estimate.independent (exact + 0.8 / float l) 1e-4 100 ]
              let limit = StepScaling.extrapolate points
              let linear = limit.Fits |> List.find (fun f -> f.Form = "a/L" && f.From = 4)
              Expect.floatClose { absolute = 1e-8; relative = 0.0 } linear.Sigma.Mean exact "the a/L form is exact here"
              Expect.floatClose { absolute = 1e-6; relative = 0.0 } linear.Slope 0.8 "its slope"
              Expect.isLessThan linear.ChiSquaredPerDof 1e-6 "and fits perfectly"
              Expect.equal (limit.Fits |> List.map (fun f -> f.From) |> List.distinct) [ 4; 6; 8 ] "every range that keeps three sizes"
              for f in limit.Fits |> List.filter (fun f -> f.Form = "a/L") do
                  Expect.floatClose { absolute = 1e-8; relative = 0.0 } f.Sigma.Mean exact (sprintf "the a/L form from L = %d" f.From)
              Expect.floatClose { absolute = 1e-12; relative = 0.0 } (limit.Fits |> List.sumBy (fun f -> f.Weight)) 1.0 "normalised weights"
              // The wrong forms miss by thousands of errors: they drop out of the average instead of setting its error.
              Expect.isGreaterThan linear.Weight 0.5 "the full-range a/L fit dominates (its cut costs nothing)"
              Expect.floatClose { absolute = 1e-6; relative = 0.0 } limit.Combined.Mean exact "the average is the exact σ"
              Expect.isLessThan limit.Systematic 1e-5 "no spread among the fits that describe the data"
              Expect.isGreaterThan limit.Spread 1e-3 "the unweighted spread still reports the rejected forms"
              Expect.throwsT<ArgumentException> (fun () -> StepScaling.extrapolate [ 4, Estimate.independent 1.0 0.1 1 ] |> ignore) "two sizes at least"
              let three = StepScaling.extrapolate (points |> List.take 3)
              Expect.equal (three.Fits |> List.map (fun f -> f.From) |> List.distinct) [ 4 ] "with three sizes the range is not cut to two"
          }

          test "forms that describe the data equally well and disagree widen the averaged error" {
              // Noisy data (0.5%) from a (a/L)² law: a/L and (a/L)² both fit within χ², with different σ.
              let exact = 1.261210
              let noise = [ 0.3; -0.5; 0.2; -0.1; 0.4 ]
              let sizes = [ 3; 4; 6; 8; 12 ]
              let points = List.map2 (fun l n -> l, Estimate.independent (exact + 2.0 / float (l * l) + n * 0.006) 0.006 100) sizes noise
              let limit = StepScaling.extrapolate points
              let good = limit.Fits |> List.filter (fun f -> f.Weight > 0.05)
              Expect.isGreaterThan (good |> List.map (fun f -> f.Form) |> List.distinct |> List.length) 1 "more than one form carries weight"
              let lo, hi = good |> List.map (fun f -> f.Sigma.Mean) |> List.min, good |> List.map (fun f -> f.Sigma.Mean) |> List.max
              Expect.isGreaterThan limit.Systematic (0.1 * (hi - lo)) "their disagreement is in the systematic error"
              Expect.isGreaterThan limit.Combined.Error limit.Central.Error "and in the combined error"
              Expect.isLessThan (abs (limit.Combined.Mean - exact)) (3.0 * limit.Combined.Error) "which covers the truth"
          } ]
