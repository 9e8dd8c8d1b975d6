module Hybrid.Analysis.Tests.Nnqm.PathCorrelatorsTests

open Expecto
open Hybrid.Analysis.Statistics
open Hybrid.Analysis.Fitting
open Hybrid.Analysis.Nnqm
open Hybrid.Analysis.Tests.Synthetic

/// Stationary Ornstein–Uhlenbeck paths [paths × steps] of gap ω and variance 1/(2ω) at spacing dt, exactly
/// discretised (AR(1) with ρ = e^{−ωΔt}): the harmonic oscillator's ground state, one state of gap ω and weight 1/(2ω).
let private ornsteinUhlenbeck (omega: float) (dt: float) (paths: int) (steps: int) (seed: int) =
    let gaussian = Gaussian(seed)
    let scale = sqrt (1.0 / (2.0 * omega))
    Array.init paths (fun _ -> ar1 gaussian (exp (-omega * dt)) steps |> Array.map ((*) scale)) |> Array.concat

let private within3 what (e: Estimate) (exact: float) =
    Expect.isLessThan (abs (e.Mean - exact)) (3.0 * e.Error) (sprintf "%s: %g ± %g against %g" what e.Mean e.Error exact)

let private omega, dt, paths, steps, lags = 1.5, 0.1, 1000, 201, 30
let private values = lazy (ornsteinUhlenbeck omega dt paths steps 17)

[<Tests>]
let tests =
    testList
        "nnqm path correlators"
        [ test "a one-state fit of Ornstein–Uhlenbeck paths recovers gap ω and weight 1/(2ω), and Δx Δp = ½" {
              let times, data, fit = PathCorrelators.fitSpectrum values.Value paths steps dt lags 1 false
              Expect.equal times.Length lags "lags Δt … 30Δt"
              Expect.equal data.Values.Length lags "one value per lag"
              Expect.isTrue fit.Fit.Converged "converged"
              within3 "gap" fit.Energies.[0] omega
              within3 "weight" fit.Amplitudes.[0] (1.0 / (2.0 * omega))
              Expect.isLessThan fit.Energies.[0].Error 0.05 "a few per cent"
              within3 "Δx Δp" (PathCorrelators.uncertaintyProduct fit) 0.5
          }

          test "with selection, Ornstein–Uhlenbeck is one state" {
              let _, _, fit = PathCorrelators.fitSpectrum values.Value paths steps dt lags 3 true
              Expect.equal fit.States 1 "AIC picks one state"
          }

          test "the priors come from the effective mass at the first two lags" {
              let _, data, priors = PathCorrelators.fitPaths values.Value paths steps dt lags
              let mass = log (data.Values.[0] / data.Values.[1]) / dt
              Expect.equal priors.Ground (LogNormal(mass, 1.0)) "ground gap centred on the effective mass"
              Expect.equal priors.Gap (LogNormal(2.0 * mass, 1.0)) "excited gaps on twice that"
          }

          test "a correlator that does not fall is refused" {
              let constant = Array.create (4 * 50) 1.0
              Expect.throwsT<System.InvalidOperationException> (fun () -> PathCorrelators.fitPaths constant 4 50 0.1 5 |> ignore) "no effective mass"
          }

          test "the kink of Ornstein–Uhlenbeck is 1 ([x, p] = i), from the extrapolated increments" {
              // K(Δ) = (1 − e^{−ωΔ})/(ωΔ): the extrapolation leaves −(ωΔt)³/4 ≈ −8e-4, below the error.
              let k = PathCorrelators.kink values.Value paths steps dt
              within3 "kink" k 1.0
              Expect.isLessThan k.Error 0.02 "a per cent or two"
          }

          test "the kink of a deterministic path: increments of a straight line extrapolate to zero" {
              // y_s = s: K(Δ) = Δ²/Δ = Δ for Δ = kΔt, and 3K(Δt) − 3K(2Δt) + K(3Δt) = (3 − 6 + 3)Δt = 0.
              let line = Array.init 20 float
              let k = PathCorrelators.kink (Array.append line line) 2 20 1.0
              Expect.floatClose Accuracy.high k.Mean 0.0 "linear K(Δ) extrapolates to 0"
          }

          test "the GEVP of y, y³, y⁵ of Ornstein–Uhlenbeck finds ω and 3ω" {
              let matrices = PathCorrelators.operatorMatrices values.Value paths steps (lags + 1)
              Expect.equal matrices.Length paths "one sample per path"
              Expect.equal matrices.[0].Length (lags + 1) "lags 0 … 30"
              let first = values.Value.[0 .. steps - 1]
              Expect.floatClose Accuracy.high matrices.[0].[0].[0, 1] (Array.averageBy (fun y -> y ** 4.0) first) "⟨y · y³⟩ at lag 0"
              Expect.floatClose Accuracy.high matrices.[0].[3].[1, 2] matrices.[0].[3].[2, 1] "symmetrised"
              let gevp = Spectral.gevp dt 1 matrices
              within3 "GEVP ω" gevp.Energies.[0] omega
              within3 "GEVP 3ω" gevp.Energies.[1] (3.0 * omega)
          }

          test "the connected four-point function of a Gaussian process vanishes" {
              let g4 = PathCorrelators.connectedFourPoint values.Value paths steps 3 5
              within3 "G₄c(0, τ, 2τ, 3τ)" g4 0.0
              Expect.isGreaterThan g4.Error 0.0 "a bootstrap error"
          } ]
