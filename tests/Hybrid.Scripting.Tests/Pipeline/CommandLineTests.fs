module Hybrid.Scripting.Tests.Pipeline.CommandLineTests

open System
open System.IO
open Expecto
open Hybrid.Scripting
open Hybrid.Scripting.Pipeline
open Hybrid.Scripting.Phi4
open Hybrid.Scripting.Tests.Support

let private badInput (argv: string list) (mustName: string list) =
    let out = Path.Combine(Path.GetTempPath(), "hybrid-never-" + Guid.NewGuid().ToString("N"))
    let code, message = runCapturingErrors (argv @ [ "--out"; out ])
    Expect.equal code 2 (sprintf "exit code 2 for %A" argv)
    for fragment in mustName do
        Expect.stringContains message fragment (sprintf "the error names %s" fragment)
    Expect.equal (message.Trim().Split('\n').Length) 1 "the error is one line"
    Expect.isFalse (Directory.Exists out) "no run directory is created before the input is valid"

[<Tests>]
let tests =
    testList
        "command line"
        [ test "L < 2 is refused naming the value and the range" { badInput [ "phi4-hmc"; "--L"; "1" ] [ "--L 1"; "2..4096" ] }
          test "non-integer L is refused" { badInput [ "phi4-hmc"; "--L"; "8.5" ] [ "--L 8.5"; "not an integer" ] }
          test "negative λ is refused" { badInput [ "phi4-hmc"; "--lambda"; "-1" ] [ "λ = -1"; "≥ 0" ] }
          test "NaN is refused" { badInput [ "phi4-hmc"; "--m2"; "NaN" ] [ "--m2 NaN"; "finite" ] }
          test "free field without mass is refused" { badInput [ "phi4-hmc"; "--lambda"; "0"; "--m2"; "-1" ] [ "m² = -1"; "m² > 0" ] }
          test "unknown option is refused listing the allowed ones" { badInput [ "phi4-hmc"; "--temperature"; "3" ] [ "'--temperature'"; "--lambda" ] }
          test "unknown experiment is refused" { badInput [ "phi5-hmc" ] [ "'phi5-hmc'"; "phi4-hmc" ] }
          test "both parameterisations at once are refused" { badInput [ "phi4-hmc"; "--m2"; "-4"; "--kappa"; "0.25"; "--lambda-tilde"; "0.5" ] [ "--kappa" ] }
          test "unknown device is refused" { badInput [ "phi4-hmc"; "--device"; "tpu" ] [ "'tpu'"; "auto, cpu, cuda" ] }
          test "unknown integrator is refused" { badInput [ "phi4-hmc"; "--integrator"; "euler" ] [ "euler"; "omelyan, leapfrog" ] }
          test "unknown flow is refused" { badInput [ "phi4-flow"; "--flow"; "maf" ] [ "--flow maf"; "realnvp, cnf" ] }
          test "realNVP on an odd lattice is refused" { badInput [ "phi4-flow"; "--L"; "7" ] [ "L = 7"; "even" ] }
          test "resume without a checkpoint is refused" { badInput [ "phi4-flow"; "--resume" ] [ "--resume needs --checkpoint" ] }
          test "resume from a missing checkpoint is refused" { badInput [ "phi4-flow"; "--resume"; "--checkpoint"; "/nonexistent/flow.ckpt" ] [ "/nonexistent/flow.ckpt"; "does not exist" ] }
          test "unknown dtype is refused" { badInput [ "phi4-flow"; "--dtype"; "float16" ] [ "--dtype float16"; "float32, float64" ] }
          test "missing option value is refused" { badInput [ "phi4-hmc"; "--L" ] [ "'--L' needs a value" ] }
          test "an absurd coupling is refused before work" { badInput [ "phi4-hmc"; "--lambda"; "1e300" ] [ "λ = 1E+300"; "≤ 1E+06" ] }
          test "an absurd mass is refused before work" { badInput [ "phi4-flow"; "--m2"; "-1e9" ] [ "m² = -1000000000"; "≤ 1E+06" ] }
          test "a trajectory that needs millions of steps is refused before work" { badInput [ "phi4-hmc"; "--trajectory-length"; "1e6" ] [ "τ = 1000000"; "at most 10000" ] }
          test "a target acceptance that freezes the chains is refused" { badInput [ "phi4-hmc"; "--target-acceptance"; "0.001" ] [ "target acceptance 0.001"; "[0.1, 0.99]" ] }
          test "phi4-compare names its own option in errors" { badInput [ "phi4-compare"; "--realnvp-steps"; "-1" ] [ "--realnvp-steps -1" ] }
          test "phi4-compare refuses an unknown dtype" { badInput [ "phi4-compare"; "--dtype"; "half" ] [ "--dtype half"; "float32, float64" ] }
          test "phi4-compare refuses a learning rate ≤ 0" { badInput [ "phi4-compare"; "--cnf-lr"; "0" ] [ "--cnf-lr 0" ] }
          test "a checkpoint path that is a directory is refused" { badInput [ "phi4-flow"; "--checkpoint"; Path.GetTempPath() ] [ "--checkpoint"; "is a directory" ] }
          test "resuming from a directory is refused as a directory" { badInput [ "phi4-flow"; "--resume"; "--checkpoint"; Path.GetTempPath() ] [ "is a directory" ] }

          test "a checkpoint that cannot be written is refused before any work" {
              let file = Path.GetTempFileName()
              badInput [ "phi4-flow"; "--checkpoint"; Path.Combine(file, "flow.ckpt") ] [ "--checkpoint"; "cannot be written" ]
              File.Delete file
          }

          test "a truncated checkpoint is refused before any work" {
              let dir = newDirectory "hybrid-ckpt"
              let checkpoint = Path.Combine(dir, "flow.ckpt")
              let first = runInto [ "phi4-flow"; "--L"; "4"; "--couplings"; "2"; "--steps"; "2"; "--samples"; "64"; "--checkpoint"; checkpoint ]
              let bytes = File.ReadAllBytes checkpoint
              File.WriteAllBytes(checkpoint, bytes.[.. bytes.Length / 2])
              badInput [ "phi4-flow"; "--L"; "4"; "--couplings"; "2"; "--steps"; "4"; "--checkpoint"; checkpoint; "--resume" ] [ checkpoint; "truncated or damaged" ]
              for d in [ first; dir ] do Directory.Delete(d, true)
          }

          test "a non-empty output directory is refused without --force, and left as it was" {
              let dir = newDirectory "hybrid-out"
              File.WriteAllText(Path.Combine(dir, "notes.txt"), "mine")
              let code, message = runCapturingErrors [ "phi4-hmc"; "--L"; "4"; "--out"; dir ]
              Expect.equal code 2 "exit code 2"
              Expect.stringContains message "not empty" "says why"
              Expect.stringContains message "--force" "says how"
              Expect.equal (Directory.GetFileSystemEntries dir).Length 1 "nothing added"
              let code, message = runCapturingErrors [ "phi4-hmc"; "--L"; "4"; "--out"; dir; "--force" ]
              Expect.equal code 2 "--force does not replace what is not a Hybrid run"
              Expect.stringContains message "not a Hybrid run" "says why"
              Expect.equal (File.ReadAllText(Path.Combine(dir, "notes.txt"))) "mine" "the user's file is untouched"
              Directory.Delete(dir, true)
          }

          test "--force replaces an earlier run, stray files and all" {
              let tiny = [ "phi4-hmc"; "--L"; "4"; "--chains"; "2"; "--thermalization"; "5"; "--trajectories"; "10" ]
              let dir = runInto tiny
              File.WriteAllText(Path.Combine(dir, "summary.json.123.abc.tmp"), "left by a crash")
              Expect.equal (Catalog.main (tiny @ [ "--out"; dir; "--force"; "--seed"; "2" ])) 0 "the second run succeeds"
              Expect.isFalse (File.Exists(Path.Combine(dir, "summary.json.123.abc.tmp"))) "the stray temporary file is gone"
              Expect.isTrue (RunDirectory.isComplete dir) "the new run is complete"
              use config = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "config.json")))
              Expect.equal (config.RootElement.GetProperty("parameters").GetProperty("seed").GetInt64()) 2L "config.json is the new run's"
              Directory.Delete(dir, true)
          }

          test "a directory claimed by a running run is refused to a second one" {
              let dir = Path.Combine(newDirectory "hybrid-claim", "run")
              match RunDirectory.claim false dir with
              | Error message -> failwith message
              | Ok claimed ->
                  match RunDirectory.claim true dir with
                  | Ok _ -> failwith "two runs claimed one directory"
                  | Error message -> Expect.stringContains message "in use by another run" "names the conflict"
                  RunDirectory.release claimed
              Directory.Delete(Path.GetDirectoryName dir, true)
          }

          test "two runs started in the same second get their own default directories" {
              let cwd = Environment.CurrentDirectory
              let dir = newDirectory "hybrid-default"
              Environment.CurrentDirectory <- dir
              try
                  let started = DateTime(2026, 1, 2, 3, 4, 5)
                  let a = RunDirectory.claimDefault "phi4-hmc" started
                  let b = RunDirectory.claimDefault "phi4-hmc" started
                  match a, b with
                  | Ok a, Ok b ->
                      Expect.notEqual a.Path b.Path "different directories"
                      Expect.stringEnds b.Path "20260102-030405-2" "the second gets a suffix"
                  | _ -> failwith "both claims should succeed"
              finally
                  Environment.CurrentDirectory <- cwd
                  Directory.Delete(dir, true)
          }

          test "an incomplete run directory is refused by the reader" {
              let dir = runInto [ "phi4-hmc"; "--L"; "4"; "--chains"; "2"; "--thermalization"; "5"; "--trajectories"; "10" ]
              File.Delete(Path.Combine(dir, RunDirectory.CompleteMarker))
              Expect.throwsT<InvalidDataException> (fun () -> RunDirectory.readSummary dir |> ignore) "incomplete runs are refused"
              Directory.Delete(dir, true)
          }

          test "HMC whose chains cannot move stops with a diagnosis, exit code 1, its files kept but not marked complete" {
              // λ = 5000 without thermalisation: ε = 0.1 is far too large, every proposal is rejected.
              let dir = Path.Combine(newDirectory "hybrid-frozen", "run")
              let code, message = runCapturingErrors [ "phi4-hmc"; "--L"; "4"; "--chains"; "2"; "--thermalization"; "0"; "--trajectories"; "20"; "--lambda"; "5000"; "--out"; dir ]
              Expect.equal code 1 "exit code 1"
              Expect.stringContains message "barely moved" "the diagnosis"
              Expect.isTrue (File.Exists(Path.Combine(dir, "measurements.csv"))) "the raw measurements are kept for inspection"
              Expect.isFalse (RunDirectory.isComplete dir) "not marked complete"
              Expect.isFalse (File.Exists(Path.Combine(dir, ".run-claim"))) "the claim is released"
              Directory.Delete(Path.GetDirectoryName dir, true)
          }

          test "a saturated flow stops with a diagnosis and keeps its training curve" {
              let dir = Path.Combine(newDirectory "hybrid-saturated", "run")
              let code, message =
                  runCapturingErrors [ "phi4-flow"; "--L"; "4"; "--couplings"; "2"; "--dtype"; "float64"; "--lr"; "10"; "--steps"; "200"; "--samples"; "64"; "--out"; dir ]
              Expect.equal code 1 "exit code 1"
              Expect.stringContains message "exactly 0" "the diagnosis names the vanished gradient"
              Expect.stringContains message "smaller learning rate" "and what to change"
              let rows = File.ReadAllLines(Path.Combine(dir, "training.csv"))
              Expect.isGreaterThan rows.Length 20 "training.csv holds the steps up to the stop"
              Expect.isFalse (RunDirectory.isComplete dir) "not marked complete"
              Directory.Delete(Path.GetDirectoryName dir, true)
          }

          test "ξ at L = 2 is explained, not left as a bare NaN" {
              let dir = runInto [ "phi4-hmc"; "--L"; "2"; "--chains"; "2"; "--thermalization"; "5"; "--trajectories"; "10" ]
              Expect.stringContains (File.ReadAllText(Path.Combine(dir, "summary.md"))) "ξ is not defined at L = 2" "explained in the report"
              Directory.Delete(dir, true)
          }

          test "thermalisation time counts thermalisation only" {
              let dir = runInto [ "phi4-hmc"; "--L"; "4"; "--chains"; "2"; "--thermalization"; "10"; "--trajectories"; "400" ]
              use summary = RunDirectory.readSummary dir
              let timing = summary.RootElement.GetProperty("timing")
              let thermal, measure = timing.GetProperty("thermalization_seconds").GetDouble(), timing.GetProperty("measurement_seconds").GetDouble()
              Expect.isLessThan thermal measure (sprintf "10 thermalisation trajectories (%g s) take less than 400 measured ones (%g s)" thermal measure)
              Directory.Delete(dir, true)
          }

          test "unwritable output directory is refused before any work" {
              let file = Path.GetTempFileName()
              let code, message = runCapturingErrors [ "phi4-hmc"; "--out"; Path.Combine(file, "run") ]
              File.Delete file
              Expect.equal code 2 "exit code 2"
              Expect.stringContains message "cannot be written" "names the problem"
          }

          test "--help lists every option with its default" {
              let original = Console.Out
              use writer = new StringWriter()
              Console.SetOut writer
              let code = try Catalog.main [ "phi4-hmc"; "--help" ] finally Console.SetOut original
              Expect.equal code 0 "help exits 0"
              for option in [ "--L"; "--m2"; "--lambda"; "--kappa"; "--lambda-tilde"; "--trajectories"; "--chains"; "--seed"; "--device"; "--out" ] do
                  Expect.stringContains (writer.ToString()) option "listed"
          }

          test "atomic writes leave no partial file when writing fails" {
              let dir = Directory.CreateTempSubdirectory("hybrid-atomic").FullName
              let target = Path.Combine(dir, "summary.json")
              AtomicFile.writeText target "old"
              Expect.throws (fun () -> AtomicFile.write target (fun w -> w.Write "half"; failwith "crash")) "the writer's failure propagates"
              Expect.equal (File.ReadAllText target) "old" "the previous content is intact"
              Expect.equal (Directory.GetFiles dir).Length 1 "no temporary file is left behind"
              Directory.Delete(dir, true)
          } ]
