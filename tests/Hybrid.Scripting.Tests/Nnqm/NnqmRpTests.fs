module Hybrid.Scripting.Tests.Nnqm.NnqmRpTests

open System.IO
open System.Text.Json
open Expecto
open Hybrid.Scripting.Tests.Support

[<Tests>]
let tests =
    testList
        "nnqm-rp"
        [ test "the NN-QM processes are reflection positive within errors and the Gaussian kernel is not" {
              let dir = runInto [ "nnqm-rp"; "--paths"; "5000"; "--substeps"; "10" ]
              use summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "summary.json")))
              let observables = summary.RootElement.GetProperty("observables")
              for name in [ "ou"; "erf-ou"; "deep-ou"; "kl"; "anharmonic"; "gaussian-kernel" ] do
                  let o = observables.GetProperty(name)
                  let lowest = o.GetProperty("min_eigenvalue")
                  let mean, error = lowest.GetProperty("mean").GetDouble(), lowest.GetProperty("error").GetDouble()
                  Expect.isGreaterThan error 0.0 (sprintf "%s: λ_min has an error" name)
                  Expect.equal (o.GetProperty("verdict").GetString()) (o.GetProperty("expected").GetString()) (sprintf "%s: λ_min = %g ± %g" name mean error)
                  // Every process here is stationary and symmetric under t → −t: the largest of a few N(0, 1) pulls.
                  Expect.isLessThan (o.GetProperty("stationarity_pull").GetDouble()) 4.0 (sprintf "%s: stationary" name)
                  Expect.isLessThan (o.GetProperty("reflection_symmetry_pull").GetDouble()) 4.0 (sprintf "%s: t → −t symmetric" name)
                  // Every one clusters: at D = 10 the connected correlation is 0 within 4σ.
                  let cluster = o.GetProperty("clustering")
                  Expect.isLessThan (abs (cluster.GetProperty("mean").GetDouble())) (4.0 * cluster.GetProperty("error").GetDouble()) (sprintf "%s: clusters" name)
              // e^{−t²/2}: K(0)K(0.5) − K(0.25)² = −0.057 for the linear functional; tanh keeps it far below zero.
              Expect.isLessThan (observables.GetProperty("gaussian-kernel").GetProperty("significance").GetDouble()) -10.0 "many standard errors below zero"
              Expect.equal (observables.GetProperty("gaussian-kernel").GetProperty("expected").GetString()) "violated" "theory says violated"
              // The plot: λ_min/σ per process on a linear axis, beside the −3σ threshold, the violation visible.
              let chart = chartOf dir "min-eigenvalue.html"
              Expect.isFalse (chart.Contains "\"type\":\"log\"") "no log axis for a signed quantity"
              Expect.stringContains chart "λ<sub>min</sub> / σ(λ<sub>min</sub>)" "the y-axis is λ_min in units of its error"
              Expect.stringContains chart "violation threshold −3σ" "the threshold line"
              for name in [ "ou"; "gaussian-kernel" ] do Expect.stringContains chart (sprintf "\"%s\"" name) "one category per process"
              Directory.Delete(dir, true)
          }

          test "bad input is refused before any work" {
              for args, named in
                  [ [ "--processes"; "ou,bm" ], "--processes bm"; [ "--tau"; "0" ], "--tau 0"; [ "--points"; "1" ], "--points"
                    [ "--g"; "-2" ], "--g -2"; [ "--paths"; "3" ], "--paths" ] do
                  let out = Path.Combine(newDirectory "hybrid-rp", "run")
                  let code, err = runCapturingErrors ([ "nnqm-rp" ] @ args @ [ "--out"; out ])
                  Expect.equal code 2 (sprintf "%A exits 2" args)
                  Expect.stringContains err named "names the value"
                  Expect.isFalse (Directory.Exists out) "nothing left behind"
          } ]
