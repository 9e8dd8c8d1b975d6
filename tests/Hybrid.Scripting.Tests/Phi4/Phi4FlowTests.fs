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
              let second = Path.Combine(dir, "second")
              let code, out = runCapturingOutput [ "phi4-flow"; "--L"; "4"; "--couplings"; "2"; "--steps"; "10"; "--samples"; "64"; "--checkpoint"; checkpoint; "--resume"; "--out"; second ]
              Expect.equal code 0 "the resumed run"
              // The training driver's resume line: the flow resumes through the one loop every trained experiment shares.
              Expect.stringContains out (sprintf "resumed the realNVP flow from %s at step 6" checkpoint) "the driver's resume line"
              let steps = File.ReadAllLines(Path.Combine(second, "training.csv")) |> Array.skip 1 |> Array.map (fun l -> int (l.Split(',').[0]))
              Expect.equal steps [| 7 .. 10 |] "the resumed run trains steps 7..10"
              use config = JsonDocument.Parse(File.ReadAllText(Path.Combine(second, "config.json")))
              Expect.isTrue (config.RootElement.GetProperty("parameters").GetProperty("resume").GetBoolean()) "config.json records the resume"
              let parameters = config.RootElement.GetProperty("parameters")
              Expect.equal (parameters.GetProperty("root_seed").GetInt64()) (parameters.GetProperty("seed").GetInt64()) "a single run's seed is its root seed, both recorded"
              for d in [ first; dir ] do Directory.Delete(d, true)
          }

          test "phi4-flow killed mid-training resumes from its last tenth-of-the-steps checkpoint to the uninterrupted result" {
              let root = newDir ()
              let args = [ "phi4-flow"; "--L"; "4"; "--couplings"; "2"; "--batch"; "16"; "--dtype"; "float64"; "--steps"; "1000"; "--samples"; "256" ]
              let full = Path.Combine(root, "full")
              Expect.equal (Hybrid.Scripting.Catalog.main (args @ [ "--out"; full ])) 0 "the uninterrupted run"
              let checkpoint = Path.Combine(root, "flow.ckpt")
              Expect.isTrue (killWhen (args @ [ "--checkpoint"; checkpoint; "--out"; Path.Combine(root, "killed") ]) (fun () -> File.Exists checkpoint)) "killed while training"
              let resumed = Path.Combine(root, "resumed")
              let code, out = runCapturingOutput (args @ [ "--checkpoint"; checkpoint; "--resume"; "--out"; resumed ])
              Expect.equal code 0 "the resumed run"
              // Checkpoints fall on every hundredth step of the 1000: the killed run's last one is one of those.
              let line = Text.RegularExpressions.Regex.Match(out, "resumed the realNVP flow from .* at step ([0-9]+)")
              let at = if line.Success then Some(int line.Groups.[1].Value) else None
              Expect.isTrue (at |> Option.exists (fun n -> n > 0 && n < 1000 && n % 100 = 0)) (sprintf "resumed at a multiple of 100 short of 1000 (%A)" at)
              let curve dir = File.ReadAllLines(Path.Combine(dir, "training.csv")) |> Array.skip 1 |> Array.map (fun l -> let f = l.Split(',') in int f.[0], float f.[1])
              let tail = curve resumed
              Expect.equal (Array.map fst tail) [| at.Value + 1 .. 1000 |] "the resumed run trains the steps after its checkpoint"
              // The same flow as the uninterrupted run: F_q step by step and the flow-MCMC χ₂ (float64; a resume that lost
              // Adam's state or the generator would differ in the first digits).
              let fullCurve = curve full |> Map.ofArray
              for step, f in tail do
                  Expect.floatClose { absolute = 1e-9; relative = 1e-9 } f fullCurve.[step] (sprintf "F_q at step %d" step)
              let chi, _, _ = observable resumed "chi2"
              let chiFull, _, _ = observable full "chi2"
              Expect.floatClose { absolute = 1e-9; relative = 1e-9 } chi chiFull "χ₂ of the flow-MCMC chain"
              Directory.Delete(root, true)
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

[<Tests>]
let compareTests =
    testList
        "phi4-compare checkpoints"
        [ test "phi4-compare keeps one checkpoint per flow in --checkpoint DIR and resumes each through the training driver" {
              let root = newDir ()
              let checkpoints = Path.Combine(root, "ckpt")
              let args cnfSteps =
                  [ "phi4-compare"; "--L"; "4"; "--chains"; "2"; "--trajectories"; "20"; "--realnvp-steps"; "3"; "--cnf-steps"; cnfSteps
                    "--rk-steps"; "4"; "--batch"; "16"; "--samples"; "64"; "--checkpoint"; checkpoints ]
              Expect.equal (Hybrid.Scripting.Catalog.main (args "2" @ [ "--out"; Path.Combine(root, "first") ])) 0 "the first run"
              for name in [ "realnvp.ckpt"; "cnf.ckpt" ] do
                  Expect.isTrue (File.Exists(Path.Combine(checkpoints, name))) (sprintf "%s written" name)
              let code, message = runCapturingErrors (args "4" @ [ "--out"; Path.Combine(root, "never") ])
              Expect.equal code 2 "an earlier checkpoint is not replaced unasked"
              Expect.stringContains message "already holds a checkpoint" "says so"
              Expect.isFalse (Directory.Exists(Path.Combine(root, "never"))) "nothing was started"
              let resumed = Path.Combine(root, "resumed")
              let code, out = runCapturingOutput (args "4" @ [ "--resume"; "--out"; resumed ])
              Expect.equal code 0 "the resumed run"
              Expect.stringContains out (sprintf "resumed the realNVP flow from %s at step 3" (Path.Combine(checkpoints, "realnvp.ckpt"))) "realNVP resumed at its end"
              Expect.stringContains out (sprintf "resumed the CNF flow from %s at step 2" (Path.Combine(checkpoints, "cnf.ckpt"))) "the CNF resumed"
              let steps flow = File.ReadAllLines(Path.Combine(resumed, flow, "training.csv")) |> Array.skip 1 |> Array.map (fun l -> int (l.Split(',').[0]))
              Expect.isEmpty (steps "realnvp") "realNVP trains no further"
              Expect.equal (steps "cnf") [| 3; 4 |] "the CNF trains steps 3 and 4"
              let code, message = runCapturingErrors [ "phi4-compare"; "--resume"; "--out"; Path.Combine(root, "never") ]
              Expect.equal (code, message.Contains "--resume needs --checkpoint DIR") (2, true) (sprintf "--resume without a directory is refused: %s" message)
              let file = Path.Combine(root, "a-file")
              File.WriteAllText(file, "")
              let code, message = runCapturingErrors [ "phi4-compare"; "--checkpoint"; file; "--out"; Path.Combine(root, "never") ]
              Expect.equal (code, message.Contains "is a file; give a directory") (2, true) (sprintf "a file for the directory is refused: %s" message)
              Directory.Delete(root, true)
          } ]
