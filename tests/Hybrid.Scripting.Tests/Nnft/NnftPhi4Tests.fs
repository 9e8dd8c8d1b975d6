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

          test "HMC in parameter space and reweighting sample the same interacting ensemble" {
              // λ = 2 on a box of side 2 with erf-nets of width 10: far from tree level (strong coupling, small N), where
              // the two exact samplers must still agree with each other.
              let common = [ "nnft-phi4"; "--arch"; "erf"; "--sigma-w"; "1.5"; "--sigma-b"; "0.2"; "--width"; "10"; "--lambda"; "2"; "--box"; "2" ]
              let hmc = runInto (common @ [ "--sampler"; "hmc"; "--chains"; "32"; "--trajectories"; "400"; "--thermalization"; "100" ])
              let reweighted = runInto (common @ [ "--networks"; "400000" ])
              let value (dir: string) (name: string) =
                  use summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "summary.json")))
                  let e = summary.RootElement.GetProperty("observables").GetProperty(name)
                  e.GetProperty("mean").GetDouble(), e.GetProperty("error").GetDouble()
              for name in [ "G2_0_0"; "G2_0_3"; "G4c" ] do
                  let (a, da), (b, db) = value hmc name, value reweighted name
                  Expect.isLessThan (abs (a - b)) (4.0 * sqrt (da * da + db * db)) (sprintf "%s: HMC %g ± %g, reweighting %g ± %g" name a da b db)
              Directory.Delete(hmc, true)
              Directory.Delete(reweighted, true)
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
                    [ "--panels"; "3000" ], "too many"
                    [ "--sampler"; "hmc" ], "--sampler hmc is not allowed for --arch cos" ] do
                  let out = Path.Combine(newDirectory "hybrid-phi4-bad", "run")
                  let code, err = runCapturingErrors ([ "nnft-phi4" ] @ args @ [ "--out"; out ])
                  Expect.equal code 2 (sprintf "%A exits 2" args)
                  Expect.stringContains err named (sprintf "%A names the value" args)
                  Expect.isFalse (Directory.Exists out) "nothing left behind"
          } ]
