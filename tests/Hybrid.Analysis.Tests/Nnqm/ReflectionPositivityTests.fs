module Hybrid.Analysis.Tests.Nnqm.ReflectionPositivityTests

open System
open Expecto
open MathNet.Numerics.LinearAlgebra
open Hybrid.Analysis.Nnqm
open Hybrid.Analysis.Tests.Synthetic

/// Independent windows of a centred stationary Gaussian process with covariance k(t − s) at times (i − c)τ,
/// drawn through the eigendecomposition of the covariance (a smooth kernel is singular to round-off).
let private windows (kernel: float -> float) (tau: float) (centre: int) (samples: int) (seed: int) =
    let n = 2 * centre + 1
    let covariance = Matrix<float>.Build.Dense(n, n, fun i j -> kernel (float (i - j) * tau))
    let evd = covariance.Evd(Symmetricity.Symmetric)
    let root = evd.EigenVectors * Matrix<float>.Build.DiagonalOfDiagonalArray(evd.EigenValues |> Seq.map (fun z -> sqrt (max z.Real 0.0)) |> Array.ofSeq)
    let gaussian = Gaussian(seed)
    Array.init samples (fun _ -> (root * Vector<float>.Build.DenseOfArray(gaussian.Draw n)).ToArray())

[<Tests>]
let tests =
    testList
        "reflection positivity"
        [ test "an exponential kernel (Ornstein–Uhlenbeck) is reflection positive within errors" {
              let t = ReflectionPositivity.test 0.25 3 3.0 1 200 (windows (fun t -> exp (-abs t)) 0.25 2 20000 5)
              Expect.equal t.Verdict PositiveWithinErrors (sprintf "λ_min = %g ± %g" t.MinEigenvalue.Mean t.MinEigenvalue.Error)
              Expect.isGreaterThan t.MinEigenvalue.Error 0.0 "a bootstrap error"
              Expect.floatClose Accuracy.high t.Gram.[0, 1] t.Gram.[1, 0] "symmetrised"
              Expect.isLessThan t.StationarityPull 4.0 "stationary"
              Expect.isLessThan t.ReflectionPull 4.0 "symmetric under t → −t"
          }

          test "a Gaussian kernel violates reflection positivity by many standard errors" {
              // K(0)K(2τ) < K(τ)²: not log-convex, so a 2 × 2 minor of the Gram matrix is negative.
              let t = ReflectionPositivity.test 0.25 3 3.0 1 200 (windows (fun t -> exp (-t * t / 2.0)) 0.25 2 20000 5)
              Expect.equal t.Verdict Violated (sprintf "λ_min = %g ± %g" t.MinEigenvalue.Mean t.MinEigenvalue.Error)
              Expect.isLessThan t.Significance -10.0 "far below zero"
          }

          test "windows without a centre or with too many points are refused" {
              let even = Array.init 10 (fun _ -> [| 0.0; 1.0 |])
              Expect.throwsT<ArgumentException> (fun () -> ReflectionPositivity.test 0.25 2 3.0 1 10 even |> ignore) "even width"
              let short = Array.init 10 (fun i -> [| float i; 1.0; float (i * i) |])
              Expect.throwsT<ArgumentException> (fun () -> ReflectionPositivity.test 0.25 3 3.0 1 10 short |> ignore) "points > c + 1"
          }

          test "a process whose spread grows with time fails the stationarity pull" {
              let grown = windows (fun t -> exp (-abs t)) 0.25 2 20000 6 |> Array.map (Array.mapi (fun k x -> x * (1.0 + 0.2 * float k)))
              let t = ReflectionPositivity.test 0.25 3 3.0 1 200 grown
              Expect.isGreaterThan t.StationarityPull 10.0 "⟨f(x(t))⟩ is not constant"
          }

          test "clustering: the connected correlation vanishes at a large separation and not at a small one" {
              let pairs (rho: float) seed =
                  let g = Gaussian seed
                  Array.init 20000 (fun _ -> let a = g.Next() in a, rho * a + sqrt (1.0 - rho * rho) * g.Next())
              let far = ReflectionPositivity.clustering 1 200 (pairs (exp -10.0) 3)
              Expect.isLessThan (abs far.Mean) (3.0 * far.Error) (sprintf "D = 10: %g ± %g" far.Mean far.Error)
              let near = ReflectionPositivity.clustering 1 200 (pairs 0.5 4)
              Expect.isGreaterThan near.Mean (10.0 * near.Error) (sprintf "ρ = 0.5: %g ± %g" near.Mean near.Error)
          } ]
