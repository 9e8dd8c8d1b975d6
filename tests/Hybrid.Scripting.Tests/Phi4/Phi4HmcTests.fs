module Hybrid.Scripting.Tests.Phi4.Phi4HmcTests

open System
open System.IO
open System.Text.Json
open Expecto
open Hybrid.Scripting.Tests.Support

[<Tests>]
let tests =
    testList
        "phi4-hmc"
        [ test "a run writes config, raw measurements, summary, table and offline plots" {
              let dir = runInto [ "phi4-hmc"; "--L"; "6"; "--chains"; "4"; "--thermalization"; "20"; "--trajectories"; "50" ]
              for file in [ "config.json"; "measurements.csv"; "summary.json"; "summary.md"; "observables.csv"; "correlator.csv"
                            "correlator.html"; "effective-mass.html"; "history.html"; "tau-int.html" ] do
                  Expect.isTrue (File.Exists(Path.Combine(dir, file))) (sprintf "%s written" file)
              let lines = File.ReadAllLines(Path.Combine(dir, "measurements.csv"))
              Expect.equal lines.Length (1 + 4 * 50) "one row per chain and trajectory, plus a header"
              Expect.equal (lines.[0].Split(',').Length) (9 + 6) "columns: 9 scalars and G_c(t) for t = 0..L−1"
              use summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "summary.json")))
              Expect.equal (summary.RootElement.GetProperty("experiment").GetString()) "phi4-hmc" "experiment named"
              Expect.equal (summary.RootElement.GetProperty("parameters").GetProperty("L").GetInt32()) 6 "parameters recorded"
              for name in [ "chi2"; "abs_magnetization"; "binder"; "ising_energy"; "xi"; "acceptance" ] do
                  let mean, error, tau = observable dir name
                  Expect.isTrue (Double.IsFinite mean && Double.IsFinite error && tau >= 0.5) (sprintf "%s has mean, error and τ_int" name)
              Expect.isTrue (summary.RootElement.GetProperty("timing").GetProperty("measurement_seconds").GetDouble() > 0.0) "timing recorded"
              let html = File.ReadAllText(Path.Combine(dir, "correlator.html"))
              Expect.isFalse (html.Contains "<script src=\"http") "plotly.js is inlined, not fetched"
              Expect.stringContains (File.ReadAllText(Path.Combine(dir, "summary.md"))) "| chi2 |" "Markdown table"
              Directory.Delete(dir, true)
          }

          test "the hopping parameterisation gives the same run as the mass form" {
              // κ = 1/√(2λ) = 0.25, λ̃ = ½ is exactly m² = −4, λ = 8: same seed, same chain.
              let a = runInto [ "phi4-hmc"; "--L"; "4"; "--chains"; "2"; "--thermalization"; "5"; "--trajectories"; "10"; "--seed"; "7" ]
              let b = runInto [ "phi4-hmc"; "--L"; "4"; "--chains"; "2"; "--thermalization"; "5"; "--trajectories"; "10"; "--seed"; "7"; "--kappa"; "0.25"; "--lambda-tilde"; "0.5" ]
              let chi (dir: string) =
                  let mean, _, _ = observable dir "chi2"
                  mean
              Expect.floatClose Accuracy.high (chi a) (chi b) "identical χ₂"
              Directory.Delete(a, true)
              Directory.Delete(b, true)
          }

          test "the exactness checks catch frozen chains and a broken Creutz equality, and only with trustworthy statistics" {
              let est mean error samples = { Hybrid.Analysis.Statistics.Estimate.independent mean error samples with TauInt = 1.0 }
              let check acceptance boltzmann = Hybrid.Scripting.Phi4.Phi4Hmc.exactnessProblem Hybrid.Scripting.Phi4.Phi4Hmc.defaults 0.2 acceptance boltzmann
              Expect.stringContains (check (est 0.0 0.0 5000) (est 0.0 0.0 5000)).Value "barely moved" "acceptance 0"
              Expect.stringContains (check (est 0.85 0.01 5000) (est 0.9 0.01 5000)).Value "⟨e^{−ΔH}⟩ = 0.900(10)" "⟨e^{−ΔH}⟩ 10σ from 1"
              Expect.isNone (check (est 0.85 0.01 5000) (est 1.003 0.004 5000)) "an exact run passes"
              Expect.isNone (check (est 0.6 0.1 20) (est 0.39 0.11 20)) "20 heavy-tailed samples are not enough to judge"
          }

          test "tutorial point: χ₂ agrees with the literature 0.75 ± 0.01 within 3σ (Γ-method errors)" {
              // Albergo et al. (2101.08176), L = 8, m² = −4, λ = 8. The test fails if the action, the sampler
              // or the analysis is wrong by more than about 3 combined standard deviations (≈ 0.03).
              let dir = runInto [ "phi4-hmc"; "--chains"; "32"; "--thermalization"; "100"; "--trajectories"; "1000"; "--seed"; "11" ]
              let chi, error, tau = observable dir "chi2"
              Expect.isLessThan error 0.01 "statistical error small enough to test"
              Expect.isLessThan (abs (chi - 0.75)) (3.0 * sqrt (error * error + 0.01 * 0.01)) (sprintf "χ₂ = %g ± %g" chi error)
              Expect.isLessThan tau 10.0 "HMC decorrelates χ₂ within a few trajectories here"
              let u4, u4err, _ = observable dir "binder"
              Expect.isTrue (u4 > 0.0 && u4 < 2.0 / 3.0) (sprintf "U₄ = %g ± %g lies between the Gaussian and ordered limits" u4 u4err)
              let creutz, creutzErr, _ = observable dir "exp_minus_delta_h"
              Expect.isLessThan (abs (creutz - 1.0)) (4.0 * creutzErr) "⟨e^{−ΔH}⟩ = 1"
              Directory.Delete(dir, true)
          } ]
