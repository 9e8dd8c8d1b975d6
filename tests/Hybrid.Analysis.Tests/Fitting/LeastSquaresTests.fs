module Hybrid.Analysis.Tests.Fitting.LeastSquaresTests

open System
open Expecto
open Hybrid.Analysis.Fitting
open Hybrid.Analysis.Tests.Synthetic

/// A two-state correlator C(t) = A₀ e^{−E₀ t} + A₁ e^{−E₁ t} at t = 1..T.
let private twoState (times: float[]) (p: float[]) = times |> Array.map (fun t -> p.[0] * exp (-p.[1] * t) + p.[2] * exp (-p.[3] * t))
let private oneState (times: float[]) (p: float[]) = times |> Array.map (fun t -> p.[0] * exp (-p.[1] * t))

/// Correlated Gaussian noise with covariance C = σ_i σ_j ρ^{|i−j|}, drawn as L z with L = chol(C).
let private correlatedNoise (g: Gaussian) (sigma: float[]) (rho: float) =
    let n = sigma.Length
    let c = Array2D.init n n (fun i j -> sigma.[i] * sigma.[j] * Math.Pow(rho, float (abs (i - j))))
    let l = MathNet.Numerics.LinearAlgebra.Matrix<float>.Build.DenseOfArray(c).Cholesky().Factor
    let z = MathNet.Numerics.LinearAlgebra.Vector<float>.Build.DenseOfArray(g.Draw n)
    (l * z).ToArray(), c

[<Tests>]
let tests =
    testList "Fitting.LeastSquares" [
        test "a straight line through exact points: the parameters exactly, and the covariance (XᵀC⁻¹X)⁻¹" {
            let x = [| 0.0; 1.0; 2.0; 3.0 |]
            let model = { ParameterNames = [| "a"; "b" |]; Priors = [| Flat; Flat |]; Predict = fun p -> x |> Array.map (fun t -> p.[0] + p.[1] * t) }
            let data = LeastSquares.ofErrors (x |> Array.map (fun t -> 1.0 + 2.0 * t)) [| 0.1; 0.1; 0.1; 0.1 |]
            let r = LeastSquares.fit model data (LeastSquares.options [| 0.0; 0.0 |])
            Expect.isTrue r.Converged "converged"
            Expect.floatClose Accuracy.high r.Parameters.[0] 1.0 "intercept"
            Expect.floatClose Accuracy.high r.Parameters.[1] 2.0 "slope"
            // (XᵀX)⁻¹σ² for x = 0..3: [[7/10, −3/10], [−3/10, 1/5]]·0.01.
            Expect.floatClose Accuracy.medium r.Covariance.[0, 0] 0.007 "Var a"
            Expect.floatClose Accuracy.medium r.Covariance.[1, 1] 0.002 "Var b"
            Expect.floatClose Accuracy.medium r.Covariance.[0, 1] -0.003 "Cov ab"
            Expect.isLessThan r.ChiSquared 1e-12 "χ² = 0"
            Expect.equal r.DegreesOfFreedom 2 "4 points − 2 parameters"
        }

        test "a correlated two-state correlator: known parameters recovered within 3σ, χ²/dof consistent with 1" {
            let times = Array.init 16 (fun i -> float (i + 1))
            let truth = [| 1.0; 0.3; 0.5; 0.9 |]
            let exact = twoState times truth
            let noise, c = correlatedNoise (Gaussian 101) (exact |> Array.map (fun v -> 0.01 * v)) 0.7
            let data = { Values = Array.map2 (+) exact noise; Covariance = c }
            let model = { ParameterNames = [| "A0"; "E0"; "A1"; "E1" |]; Priors = [| Flat; Flat; Flat; Flat |]; Predict = twoState times }
            let r = LeastSquares.fit model data (LeastSquares.options [| 0.8; 0.25; 0.8; 1.2 |])
            Expect.isTrue r.Converged "converged"
            for p in 0 .. 3 do
                let pull = (r.Parameters.[p] - truth.[p]) / r.Errors.[p]
                Expect.isLessThan (abs pull) 3.0 (sprintf "%s = %g ± %g, truth %g" r.ParameterNames.[p] r.Parameters.[p] r.Errors.[p] truth.[p])
            // χ² with 12 dof: mean 12, sd √24 ≈ 4.9; 4 sd either way.
            Expect.isLessThan (abs (r.ChiSquared - 12.0)) (4.0 * sqrt 24.0) (sprintf "χ² = %g for 12 dof" r.ChiSquared)
            Expect.isTrue (r.PValue > 0.0 && r.PValue < 1.0) "a p-value"
        }

        test "coverage: 1σ intervals of E₀ contain the truth in 68% of 400 correlated synthetic datasets (binomial 3σ)" {
            let times = Array.init 12 (fun i -> float (i + 2))
            let truth = [| 1.0; 0.4 |]
            let exact = oneState times truth
            let sigma = exact |> Array.map (fun v -> 0.02 * v)
            let g = Gaussian 202
            let model = { ParameterNames = [| "A"; "E" |]; Priors = [| Flat; Flat |]; Predict = oneState times }
            let trials = 400
            let covered =
                [ for _ in 1 .. trials ->
                      let noise, c = correlatedNoise g sigma 0.6
                      let r = LeastSquares.fit model { Values = Array.map2 (+) exact noise; Covariance = c } (LeastSquares.options [| 0.9; 0.35 |])
                      abs (r.Parameters.[1] - truth.[1]) <= r.Errors.[1] ]
                |> List.filter id |> List.length
            let fraction = float covered / float trials
            let sd = sqrt (0.6827 * 0.3173 / float trials)
            Expect.isLessThan (abs (fraction - 0.6827)) (3.0 * sd) (sprintf "%d of %d intervals cover the truth" covered trials)
        }

        test "a parameter the data do not constrain returns its Gaussian prior" {
            let model = { ParameterNames = [| "a"; "unused" |]; Priors = [| Flat; Prior.Gaussian(2.0, 0.5) |]; Predict = fun p -> [| p.[0]; p.[0] |] }
            let r = LeastSquares.fit model (LeastSquares.ofErrors [| 1.0; 3.0 |] [| 1.0; 1.0 |]) (LeastSquares.options [| 0.0; 0.0 |])
            Expect.floatClose Accuracy.medium r.Parameters.[0] 2.0 "a = weighted mean of 1 and 3"
            Expect.floatClose Accuracy.medium r.Errors.[0] (1.0 / sqrt 2.0) "error of a weighted mean"
            Expect.floatClose Accuracy.medium r.Parameters.[1] 2.0 "prior mean"
            Expect.floatClose Accuracy.medium r.Errors.[1] 0.5 "prior width"
            Expect.equal r.DegreesOfFreedom 1 "2 points + 1 prior − 2 parameters"
        }

        test "a log-normal prior keeps the parameter positive and combines with the data in log space" {
            // Data E = 0.5 ± 0.05 and prior log E ~ N(log 0.4, 0.25²). In u = log E the fit minimises
            // (e^u − 0.5)²/0.05² + (u − log 0.4)²/0.25²; its stationary point by bisection is the oracle, and the
            // Gauss–Newton error there is 1/√((e^u/0.05)² + 1/0.25²) in u, i.e. relative in E.
            let model = { ParameterNames = [| "E" |]; Priors = [| LogNormal(0.4, 0.25) |]; Predict = fun p -> [| p.[0] |] }
            let r = LeastSquares.fit model (LeastSquares.ofErrors [| 0.5 |] [| 0.05 |]) (LeastSquares.options [| 1.0 |])
            let slope u = (exp u - 0.5) * exp u / 0.0025 + (u - log 0.4) / 0.0625
            let mutable lo, hi = log 0.3, log 0.6
            for _ in 1 .. 100 do
                let mid = 0.5 * (lo + hi)
                if slope mid > 0.0 then hi <- mid else lo <- mid
            let u = 0.5 * (lo + hi)
            Expect.floatClose Accuracy.high r.Parameters.[0] (exp u) "E at the minimum"
            Expect.floatClose Accuracy.medium (r.Errors.[0] / r.Parameters.[0]) (1.0 / sqrt ((exp u / 0.05) ** 2.0 + 16.0)) "relative error"
            let onlyPrior = LeastSquares.fit { model with Predict = fun _ -> [| 0.0 |] } (LeastSquares.ofErrors [| 0.0 |] [| 1.0 |]) (LeastSquares.options [| 3.0 |])
            Expect.floatClose Accuracy.medium onlyPrior.Parameters.[0] 0.4 "the prior median"
            Expect.floatClose Accuracy.medium onlyPrior.Errors.[0] 0.1 "median × log width"
        }

        test "the information criterion prefers the model that generated the data" {
            let times = Array.init 14 (fun i -> float (i + 1))
            let exact = twoState times [| 1.0; 0.3; 0.5; 0.9 |]
            let noise, c = correlatedNoise (Gaussian 303) (exact |> Array.map (fun v -> 0.002 * v)) 0.5
            let data = { Values = Array.map2 (+) exact noise; Covariance = c }
            let one = LeastSquares.fit { ParameterNames = [| "A0"; "E0" |]; Priors = [| Flat; Flat |]; Predict = oneState times } data (LeastSquares.options [| 1.0; 0.3 |])
            let two = LeastSquares.fit { ParameterNames = [| "A0"; "E0"; "A1"; "E1" |]; Priors = Array.create 4 Flat; Predict = twoState times } data (LeastSquares.options [| 0.9; 0.28; 0.6; 1.0 |])
            Expect.isLessThan two.Aic one.Aic (sprintf "AIC two-state %g < one-state %g" two.Aic one.Aic)
            Expect.isLessThan one.PValue 1e-6 "the one-state fit is rejected"
        }

        test "bad input is refused naming what is wrong" {
            let model = { ParameterNames = [| "a" |]; Priors = [| Flat |]; Predict = fun p -> [| p.[0]; p.[0] |] }
            let notPositive = { Values = [| 1.0; 2.0 |]; Covariance = array2D [ [ 1.0; 2.0 ]; [ 2.0; 1.0 ] ] }
            Expect.throwsT<ArgumentException> (fun () -> LeastSquares.fit model notPositive (LeastSquares.options [| 0.0 |]) |> ignore) "covariance not positive definite"
            Expect.throwsT<ArgumentException> (fun () -> LeastSquares.fit { model with Priors = [||] } (LeastSquares.ofErrors [| 1.0; 1.0 |] [| 1.0; 1.0 |]) (LeastSquares.options [| 0.0 |]) |> ignore) "priors"
            Expect.throwsT<ArgumentException> (fun () -> LeastSquares.fit { model with Priors = [| LogNormal(1.0, 0.1) |] } (LeastSquares.ofErrors [| 1.0; 1.0 |] [| 1.0; 1.0 |]) (LeastSquares.options [| -1.0 |]) |> ignore) "log-normal start ≤ 0"
            Expect.throwsT<ArgumentException> (fun () -> LeastSquares.ofErrors [| 1.0 |] [| 1.0; 2.0 |] |> ignore) "lengths"
        }
    ]
