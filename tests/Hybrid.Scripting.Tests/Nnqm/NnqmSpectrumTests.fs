module Hybrid.Scripting.Tests.Nnqm.NnqmSpectrumTests

open System.IO
open System.Text.Json
open Expecto
open Hybrid.Scripting.Tests.Support

let private fitted (dir: string) =
    use summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "summary.json")))
    let root = summary.RootElement
    let list (e: JsonElement) = [ for x in e.EnumerateArray() -> x.GetProperty("mean").GetDouble(), x.GetProperty("error").GetDouble() ]
    let numbers (e: JsonElement) = [ for x in e.EnumerateArray() -> x.GetDouble() ]
    list (root.GetProperty("fit").GetProperty("gaps")), list (root.GetProperty("fit").GetProperty("weights")),
    numbers (root.GetProperty("exact").GetProperty("gaps")), numbers (root.GetProperty("exact").GetProperty("weights"))

let private within3 what (mean: float, error: float) (exact: float) =
    Expect.isLessThan (abs (mean - exact)) (3.0 * error) (sprintf "%s: %g ± %g against %g" what mean error exact)

[<Tests>]
let tests =
    testList
        "nnqm-spectrum"
        [ test "the Mehler spectrum of erf(a·OU) is read off its sampled two-point function" {
              let dir = runInto [ "nnqm-spectrum"; "--process"; "erf-ou"; "--paths"; "4000"; "--states"; "2" ]
              let gaps, weights, exactGaps, exactWeights = fitted dir
              within3 "gap ω" gaps.[0] exactGaps.[0]
              within3 "weight (2/π)k" weights.[0] exactWeights.[0]
              within3 "gap 3ω" gaps.[1] exactGaps.[1]
              Expect.floatClose { absolute = 1e-12; relative = 0.0 } exactWeights.[1] (2.0 / System.Math.PI * (2.0 / 3.0) ** 3.0 / 6.0) "exact weight (2/π)k³/6"
              Directory.Delete(dir, true)
          }

          test "Ornstein–Uhlenbeck is one state: gap ω, weight 1/(2ω)" {
              let dir = runInto [ "nnqm-spectrum"; "--process"; "ou"; "--omega"; "1.5"; "--states"; "1"; "--paths"; "2000" ]
              let gaps, weights, exactGaps, exactWeights = fitted dir
              within3 "gap" gaps.[0] exactGaps.[0]
              within3 "weight" weights.[0] exactWeights.[0]
              Directory.Delete(dir, true)
          }

          test "bad input is refused before any work" {
              for args, named in
                  [ [ "--omega"; "0" ], "--omega 0"; [ "--dt"; "30" ], "--dt 30"; [ "--fit-until"; "15" ], "--fit-until 15"
                    [ "--states"; "9"; "--fit-until"; "0.5" ], "--states 9"; [ "--process"; "bm" ], "--process bm" ] do
                  let out = Path.Combine(newDirectory "hybrid-spec", "run")
                  let code, err = runCapturingErrors ([ "nnqm-spectrum" ] @ args @ [ "--out"; out ])
                  Expect.equal code 2 (sprintf "%A exits 2" args)
                  Expect.stringContains err named "names the value"
                  Expect.isFalse (Directory.Exists out) "nothing left behind"
          } ]
