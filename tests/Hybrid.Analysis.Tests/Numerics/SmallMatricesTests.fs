module Hybrid.Analysis.Tests.Numerics.SmallMatricesTests

open Expecto
open MathNet.Numerics.LinearAlgebra
open Hybrid.Analysis.Numerics

let private within (tolerance: float) (actual: float) (expected: float) (message: string) =
    if not (abs (actual - expected) <= tolerance) then
        failtestf "%s: %.17g vs %.17g (difference %.3g > %.3g)" message actual expected (abs (actual - expected)) tolerance

/// A positive-definite 4×4 covariance with unequal variances and correlations of both signs.
let private covariance =
    array2D [ [ 2.0; 0.6; -0.4; 0.3 ]
              [ 0.6; 1.5; 0.5; -0.2 ]
              [ -0.4; 0.5; 1.2; 0.45 ]
              [ 0.3; -0.2; 0.45; 0.9 ] ]

[<Tests>]
let tests =
    testList "SmallMatrices" [
        test "Cholesky rows are lower triangular and reproduce the matrix, as MathNet's factor does" {
            let rows = (SmallMatrices.choleskyRows covariance).Value
            let mathNet = Matrix<float>.Build.DenseOfArray(covariance).Cholesky().Factor
            for i in 0 .. 3 do
                for j in 0 .. 3 do
                    within 1e-14 (SmallMatrices.dot rows.[i] rows.[j]) covariance.[i, j] (sprintf "(L Lᵀ)[%d,%d]" i j)
                    within 1e-14 rows.[i].[j] mathNet.[i, j] (sprintf "L[%d,%d] against MathNet" i j)
                    if j > i then Expect.equal rows.[i].[j] 0.0 "above the diagonal"
        }
        test "a matrix that is not positive definite has no Cholesky rows" {
            Expect.isNone (SmallMatrices.choleskyRows (array2D [ [ 1.0; 2.0 ]; [ 2.0; 1.0 ] ])) "indefinite"
            Expect.isNone (SmallMatrices.choleskyRows (array2D [ [ 1.0; 1.0 ]; [ 1.0; 1.0 ] ])) "singular"
        }
        test "the inverse times the matrix is the identity, also where the leading entry is zero (pivoting)" {
            let m = array2D [ [ 0.0; 2.0; 1.0 ]; [ 1.0; -1.0; 0.5 ]; [ 3.0; 0.25; -2.0 ] ]
            let inverse = SmallMatrices.inverse m
            for i in 0 .. 2 do
                for j in 0 .. 2 do
                    let product = Array.sum (Array.init 3 (fun k -> m.[i, k] * inverse.[k, j]))
                    within 1e-14 product (if i = j then 1.0 else 0.0) (sprintf "(M M⁻¹)[%d,%d]" i j)
            let c = SmallMatrices.inverse covariance
            let mathNet = Matrix<float>.Build.DenseOfArray(covariance).Inverse()
            for i in 0 .. 3 do
                for j in 0 .. 3 do within 1e-13 c.[i, j] mathNet.[i, j] (sprintf "C⁻¹[%d,%d] against MathNet" i j)
        }
        test "reduceToSpan keeps the Gram matrix in as many coordinates as the rank" {
            // Four rows in ℝ⁵ spanning a plane: rank 2.
            let u = [| 1.0; 0.5; -0.3; 0.0; 2.0 |]
            let v = [| 0.0; 1.0; 0.7; -1.2; 0.1 |]
            let rows = [| u; v; Array.map2 (fun a b -> 2.0 * a - b) u v; Array.map2 (fun a b -> -0.5 * a + 3.0 * b) u v |]
            let reduced = SmallMatrices.reduceToSpan 1e-12 rows
            Expect.equal reduced.[0].Length 2 "rank 2"
            for i in 0 .. 3 do
                for j in 0 .. 3 do
                    within 1e-13 (SmallMatrices.dot reduced.[i] reduced.[j]) (SmallMatrices.dot rows.[i] rows.[j]) (sprintf "Gram[%d,%d]" i j)
            // A direction below the threshold is dropped, one above it kept.
            let tilted = [| [| 1.0; 0.0 |]; [| 1.0; 1e-10 |] |]
            Expect.equal (SmallMatrices.reduceToSpan 1e-9 tilted).[0].Length 1 "1e-10 < 1e-9: dropped"
            Expect.equal (SmallMatrices.reduceToSpan 1e-11 tilted).[0].Length 2 "1e-10 > 1e-11: kept"
        }
    ]
