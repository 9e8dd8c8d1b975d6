module Hybrid.Scripting.Tests.Nnft.NnftCorrelatorsTests

open System
open System.IO
open System.Text.Json
open Expecto
open Hybrid.Scripting.Tests.Support

/// (mean, error) of an observable and its analytic value from a run's summary.json.
let private measured (dir: string) (name: string) =
    use summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "summary.json")))
    let o = summary.RootElement.GetProperty("observables").GetProperty(name)
    let analytic =
        match summary.RootElement.GetProperty("analytic").TryGetProperty name with
        | true, v -> Some(v.GetDouble())
        | _ -> None
    o.GetProperty("mean").GetDouble(), o.GetProperty("error").GetDouble(), analytic

/// The Monte Carlo value lies within 4σ of the formula (a fixed seed: this is a check of the physics, not of luck).
let private agrees (dir: string) (name: string) =
    let mean, error, analytic = measured dir name
    Expect.isSome analytic (sprintf "%s has an analytic value" name)
    Expect.isLessThan (abs (mean - analytic.Value)) (4.0 * error) (sprintf "%s = %g ± %g, analytic %g" name mean error analytic.Value)

let private pairs (points: int) = [ for i in 0 .. points - 1 do for j in i .. points - 1 -> sprintf "G2_%d_%d" i j ]

[<Tests>]
let tests =
    testList
        "nnft-correlators"
        [ test "Gauss-nets reproduce their kernel and the O(1/N) connected 4-point function of Halverson et al." {
              for width, reference in [ 2, 0.0708; 8, 0.0177 ] do
                  let dir = runInto [ "nnft-correlators"; "--width"; string width; "--networks"; "1000000" ]
                  for name in pairs 4 @ [ "G4c" ] do agrees dir name
                  let _, _, analytic = measured dir "G4c"
                  Expect.floatClose { absolute = 1e-4; relative = 0.0 } analytic.Value reference "the formula gives the published value"
                  for file in [ "config.json"; "measurements.csv"; "summary.json"; "summary.md"; "observables.csv"; "correlators.html" ] do
                      Expect.isTrue (File.Exists(Path.Combine(dir, file))) (sprintf "%s written" file)
                  Directory.Delete(dir, true)
          }

          test "the Cauchy cos-net is the free propagator with the published 1/N four-point function" {
              for width, reference in [ 1, 0.3748; 4, 0.0937 ] do
                  let dir = runInto [ "nnft-correlators"; "--arch"; "cos"; "--mass"; "1"; "--width"; string width; "--points"; "0;0.4;1;1.5"; "--networks"; "1000000" ]
                  for name in pairs 4 @ [ "G4c" ] do agrees dir name
                  let _, _, analytic = measured dir "G4c"
                  Expect.floatClose { absolute = 1e-4; relative = 0.0 } analytic.Value reference "the formula gives the published value"
                  Directory.Delete(dir, true)
          }

          test "erf, ReLU, deep and cutoff cos-nets in two dimensions match their Gaussian-process kernels" {
              let points = "0,0;0.5,-0.3;1,0.8"
              for args in [ [ "--arch"; "erf"; "--sigma-w"; "1.5"; "--sigma-b"; "0.2" ]
                            [ "--arch"; "relu"; "--sigma-w"; "1.2"; "--sigma-b"; "0.4" ]
                            [ "--arch"; "deep-erf"; "--depth"; "2"; "--width"; "64"; "--sigma-w"; "1.5"; "--sigma-b"; "0.2" ]
                            [ "--arch"; "cos"; "--mass"; "1"; "--cutoff"; "6" ] ] do
                  let dir = runInto ([ "nnft-correlators"; "--d"; "2"; "--points"; points; "--networks"; "200000" ] @ args)
                  // A deep net's G₂ deviates from the kernel at O(1/N): at N = 64 it is within the errors of 2·10⁵ networks.
                  for name in pairs 3 do agrees dir name
                  Directory.Delete(dir, true)
          }

          test "bad input is refused in one line with exit code 2, before any work" {
              for args, named in
                  [ [ "--width"; "0" ], "--width 0"
                    [ "--networks"; "1" ], "--networks 1"
                    [ "--sigma-w"; "-1" ], "σ_W -1"
                    [ "--arch"; "cos"; "--mass"; "-1" ], "mass -1"
                    [ "--arch"; "cos"; "--cutoff"; "0" ], "cutoff 0"
                    [ "--arch"; "cos"; "--d"; "2"; "--points"; "0,0" ], "needs a momentum cutoff"
                    [ "--points"; "0;x" ], "'x' is not a finite number"
                    [ "--points"; "0,1;2" ], "has dimension 2"
                    [ "--arch"; "tanh" ], "--arch tanh"
                    [ "--engine"; "warp" ], "--engine warp"
                    [ "--arch"; "erf"; "--engine"; "fused" ], "no vectorised erf" ] do
                  let root = newDirectory "hybrid-nnft-bad"
                  let out = Path.Combine(root, "run")
                  let code, err = runCapturingErrors ([ "nnft-correlators" ] @ args @ [ "--out"; out ])
                  Expect.equal code 2 (sprintf "%A exits 2" args)
                  Expect.stringContains err named (sprintf "%A names the value" args)
                  Expect.equal (err.Trim().Split('\n').Length) 1 "one line"
                  Expect.isFalse (Directory.Exists out) "nothing left behind"
                  Directory.Delete(root, true)
          }

          test "a resumed ensemble says where it resumed and continues to the same numbers" {
              let root = newDirectory "hybrid-nnft-resume"
              let checkpoint = Path.Combine(root, "ensemble.ckpt")
              let args = [ "nnft-correlators"; "--networks"; "20000"; "--blocks"; "8"; "--checkpoint"; checkpoint ]
              let straight = Path.Combine(root, "straight")
              Expect.equal (Hybrid.Scripting.Catalog.main (args @ [ "--out"; straight ])) 0 "the first run"
              let code, out = runCapturingOutput (args @ [ "--resume"; "--out"; Path.Combine(root, "resumed") ])
              Expect.equal code 0 "the resumed run"
              Expect.stringContains out (sprintf "from %s at chunk" checkpoint) "the resume line names the checkpoint and the chunk"
              let g (dir: string) = let m, e, _ = measured dir "G2_0_1" in m, e
              Expect.equal (g (Path.Combine(root, "resumed"))) (g straight) "the same numbers"
              Directory.Delete(root, true)
          }

          test "replicas merge into one ensemble: every block of every replica" {
              let root = newDirectory "hybrid-nnft-merge"
              let replica k =
                  let dir = Path.Combine(root, sprintf "r%d" k)
                  Expect.equal (Hybrid.Scripting.Catalog.main [ "nnft-correlators"; "--networks"; "40000"; "--blocks"; "8"; "--replica"; string k; "--replicas"; "2"; "--out"; dir ]) 0 "replica runs"
                  dir
              let a, b = replica 0, replica 1
              let merged = Path.Combine(root, "merged")
              Expect.equal (Hybrid.Scripting.Catalog.main [ "merge"; a; b; "--out"; merged ]) 0 "merge runs"
              use summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(merged, "summary.json")))
              Expect.equal (summary.RootElement.GetProperty("networks").GetInt64()) 80000L "all networks of both replicas"
              Expect.equal (summary.RootElement.GetProperty("merged_experiment").GetString()) "nnft-correlators" "says what it merged"
              // The merged G₂ is the network-weighted mean of the replicas' (same counts: their average).
              let g (dir: string) = let m, _, _ = measured dir "G2_0_1" in m
              Expect.floatClose Accuracy.veryHigh (g merged) ((g a + g b) / 2.0) "pooled mean"
              let _, eMerged, _ = measured merged "G2_0_1"
              let _, eA, _ = measured a "G2_0_1"
              Expect.isLessThan eMerged eA "twice the networks, a smaller error"
              Directory.Delete(root, true)
          } ]
