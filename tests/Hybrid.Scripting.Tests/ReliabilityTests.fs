/// The findings of the third reliability battery, each pinned: bad input refused in one line (exit 2) before any work,
/// resume data never destroyed, numerical failures diagnosed in one line (exit 1), no confident garbage.
module Hybrid.Scripting.Tests.ReliabilityTests

open System
open System.IO
open System.Text.Json
open Expecto
open Hybrid.Scripting
open Hybrid.Scripting.Pipeline
open Hybrid.Scripting.Tests.Support

/// Runs the command line; expects exit 2, one line on stderr naming every fragment.
let private refusedWith (argv: string list) (fragments: string list) =
    let code, message = runCapturingErrors argv
    Expect.equal code 2 (sprintf "exit code 2 for %A (stderr: %s)" argv message)
    for f in fragments do
        Expect.stringContains message f (sprintf "the error names %s" f)
    Expect.equal (message.Trim().Split('\n').Length) 1 (sprintf "the error is one line: %s" message)

/// Refused with nothing created at a fresh --out.
let private refused (argv: string list) (fragments: string list) =
    let out = Path.Combine(newDirectory "hybrid-rel", "never")
    refusedWith (argv @ [ "--out"; out ]) fragments
    Expect.isFalse (Directory.Exists out) "no run directory is created before the input is valid"

/// A tiny o3-vmc run (L = 2: its exact reference takes no time).
let private tinyVmc = [ "o3-vmc"; "--L"; "2"; "--chains"; "4"; "--measure"; "4"; "--hidden"; "4"; "--samples-per-chain"; "2" ]

[<Tests>]
let tests =
    testList
        "reliability"
        [ test "2.1 --force never clears the checkpoint it is asked to resume from" {
              let root = newDirectory "hybrid-rel-force"
              let old = Path.Combine(root, "old")
              let checkpoint = Path.Combine(old, "checkpoint.bin")
              Expect.equal (Catalog.main (tinyVmc @ [ "--steps"; "2"; "--out"; old ])) 0 "the earlier run"
              Expect.isTrue (File.Exists checkpoint) "its checkpoint"
              let before = File.ReadAllBytes checkpoint
              refusedWith (tinyVmc @ [ "--steps"; "4"; "--checkpoint"; checkpoint; "--resume"; "--force"; "--out"; old ]) [ "--checkpoint"; "inside --out"; "--force would clear"; "new --out" ]
              Expect.equal (File.ReadAllBytes checkpoint) before "the checkpoint is untouched"
              Expect.isTrue (RunDirectory.isComplete old) "the earlier run is untouched"
              // Resumed into a new directory, it works.
              Expect.equal (Catalog.main (tinyVmc @ [ "--steps"; "4"; "--checkpoint"; checkpoint; "--resume"; "--out"; Path.Combine(root, "new") ])) 0 "resumed elsewhere"
          }

          test "2.1 --force never clears the points folder a study is asked to reuse" {
              let out = newDirectory "hybrid-rel-points"
              File.WriteAllText(Path.Combine(out, "config.json"), "{}")
              let points = Path.Combine(out, "points")
              Directory.CreateDirectory points |> ignore
              File.WriteAllText(Path.Combine(points, "kept.txt"), "a measured state")
              refusedWith [ "o3-running"; "--sizes"; "3,4"; "--steps"; "10"; "--chains"; "8"; "--measure"; "8"; "--hidden"; "4"; "--points"; points; "--out"; out; "--force" ]
                  [ "--points"; "inside --out"; "--force would clear" ]
              Expect.isTrue (File.Exists(Path.Combine(points, "kept.txt"))) "the points folder is untouched"
              Expect.isTrue (File.Exists(Path.Combine(out, "config.json"))) "the earlier run is untouched"
          }

          test "2.2 --checkpoint never overwrites a file that is not a checkpoint, nor an earlier checkpoint unasked" {
              let root = newDirectory "hybrid-rel-ckpt"
              let notes = Path.Combine(root, "notes.txt")
              File.WriteAllText(notes, "my notes")
              refused (tinyVmc @ [ "--steps"; "2"; "--checkpoint"; notes ]) [ "--checkpoint"; notes; "not a Hybrid checkpoint" ]
              refused (tinyVmc @ [ "--steps"; "2"; "--checkpoint"; notes; "--force" ]) [ "not a Hybrid checkpoint" ]
              Expect.equal (File.ReadAllText notes) "my notes" "the user's file is untouched"
              let checkpoint = Path.Combine(root, "state.ckpt")
              Expect.equal (Catalog.main (tinyVmc @ [ "--steps"; "2"; "--checkpoint"; checkpoint; "--out"; Path.Combine(root, "a") ])) 0 "a first run"
              refused (tinyVmc @ [ "--steps"; "2"; "--checkpoint"; checkpoint ]) [ "already holds a checkpoint"; "--resume"; "--force" ]
              Expect.equal (Catalog.main (tinyVmc @ [ "--steps"; "2"; "--checkpoint"; checkpoint; "--force"; "--out"; Path.Combine(root, "b") ])) 0 "--force replaces it"
          }
          test "3.1 an unconverged ED reference is neither called exact nor used alone for the σ-distance" {
              // At g² = 0.01 the ED at l_max = 6 is far from converged: its truncation shift dwarfs any VMC error.
              let dir = runInto [ "o3-vmc"; "--L"; "3"; "--chains"; "8"; "--measure"; "40"; "--hidden"; "4"; "--g2"; "0.01"; "--steps"; "3" ]
              let root = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "summary.json"))).RootElement
              Expect.isFalse (root.GetProperty("exact_converged").GetBoolean()) "summary.json says the reference is not converged"
              let warnings = [ for w in root.GetProperty("warnings").EnumerateArray() -> w.GetString() ]
              Expect.exists warnings (fun w -> w.Contains "not converged" && w.Contains "truncation shift") "a warning names the truncation"
              // 3.2 end to end: three steps on a sharply peaked state leave the chains unmixed; summary.json says so.
              Expect.exists warnings (fun w -> w.Contains "split-R̂" || w.Contains "τ_int" || w.Contains "acceptance") (sprintf "a sampler warning: %A" warnings)
              let state = root.GetProperty("state").GetProperty("warnings")
              Expect.isGreaterThan (state.GetArrayLength()) 0 "the state's own warnings"
              // o3-running marks the same truncation in its table and its warnings, and plots ED with the shift as its error.
              let running = runInto [ "o3-running"; "--sizes"; "2,3"; "--chains"; "8"; "--measure"; "40"; "--hidden"; "4"; "--g2"; "0.01"; "--steps"; "3" ]
              let summaryOf (d: string) = JsonDocument.Parse(File.ReadAllText(Path.Combine(d, "summary.json"))).RootElement
              let runningWarnings = [ for w in (summaryOf running).GetProperty("warnings").EnumerateArray() -> w.GetString() ]
              Expect.exists runningWarnings (fun w -> w.StartsWith "L = 3" && w.Contains "not converged") (sprintf "o3-running names the unconverged ū: %A" runningWarnings)
              Expect.isGreaterThan ((summaryOf running).GetProperty("exact_truncation_shift").GetProperty("ubar_L3").GetDouble()) 0.1 "the shift is recorded"
              Expect.stringContains (File.ReadAllText(Path.Combine(running, "summary.md"))) "NOT converged" "the table marks it"
              Directory.Delete(running, true)
              let e = root.GetProperty("observables").GetProperty("E")
              let exact = root.GetProperty("exact").GetProperty("E0")
              let shift = exact.GetProperty("error").GetDouble()
              let raw = (e.GetProperty("mean").GetDouble() - exact.GetProperty("mean").GetDouble()) / e.GetProperty("error").GetDouble()
              let distance = root.GetProperty("distance_sigma").GetDouble()
              Expect.isGreaterThan shift (e.GetProperty("error").GetDouble()) "the shift exceeds the VMC error here"
              Expect.isLessThan (abs distance) (abs raw) "the distance counts the truncation shift"
              let md = File.ReadAllText(Path.Combine(dir, "summary.md"))
              Expect.isFalse (md.Contains "| exact (ED") "not printed as exact"
              Expect.stringContains md "NOT converged" "marked as unconverged"
              Expect.stringContains md "WARNING" "with a warning"
          }

          test "1.2 g² outside 0.01..100 is refused before any work in every O(3) experiment" {
              refused [ "o3-ed"; "--g2"; "1e-300" ] [ "--g2 1e-300"; "0.01..100" ]
              refused [ "o3-ed"; "--g2"; "1e300" ] [ "--g2 1e+300"; "0.01..100" ]
              refused [ "o3-vmc"; "--L"; "2"; "--g2"; "1e300" ] [ "--g2 1e+300" ]
              refused [ "o3-gap"; "--g2"; "0.001" ] [ "--g2 0.001" ]
              refused [ "o3-running"; "--g2"; "200" ] [ "--g2 200" ]
              refused [ "o3-light"; "--g2"; "1e-5" ] [ "--g2 1e-05" ]
          }

          test "1.2 a Lanczos failure and a tuning that leaves the range are one-line diagnoses" {
              let stopped = Expect.throwsT<Hybrid.Diagnostics.RunStoppedException>
              stopped (fun () -> Hybrid.Scripting.O3.O3Reference.solving (fun () -> raise (Hybrid.Numerics.EigensolverNotConvergedException "Lanczos did not converge for the M = 0 sector")) |> ignore) "Lanczos"
              // The eigensolver's failure is recognised by its type, not by its message: other errors stay bugs.
              Expect.throwsT<InvalidOperationException> (fun () -> Hybrid.Scripting.O3.O3Reference.solving (fun () -> raise (InvalidOperationException "Lanczos-like text from elsewhere")) |> ignore) "not a diagnosis"
              stopped (fun () -> Hybrid.Scripting.O3.O3Vmc.checkCoupling 1e5) "a tuned g² of 1e5"
              Hybrid.Scripting.O3.O3Vmc.checkCoupling 1.0
          }

          test "3.2 a broken sampler is flagged: low acceptance, R̂ above 1.1, chains short against τ_int" {
              let estimate (tau: float) (rhat: float) = { Hybrid.Analysis.Statistics.Estimate.independent -0.7 1e-4 640 with TauInt = tau; RHat = rhat }
              Expect.isEmpty (Hybrid.Scripting.O3.O3Vmc.healthWarnings 0.4 (estimate 1.5 1.01) 400) "a healthy run has none"
              let broken = Hybrid.Scripting.O3.O3Vmc.healthWarnings 0.025 (estimate 14.3 2.7) 40
              Expect.equal broken.Length 3 (sprintf "all three problems: %A" broken)
              Expect.exists broken (fun w -> w.Contains "acceptance 0.025") "acceptance named"
              Expect.exists broken (fun w -> w.Contains "R̂ 2.700") "R̂ named"
              Expect.exists broken (fun w -> w.Contains "τ_int 14.3") "τ_int named"
          }
          test "1.1 damaged, empty, foreign or incomplete --points files are refused in one line naming the file" {
              let root = newDirectory "hybrid-rel-points-bad"
              let points = Path.Combine(root, "points")
              let study = [ "o3-running"; "--sizes"; "2,3"; "--steps"; "2"; "--chains"; "4"; "--measure"; "4"; "--hidden"; "4"; "--samples-per-chain"; "2"; "--points"; points ]
              Expect.equal (Catalog.main (study @ [ "--out"; Path.Combine(root, "first") ])) 0 "the fixture"
              let file = Path.Combine(points, "L2-g2-1-ground.json")
              let whole = File.ReadAllText file
              let damaged =
                  [ "truncated", whole.Substring(0, whole.Length / 2)
                    "empty", ""
                    "foreign", """{"experiment":"nnft-correlators","parameters":{}}"""
                    "without its energy", (let o = System.Text.Json.Nodes.JsonNode.Parse(whole).AsObject() in o.Remove "energy" |> ignore; o.ToJsonString()) ]
              for what, text in damaged do
                  File.WriteAllText(file, text)
                  refused study [ "--points"; "L2-g2-1-ground.json"; "damaged or not a measured state" ]
              File.WriteAllText(file, whole)
              let checkpoint = Path.Combine(points, "L3-g2-1-ground.ckpt")
              File.WriteAllText(checkpoint, "half a checkpoint")
              refused study [ "--points"; "L3-g2-1-ground.ckpt" ]
          }
          test "2.3 resuming with other chains, optimiser, seed, η or samples per chain is refused before work, naming the values" {
              let root = newDirectory "hybrid-rel-resume"
              let checkpoint = Path.Combine(root, "state.ckpt")
              Expect.equal (Catalog.main (tinyVmc @ [ "--steps"; "2"; "--checkpoint"; checkpoint; "--out"; Path.Combine(root, "a") ])) 0 "the first part"
              let resume (extra: string list) =
                  let shape = [ for name, value in [ "--chains", "4"; "--samples-per-chain", "2"; "--measure", "4" ] do if not (List.contains name extra) then yield! [ name; value ] ]
                  [ "o3-vmc"; "--L"; "2"; "--hidden"; "4"; "--steps"; "4"; "--checkpoint"; checkpoint; "--resume" ] @ shape @ extra
              refused (resume [ "--chains"; "8" ]) [ checkpoint; "chains: checkpoint has 4, this run has 8" ]
              refused (resume [ "--optimizer"; "adam" ]) [ "optimizer: checkpoint has \"sr\", this run has \"adam\"" ]
              refused (resume [ "--seed"; "99" ]) [ "seed: checkpoint has 1, this run has 99" ]
              refused (resume [ "--lr"; "0.3" ]) [ "lr: checkpoint has 0.1, this run has 0.3" ]
              refused (resume [ "--samples-per-chain"; "8" ]) [ "samples_per_chain: checkpoint has 2, this run has 8" ]
              Expect.equal (Catalog.main (resume [ "--measure"; "6"; "--out"; Path.Combine(root, "b") ])) 0 "--steps and --measure may change"
              // 2.4: the resumed part's training curve is numbered from the checkpoint's step on.
              let steps = File.ReadAllLines(Path.Combine(root, "b", "training-ground.csv")) |> Array.skip 1 |> Array.map (fun l -> float (l.Split(',').[2]))
              Expect.equal steps [| 3.0; 4.0 |] "steps 3 and 4"
          }
          test "1.3 merge refuses damaged or missing measurements, a damaged config.json and a merged output in one line" {
              let root = newDirectory "hybrid-rel-merge"
              let replica k =
                  let dir = Path.Combine(root, sprintf "r%d" k)
                  Expect.equal (Catalog.main [ "phi4-hmc"; "--L"; "4"; "--chains"; "2"; "--thermalization"; "5"; "--trajectories"; "10"; "--replica"; string k; "--replicas"; "2"; "--out"; dir ]) 0 "a replica"
                  dir
              let r0, r1 = replica 0, replica 1
              let copy (name: string) =
                  let target = Path.Combine(root, name)
                  Directory.CreateDirectory target |> ignore
                  for f in Directory.GetFiles r1 do File.Copy(f, Path.Combine(target, Path.GetFileName f))
                  target
              let mergeRefused (inputs: string list) (fragments: string list) =
                  let out = Path.Combine(root, "never")
                  refusedWith ([ "merge" ] @ inputs @ [ "--out"; out ]) fragments
                  Expect.isFalse (Directory.Exists out) "nothing written"
              let truncated = copy "truncated"
              let csv = File.ReadAllText(Path.Combine(r1, "measurements.csv"))
              File.WriteAllText(Path.Combine(truncated, "measurements.csv"), csv.Substring(0, csv.Length / 2 + 3))
              mergeRefused [ r0; truncated ] [ "measurements.csv"; "is damaged: line" ]
              let missing = copy "missing"
              File.Delete(Path.Combine(missing, "measurements.csv"))
              mergeRefused [ r0; missing ] [ missing; "no measurements.csv" ]
              let config = copy "config"
              File.WriteAllText(Path.Combine(config, "config.json"), """{"experiment": "phi4-h""")
              mergeRefused [ r0; config ] [ "config.json"; "damaged" ]
              let merged = Path.Combine(root, "merged")
              Expect.equal (Catalog.main [ "merge"; r0; r1; "--out"; merged ]) 0 "a merge"
              mergeRefused [ merged; r0 ] [ merged; "output of merge" ]
              refusedWith [ "merge"; r0; r1; "--out" ] [ "'--out' needs a value" ]
              refusedWith [ "merge"; r0; merged; "--out"; root; "--force" ] [ "inside --out"; "--force would clear" ]
          }
          test "1.4, 1.7 nnqm-spectrum and nnqm-train need ≥ 4 paths, nnqm-kl 0 or ≥ 2" {
              refused [ "nnqm-spectrum"; "--paths"; "3" ] [ "--paths 3"; "4..100000000" ]
              refused [ "nnqm-train"; "--paths"; "2" ] [ "--paths 2"; "4..100000000" ]
              refused [ "nnqm-kl"; "--paths"; "1" ] [ "--paths 1"; "0 (no sampled check)"; "2..10000000" ]
          }

          test "1.5 nnqm-train with a runaway learning rate stops with a diagnosis, exit 1, its loss curve kept" {
              let dir = Path.Combine(newDirectory "hybrid-rel-nnqm", "run")
              let code, message = runCapturingErrors [ "nnqm-train"; "--steps"; "100"; "--lr"; "100"; "--paths"; "200"; "--out"; dir ]
              Expect.equal code 1 "exit code 1"
              Expect.stringContains message "training diverged" "the diagnosis"
              Expect.stringContains message "smaller learning rate" "and what to change"
              Expect.isFalse (message.Contains "   at ") "no stack trace"
              Expect.equal (File.ReadAllLines(Path.Combine(dir, "loss.csv")).Length) 101 "loss.csv holds every step"
              Expect.isFalse (RunDirectory.isComplete dir) "not marked complete"
          }
          test "3.3 NN-FT refuses fewer than 100 networks per block before any work" {
              refused [ "nnft-correlators"; "--networks"; "2"; "--blocks"; "2" ] [ "--networks 2 with --blocks 2"; "1 networks per block"; "at least 100"; "--networks ≥ 200" ]
              refused [ "nnft-width"; "--widths"; "2,4,8"; "--networks"; "2"; "--blocks"; "2" ] [ "at least 100" ]
              refused [ "nnft-phi4"; "--networks"; "1000"; "--blocks"; "16" ] [ "62 networks per block" ]
              refused [ "nnft-momentum"; "--networks"; "500" ] [ "--blocks 64" ]
              refused [ "nnft-cutoff"; "--networks"; "1000"; "--blocks"; "16" ] [ "at least 100" ]
          }

          test "1.6 an NN-FT --chunk that cannot fit in memory is refused before any work" {
              refused [ "nnft-correlators"; "--width"; "100"; "--chunk"; "100000000"; "--networks"; "100000000" ] [ "--chunk 100000000"; "GiB"; "smaller --chunk" ]
              refused [ "nnft-width"; "--widths"; "2,1000"; "--chunk"; "10000000"; "--networks"; "10000000" ] [ "--chunk 10000000"; "GiB" ]
          }
          test "3.4 heavy tails: σ-distances print in three digits and a value far below its formula is flagged" {
              let dir = runInto [ "nnft-correlators"; "--arch"; "exp"; "--sigma-w"; "30"; "--networks"; "20000"; "--blocks"; "16" ]
              let md = File.ReadAllText(Path.Combine(dir, "summary.md"))
              let row = md.Split('\n') |> Array.find (fun l -> l.StartsWith "| G2_0_0 ")
              Expect.isTrue (Text.RegularExpressions.Regex.IsMatch(row, @"\| [0-9.]+e\+[0-9]+σ \|")) (sprintf "the distance in %%.3g form: %s" row)
              Expect.stringContains row "‡" "the entry is flagged"
              Expect.stringContains md "‡ G2_0_0: the value is 43 orders of magnitude below its formula" "and explained"
          }
          test "1.7 messages name the option with its dashes and what is allowed; contradictions are refused" {
              refused [ "nnft-momentum"; "--box"; "0" ] [ "--box 0"; "> 0" ]
              refused [ "nnft-phi4"; "--arch"; "cos"; "--cutoff"; "0" ] [ "--cutoff 0"; "> 0" ]
              refused [ "nnft-cutoff"; "--cutoffs"; "-2,4,16" ] [ "--cutoffs -2,4,16"; "'-2' is not a finite cutoff Λ > 0" ]
              refused [ "nnft-cutoff"; "--cancel-bubbles"; "--amplitudes"; "gaussian" ] [ "--cancel-bubbles with --amplitudes gaussian" ]
              refused [ "nnft-width"; "--width"; "16"; "--widths"; "2,4" ] [ "unknown option '--width'"; "--widths" ]
              refused [ "o3-ed"; "--L"; "30"; "--lmax"; "20" ] [ "more than 8·10⁹ GiB" ]
              refused [ "o3-ed"; "--L"; "12"; "--lmax"; "6"; "--memory-gib"; "1e6" ] [ "--lmax 6 at L = 12 would need" ]
              refused [ "o3-ed"; "--memory-gib"; "1e300" ] [ "--memory-gib 1e+300" ]
              refused [ "o3-stepscaling"; "--u"; "1e300"; "--sizes"; "2" ] [ "--u 1e+300"; "0.01..100" ]
              let _, message = runCapturingErrors [ "o3-ed"; "--bogus"; "1" ]
              Expect.isFalse (message.Contains "--help, --help") (sprintf "--help listed once: %s" message)
          }

          test "help: 'help' in every position, help quick, and texts that promise only what the code does" {
              let captured (argv: string list) =
                  let original = Console.Out
                  use writer = new StringWriter()
                  Console.SetOut writer
                  let code = try Catalog.main argv finally Console.SetOut original
                  code, writer.ToString()
              for argv in [ [ "help"; "quick" ]; [ "quick"; "help" ]; [ "o3-vmc"; "--L"; "4"; "help" ] ] do
                  let code, text = captured argv
                  Expect.equal code 0 (sprintf "%A shows help" argv)
                  Expect.stringContains text "Options:" (sprintf "%A lists options" argv)
              let _, correlators = captured [ "help"; "nnft-correlators" ]
              Expect.isFalse (correlators.Contains "up to --steps") "nnft-correlators' --resume does not promise --steps"
              for name in [ "nnft-width"; "nnft-momentum"; "nnft-phi4"; "nnft-cutoff" ] do
                  let _, text = captured [ "help"; name ]
                  Expect.isFalse (text.Contains "merged later with 'merge'") (sprintf "%s does not advertise merge" name)
              let _, width = captured [ "help"; "nnft-width" ]
              Expect.isFalse (width.Contains "--width ") "nnft-width does not list --width"
          }
          test "1.7 nnft-phi4: a λ whose weights all underflow stops with a diagnosis; --networks with --sampler hmc is refused" {
              refused [ "nnft-phi4"; "--sampler"; "hmc"; "--networks"; "5000" ] [ "--networks is not used with --sampler hmc" ]
              let dir = Path.Combine(newDirectory "hybrid-rel-phi4", "run")
              let code, message = runCapturingErrors [ "nnft-phi4"; "--lambda"; "1e300"; "--networks"; "2000"; "--blocks"; "8"; "--out"; dir ]
              Expect.equal code 1 (sprintf "exit code 1: %s" message)
              Expect.stringContains message "underflow" "the diagnosis"
              Expect.isFalse (RunDirectory.isComplete dir) "no NaN table marked complete"
          } ]
