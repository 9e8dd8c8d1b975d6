module Hybrid.Scripting.Tests.Nnqm.NnqmKlTests

open System.IO
open System.Text.Json
open Expecto
open Hybrid.Scripting.Tests.Support

[<Tests>]
let tests =
    testList
        "nnqm-kl"
        [ test "the OU modes agree with the transcendental equations within the numerical uncertainty, and rebuild the process" {
              let dir = runInto [ "nnqm-kl"; "--omega"; "1"; "--T"; "1"; "--modes"; "6"; "--paths"; "5000" ]
              use summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "summary.json")))
              let root = summary.RootElement
              for k in 1 .. 6 do
                  let o = root.GetProperty("observables").GetProperty(sprintf "kl_lambda_%d" k)
                  let mean, error = o.GetProperty("mean").GetDouble(), o.GetProperty("error").GetDouble()
                  let exact = root.GetProperty("analytic").GetProperty(sprintf "kl_lambda_%d" k).GetDouble()
                  Expect.isLessThan (abs (mean - exact)) error (sprintf "λ%d = %g ± %g, exact %g" k mean error exact)
              Expect.floatClose { absolute = 5e-6; relative = 0.0 } (root.GetProperty("analytic").GetProperty("kl_lambda_1").GetDouble()) 0.57466 "physics.md's largest eigenvalue at ω = T = 1"
              Expect.isLessThan (root.GetProperty("sampled_max_pull").GetDouble()) 4.0 "the KL-built process has the OU covariance"
              Expect.isTrue (File.Exists(Path.Combine(dir, "modes.html"))) "the modes' plot"
              Directory.Delete(dir, true)
          }

          test "bad input is refused before any work" {
              for args, named in [ [ "--omega"; "0" ], "--omega 0"; [ "--T"; "-1" ], "--T -1"; [ "--process"; "bm" ], "--process bm"; [ "--modes"; "500" ], "--modes 500" ] do
                  let out = Path.Combine(newDirectory "hybrid-kl", "run")
                  let code, err = runCapturingErrors ([ "nnqm-kl" ] @ args @ [ "--out"; out ])
                  Expect.equal code 2 (sprintf "%A exits 2" args)
                  Expect.stringContains err named "names the value"
                  Expect.isFalse (Directory.Exists out) "nothing left behind"
          } ]
