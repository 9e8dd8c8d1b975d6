module Hybrid.Scripting.Tests.Pipeline.MergeTests

open System
open System.Globalization
open System.IO
open Expecto
open Hybrid.Analysis.Phi4
open Hybrid.Scripting
open Hybrid.Scripting.Pipeline
open Hybrid.Scripting.Phi4
open Hybrid.Scripting.Tests.Support

let private hmc (extra: string list) =
    runInto ([ "phi4-hmc"; "--L"; "4"; "--chains"; "3"; "--thermalization"; "20"; "--trajectories"; "150"; "--seed"; "5" ] @ extra)

/// M of every chain of a run, read straight from its measurements.csv.
let private magnetization (dir: string) =
    let lines = File.ReadAllLines(Path.Combine(dir, "measurements.csv"))
    let header = lines.[0].Split(',')
    let replica, m = Array.IndexOf(header, "replica"), Array.IndexOf(header, "M")
    lines.[1..] |> Array.map (fun l -> l.Split(',')) |> Array.groupBy (fun r -> int r.[replica]) |> Array.sortBy fst
    |> Array.map (snd >> Array.map (fun r -> Double.Parse(r.[m], CultureInfo.InvariantCulture)))

[<Tests>]
let tests =
    testList
        "merge"
        [ test "replicas have independent derived seeds and merge into the analysis of all their chains together" {
              let a = hmc [ "--replica"; "0"; "--replicas"; "2" ]
              let b = hmc [ "--replica"; "1"; "--replicas"; "2" ]
              let seed (dir: string) =
                  use config = Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "config.json")))
                  config.RootElement.GetProperty("parameters").GetProperty("seed").GetInt64()
              Expect.notEqual (seed a) (seed b) "each replica its own seed"
              Expect.notEqual (seed a) 5L "derived from the root seed, not the root itself"
              let merged = Path.Combine(newDirectory "hybrid-merge", "merged")
              Expect.equal (Catalog.main [ "merge"; a; b; "--out"; merged ]) 0 "merge succeeds"
              let chi, error, _ = observable merged "chi2"
              // The same estimator on the six chains read independently: identical mean and error.
              let expected = Phi4Estimators.susceptibility 16 (Array.append (magnetization a) (magnetization b))
              Expect.floatClose Accuracy.veryHigh chi expected.Mean "χ₂ of all chains"
              Expect.floatClose Accuracy.veryHigh error expected.Error "its Γ-method error over all chains"
              use summary = RunDirectory.readSummary merged
              Expect.equal (summary.RootElement.GetProperty("chains").GetInt32()) 6 "3 + 3 chains"
              Expect.isTrue (summary.RootElement.GetProperty("observables").GetProperty("chi2").GetProperty("r_hat").GetDouble() > 0.0) "split-R̂ over the chains"
              for d in [ a; b; Path.GetDirectoryName merged ] do Directory.Delete(d, true)
          }

          test "runs that are not replicas of one experiment are refused, naming the difference" {
              let a = hmc [ "--replica"; "0"; "--replicas"; "2" ]
              let other = hmc [ "--replica"; "1"; "--replicas"; "2"; "--lambda"; "6" ]
              let twin = hmc [ "--replica"; "0"; "--replicas"; "2" ]
              let out = Path.Combine(newDirectory "hybrid-merge", "never")
              let code, message = runCapturingErrors [ "merge"; a; other; "--out"; out ]
              Expect.equal code 2 "exit code 2"
              Expect.stringContains message "lambda is 8" "names the parameter and both values"
              let code, message = runCapturingErrors [ "merge"; a; twin; "--out"; out ]
              Expect.equal code 2 "exit code 2"
              Expect.stringContains message "same seed" "the same seed twice is not two replicas"
              File.Delete(Path.Combine(a, RunDirectory.CompleteMarker))
              let code, message = runCapturingErrors [ "merge"; a; other; "--out"; out ]
              Expect.equal code 2 "exit code 2"
              Expect.stringContains message "incomplete" "an unfinished run is refused"
              Expect.isFalse (Directory.Exists out) "nothing was written"
              for d in [ a; other; twin; Path.GetDirectoryName out ] do Directory.Delete(d, true)
          }

          test "--replica without --replicas is refused" {
              let code, message = runCapturingErrors [ "phi4-hmc"; "--replica"; "1"; "--out"; Path.Combine(Path.GetTempPath(), "hybrid-never-" + Guid.NewGuid().ToString "N") ]
              Expect.equal code 2 "exit code 2"
              Expect.stringContains message "go together" "says what is missing"
          } ]
