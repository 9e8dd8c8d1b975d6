module Hybrid.Scripting.Tests.Nnft.NnftPhi4Tests

open System.IO
open System.Text.Json
open Expecto
open Hybrid.Scripting.Tests.Support

[<Tests>]
let tests =
    testList
        "nnft-phi4"
        [ test "reweighting by e^{−(λ/4!)∫φ⁴} changes G₄c by the tree-level amount at small λ and N = 100" {
              let dir = runInto [ "nnft-phi4"; "--lambda"; "0.1"; "--networks"; "200000" ]
              use summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "summary.json")))
              let root = summary.RootElement
              let o name = let e = root.GetProperty("observables").GetProperty(name: string) in e.GetProperty("mean").GetDouble(), e.GetProperty("error").GetDouble()
              let tree = root.GetProperty("analytic").GetProperty("tree_level_delta_G4c").GetDouble()
              let delta, error = o "delta_G4c"
              // At N = 100 and λ = 0.1 the O(1/N) and O(λ²) corrections are a few percent of the tree level, below the
              // statistical error of 2·10⁵ networks (about 12%): the change must agree with tree level within 4σ.
              Expect.isLessThan (abs (delta - tree)) (4.0 * error) (sprintf "ΔG₄c = %g ± %g, tree level %g" delta error tree)
              Expect.isTrue (tree < 0.0 && delta < 0.0) "a repulsive φ⁴ lowers the connected 4-point function"
              let lambdaEff, lambdaError = o "lambda_eff"
              Expect.isLessThan (abs (lambdaEff - 0.1)) (4.0 * lambdaError) "the coupling read back from the data"
              Expect.isGreaterThan (root.GetProperty("ess").GetDouble()) 0.5 "small λ: the weights are nearly flat"
              let q = root.GetProperty("quadrature")
              Expect.isLessThan (q.GetProperty("action_max_relative_change").GetDouble()) 1e-6 "∫φ⁴ is resolved by the quadrature"
              Expect.isLessThan (q.GetProperty("tree_level_relative_change").GetDouble()) 1e-8 "the tree-level integral is resolved"
              Directory.Delete(dir, true)
          }

          test "at λ = 0 the deformed theory is the free one" {
              let dir = runInto [ "nnft-phi4"; "--lambda"; "0"; "--width"; "10"; "--networks"; "20000"; "--blocks"; "16" ]
              use summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "summary.json")))
              let delta = summary.RootElement.GetProperty("observables").GetProperty("delta_G4c").GetProperty("mean").GetDouble()
              Expect.equal delta 0.0 "weights of exactly one change nothing"
              Expect.floatClose Accuracy.veryHigh (summary.RootElement.GetProperty("ess").GetDouble()) 1.0 "ESS/N = 1"
              Directory.Delete(dir, true)
          }

          test "unresolvable or bad settings are refused before any work" {
              for args, named in
                  [ [ "--arch"; "cos"; "--cutoff"; "-1" ], "cutoff -1"
                    [ "--lambda"; "-1" ], "--lambda -1"
                    [ "--box"; "0" ], "--box 0"
                    [ "--d"; "3" ], "--d 3"
                    [ "--panels"; "3000" ], "too many" ] do
                  let out = Path.Combine(newDirectory "hybrid-phi4-bad", "run")
                  let code, err = runCapturingErrors ([ "nnft-phi4" ] @ args @ [ "--out"; out ])
                  Expect.equal code 2 (sprintf "%A exits 2" args)
                  Expect.stringContains err named (sprintf "%A names the value" args)
                  Expect.isFalse (Directory.Exists out) "nothing left behind"
          } ]
