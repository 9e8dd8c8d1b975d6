module Hybrid.Scripting.Tests.Nnqm.NnqmTrainTests

open System.IO
open System.Text.Json
open Expecto
open Hybrid.Scripting.Tests.Support

let private trainedAgainstExact (g: string) =
    let dir = runInto [ "nnqm-train"; "--g"; g; "--paths"; "4000" ]
    use summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "summary.json")))
    let root = summary.RootElement
    let numbers (e: JsonElement) = [| for x in e.EnumerateArray() -> x.GetDouble() |]
    let model = root.GetProperty("model")
    let modelGap, modelWeight = (numbers (model.GetProperty("gaps"))).[0], (numbers (model.GetProperty("weights"))).[0]
    let exactGap, exactWeight = (numbers (root.GetProperty("exact").GetProperty("gaps"))).[0], (numbers (root.GetProperty("exact").GetProperty("weights"))).[0]
    let recovered = root.GetProperty("recovered").GetProperty("gaps").[0]
    let fitGap, fitError = recovered.GetProperty("mean").GetDouble(), recovered.GetProperty("error").GetDouble()
    // The issue's targets: E₁ − E₀ within 1%, |⟨0|x|1⟩|² within 2%, for the trained model's own (exact) spectrum.
    Expect.isLessThan (abs (modelGap / exactGap - 1.0)) 0.01 (sprintf "g = %s: gap %g against %g" g modelGap exactGap)
    Expect.isLessThan (abs (modelWeight / exactWeight - 1.0)) 0.02 (sprintf "g = %s: weight %g against %g" g modelWeight exactWeight)
    // Read off sampled paths by the spectral fit, as from any process: within its statistical error.
    Expect.isLessThan (abs (fitGap - exactGap)) (3.0 * fitError) (sprintf "g = %s: fitted gap %g ± %g against %g" g fitGap fitError exactGap)
    // The plot: target and model on one log axis against t, the relative residual on a linear axis below.
    let chart = chartOf dir "two-point.html"
    Expect.stringContains chart "\"type\":\"log\"" "G(t) on a log axis"
    Expect.stringContains chart "relative residual" "the residual panel"
    Expect.stringContains chart "target (exact)" "the target"
    Expect.stringContains chart "trained model" "the model"
    Expect.isFalse (chart.Contains "trajectory") "t, not a trajectory index"
    Expect.stringContains (chartOf dir "loss.html") "optimiser step" "the loss against the optimiser step"
    Directory.Delete(dir, true)

[<Tests>]
let tests =
    testList
        "nnqm-train"
        [ test "a deep NN-QM trained at g = 1 has the anharmonic oscillator's lowest gap and weight" { trainedAgainstExact "1" }
          test "a deep NN-QM trained at g = 0.1 has the anharmonic oscillator's lowest gap and weight" { trainedAgainstExact "0.1" }

          test "nnqm-train killed mid-training resumes from its checkpoint to the uninterrupted result" {
              let root = newDirectory "hybrid-train-resume"
              let args = [ "nnqm-train"; "--steps"; "3000"; "--paths"; "200"; "--T"; "8" ]
              let full = Path.Combine(root, "full")
              Expect.equal (Hybrid.Scripting.Catalog.main (args @ [ "--out"; full ])) 0 "the uninterrupted run"
              let checkpoint = Path.Combine(root, "train.ckpt")
              Expect.isTrue (killWhen (args @ [ "--checkpoint"; checkpoint; "--out"; Path.Combine(root, "killed") ]) (fun () -> File.Exists checkpoint)) "killed while training"
              let resumed = Path.Combine(root, "resumed")
              Expect.equal (Hybrid.Scripting.Catalog.main (args @ [ "--checkpoint"; checkpoint; "--resume"; "--out"; resumed ])) 0 "the resumed run"
              // Two uninterrupted runs already differ in the last digits (libtorch's reductions), so "the same" is to 10⁻⁹;
              // a resume that lost the optimiser's state or the schedule would differ in the third.
              // It continued: this run trained only the steps after the checkpoint.
              let rows = File.ReadAllLines(Path.Combine(resumed, "loss.csv")).Length - 1
              Expect.isLessThan rows 3000 (sprintf "the resumed run trained %d of the 3000 steps" rows)
              let model dir =
                  let m = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "summary.json"))).RootElement.GetProperty("model")
                  [| for name in [ "gaps"; "weights"; "rates" ] do for x in m.GetProperty(name).EnumerateArray() -> x.GetDouble()
                     yield m.GetProperty("final_loss").GetDouble() |]
              for a, b in Array.zip (model resumed) (model full) do
                  Expect.floatClose { absolute = 1e-12; relative = 1e-9 } a b "the same trained model: rates, spectrum and final loss"
              let other = args |> List.map (fun a -> if a = "3000" then "4000" else a)
              let code, err = runCapturingErrors (other @ [ "--checkpoint"; checkpoint; "--resume"; "--out"; Path.Combine(root, "other") ])
              Expect.equal code 2 "another --steps (another schedule) is refused"
              Expect.stringContains err "steps" "naming what differs"
              Directory.Delete(root, true)
          }

          test "bad input is refused before any work" {
              for args, named in
                  [ [ "--g"; "-1" ], "--g -1"; [ "--target"; "morse" ], "--target morse"; [ "--inputs"; "4" ], "--inputs"
                    [ "--lr"; "0" ], "--lr 0"; [ "--dt"; "30" ], "--dt 30"; [ "--states"; "9"; "--fit-until"; "0.5" ], "--states 9" ] do
                  let out = Path.Combine(newDirectory "hybrid-train", "run")
                  let code, err = runCapturingErrors ([ "nnqm-train" ] @ args @ [ "--out"; out ])
                  Expect.equal code 2 (sprintf "%A exits 2" args)
                  Expect.stringContains err named "names the value"
                  Expect.isFalse (Directory.Exists out) "nothing left behind"
          } ]
