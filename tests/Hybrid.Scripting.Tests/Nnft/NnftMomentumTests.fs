module Hybrid.Scripting.Tests.Nnft.NnftMomentumTests

open System.IO
open System.Text.Json
open Expecto
open Hybrid.Scripting.Tests.Support

[<Tests>]
let tests =
    testList
        "nnft-momentum"
        [ test "the single-neuron part of the cos-net's 4-point function lives only at the special kinematics" {
              let dir = runInto [ "nnft-momentum"; "--width"; "4"; "--momenta"; "1,2,3"; "--networks"; "400000" ]
              use summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "summary.json")))
              let root = summary.RootElement
              let check name =
                  let o = root.GetProperty("observables").GetProperty(name: string)
                  let mean, error = o.GetProperty("mean").GetDouble(), o.GetProperty("error").GetDouble()
                  let exact = root.GetProperty("analytic").GetProperty(name).GetDouble()
                  Expect.isLessThan (abs (mean - exact)) (4.0 * error) (sprintf "%s = %g ± %g, exact %g" name mean error exact)
                  mean, error, exact
              for k in 1 .. 3 do check (sprintf "G2_%d" k) |> ignore
              for a in 1 .. 3 do
                  for b in a .. 3 do
                      let _, error, exact = check (sprintf "V_%d_%d" a b)
                      if a = b then Expect.isGreaterThan exact (10.0 * error) "at p₁ = p₂ = −p₃ = −p₄ the vertex is resolved, far from 0"
                      else Expect.equal exact 0.0 "elsewhere it vanishes exactly"
                      check (sprintf "G4c_%d_%d" a b) |> ignore
              Expect.isTrue (File.Exists(Path.Combine(dir, "momentum.html"))) "the plot"
              Directory.Delete(dir, true)
          }

          test "momenta beyond the cutoff are refused" {
              let code, err = runCapturingErrors [ "nnft-momentum"; "--modes"; "2"; "--momenta"; "1,3"; "--out"; Path.Combine(newDirectory "hybrid-mom", "run") ]
              Expect.equal code 2 "exit 2"
              Expect.stringContains err "'3' is not a mode k in 1..2" "names the value and what is allowed"
          } ]
