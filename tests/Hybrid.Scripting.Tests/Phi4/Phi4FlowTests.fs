module Hybrid.Scripting.Tests.Phi4.Phi4FlowTests

open System
open System.IO
open System.Text.Json
open Expecto
open Hybrid.Scripting.Tests.Support

let private newDir () = newDirectory "hybrid-flow"
let private run = runInto

[<Tests>]
let tests =
    testList
        "phi4-flow"
        [ test "a short run writes the training curve, checkpoint, proposals and flow figures of merit" {
              let dir = run [ "phi4-flow"; "--L"; "4"; "--couplings"; "2"; "--steps"; "10"; "--samples"; "256" ]
              for file in [ "config.json"; "training.csv"; "training.html"; "checkpoint.bin"; "measurements.csv"; "summary.json"; "summary.md"; "correlator.html" ] do
                  Expect.isTrue (File.Exists(Path.Combine(dir, file))) (sprintf "%s written" file)
              Expect.equal (File.ReadAllLines(Path.Combine(dir, "training.csv")).Length) 11 "one row per step"
              for name in [ "ess"; "free_energy_q"; "acceptance"; "chi2"; "abs_magnetization"; "binder"; "ising_energy"; "xi" ] do
                  let mean, _, _ = observable dir name
                  Expect.isFalse (Double.IsNaN mean) (sprintf "%s reported" name)
              let ess, _, _ = observable dir "ess"
              Expect.isTrue (ess > 0.0 && ess <= 1.0) "ESS/N in (0, 1]"
              Directory.Delete(dir, true)
          }

          test "resuming continues the step count from the checkpoint" {
              let dir = newDir ()
              let checkpoint = Path.Combine(dir, "flow.ckpt")
              let first = run [ "phi4-flow"; "--L"; "4"; "--couplings"; "2"; "--steps"; "6"; "--samples"; "64"; "--checkpoint"; checkpoint ]
              let second = run [ "phi4-flow"; "--L"; "4"; "--couplings"; "2"; "--steps"; "10"; "--samples"; "64"; "--checkpoint"; checkpoint; "--resume" ]
              let steps = File.ReadAllLines(Path.Combine(second, "training.csv")) |> Array.skip 1 |> Array.map (fun l -> int (l.Split(',').[0]))
              Expect.equal steps [| 7 .. 10 |] "the resumed run trains steps 7..10"
              for d in [ first; second; dir ] do Directory.Delete(d, true)
          }

          test "a checkpoint of another theory is refused before any work, naming the difference" {
              let dir = newDir ()
              let checkpoint = Path.Combine(dir, "flow.ckpt")
              let first = run [ "phi4-flow"; "--L"; "4"; "--couplings"; "2"; "--steps"; "2"; "--samples"; "64"; "--checkpoint"; checkpoint ]
              let code, message = runCapturingErrors [ "phi4-flow"; "--L"; "4"; "--couplings"; "2"; "--lambda"; "6"; "--steps"; "4"; "--checkpoint"; checkpoint; "--resume"; "--out"; Path.Combine(dir, "never") ]
              Expect.equal code 2 "exit code 2"
              Expect.stringContains message "target lambda: checkpoint has 8, this run has 6" "names the mismatch"
              Expect.isFalse (Directory.Exists(Path.Combine(dir, "never"))) "nothing was started"
              for d in [ first; dir ] do Directory.Delete(d, true)
          }

          test "the solver guard records its checks, backs off, then ends training and samples the last accurate flow" {
              // One RK4 step: the solver's error is never below 1e-12 once the flow has moved, so every check
              // fails. Four back-offs are allowed: the checks at steps 2, 4, 6 and 8 back off, the one at 10 ends training.
              let guarded tolerance =
                  [ "phi4-flow"; "--flow"; "cnf"; "--L"; "4"; "--frequencies"; "4"; "--rk-steps"; "1"; "--lr"; "0.05"; "--steps"; "12"
                    "--samples"; "64"; "--solver-check"; "2"; "--solver-tolerance"; tolerance; "--solver-relative-tolerance"; "0" ]
              let dir = newDir ()
              let code, message = runCapturingErrors (guarded "1e-12" @ [ "--out"; dir ])
              Expect.equal code 0 "the run completes"
              Expect.stringContains message "ended training at step 10" "says when and why training ended"
              Expect.stringContains message "more solver steps" "says what would let it train further"
              let rows = File.ReadAllLines(Path.Combine(dir, "training.csv"))
              Expect.stringContains rows.[0] "solver_log_q_shift,solver_tolerance,rolled_back" "guard columns"
              Expect.equal rows.Length 11 "steps 1 to 10, no more"
              let rolledBack = rows |> Array.skip 1 |> Array.map (fun l -> l.Split(',').[8] = "True")
              Expect.equal rolledBack [| for i in 1 .. 10 -> i % 2 = 0 |] "a failed check every 2 steps"
              use summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "summary.json")))
              Expect.stringContains (summary.RootElement.GetProperty("timing").GetProperty("training_end").GetString()) "state of step 0" "summary says where the flow is"
              let ess, _, _ = observable dir "ess"
              Expect.isTrue (ess > 0.0) "the flow was sampled"
              let quiet = run (guarded "1e6")
              let checkedSteps = File.ReadAllLines(Path.Combine(quiet, "training.csv")) |> Array.skip 1 |> Array.map (fun l -> l.Split(',').[6] <> "")
              Expect.equal checkedSteps [| for i in 1 .. 12 -> i % 2 = 0 |] "within tolerance: a check every 2 steps and all 12 steps"
              for d in [ quiet; dir ] do Directory.Delete(d, true)
          }

          test "flow-MCMC on a small interacting lattice agrees with HMC within errors" {
              // L = 4, m² = −4, λ = 8: a briefly trained realNVP proposes, independence Metropolis corrects
              // exactly. χ₂ must agree with HMC within 3 combined standard deviations, and training must
              // have lowered F_q.
              let hmc = run [ "phi4-hmc"; "--L"; "4"; "--chains"; "16"; "--trajectories"; "2000"; "--seed"; "3" ]
              let flow = run [ "phi4-flow"; "--L"; "4"; "--couplings"; "8"; "--steps"; "400"; "--lr"; "3e-3"; "--samples"; "16384"; "--seed"; "3" ]
              let chiH, errH, _ = observable hmc "chi2"
              let chiF, errF, tauF = observable flow "chi2"
              // The 3σ comparison below needs trustworthy errors, i.e. enough independent samples in the chain: with
              // N/(2τ_int) ≥ 100 the Γ-method's error of the error is about 10% or less (Madras–Sokal: δτ/τ ≈ √(4(W+½)/N),
              // window W a few τ), so the comparison is at worst a 2.7σ one. How good the briefly trained flow is varies
              // with float rounding across CPUs (τ_int 5–21 seen); this bound holds up to τ_int ≈ 80.
              let n = 16384.0
              Expect.isGreaterThan (n / (2.0 * tauF)) 100.0 (sprintf "at least 100 independent samples along the flow-MCMC chain (τ_int = %g)" tauF)
              Expect.isLessThan (abs (chiH - chiF)) (3.0 * sqrt (errH * errH + errF * errF)) (sprintf "HMC χ₂ = %g ± %g, flow-MCMC χ₂ = %g ± %g" chiH errH chiF errF)
              let curve = File.ReadAllLines(Path.Combine(flow, "training.csv")) |> Array.skip 1 |> Array.map (fun l -> float (l.Split(',').[1]))
              Expect.isLessThan (Array.average curve.[curve.Length - 50 ..]) (Array.average curve.[.. 49]) "training lowered F_q"
              for d in [ hmc; flow ] do Directory.Delete(d, true)
          } ]
