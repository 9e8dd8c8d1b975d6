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
