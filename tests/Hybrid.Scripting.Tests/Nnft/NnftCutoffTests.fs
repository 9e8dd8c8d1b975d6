module Hybrid.Scripting.Tests.Nnft.NnftCutoffTests

open System.IO
open System.Text.Json
open Expecto
open Hybrid.Scripting.Tests.Support

let private fits (dir: string) =
    use summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "summary.json")))
    [ for f in summary.RootElement.GetProperty("fits").EnumerateArray() -> f.Clone() ]

let private coefficient (f: JsonElement) (which: string) (k: int) =
    let c = f.GetProperty(which).GetProperty(sprintf "c%d" k)
    c.GetProperty("mean").GetDouble(), c.GetProperty("error").GetDouble()

[<Tests>]
let tests =
    testList
        "nnft-cutoff"
        [ test "the O(1/N) corrections of the renormalised cos-net φ⁴ match the first-order formulas" {
              let dir = runInto [ "nnft-cutoff"; "--cutoffs"; "2,8"; "--widths"; "2,4,8,16"; "--networks"; "200000" ]
              for f in fits dir do
                  let cutoff = f.GetProperty("cutoff").GetDouble()
                  let c0, e0 = coefficient f "dG2" 0
                  Expect.isLessThan (abs c0) (4.0 * e0) (sprintf "Λ = %g: ∂G₂/∂λ has no N⁰ term after Wick ordering (%g ± %g)" cutoff c0 e0)
                  let c1, e1 = coefficient f "dG2" 1
                  let formula = f.GetProperty("dG2_c1_formula").GetDouble()
                  Expect.isLessThan (abs (c1 - formula)) (4.0 * e1) (sprintf "Λ = %g: c₁ = %g ± %g, formula (1 − κ/2)G(0)∫GG = %g" cutoff c1 e1 formula)
                  let t0, et = coefficient f "dG4c" 0
                  let tree = f.GetProperty("minus_tree").GetDouble()
                  Expect.isLessThan (abs (t0 - tree)) (4.0 * et) (sprintf "Λ = %g: ∂G₄c/∂λ → −T = %g at N → ∞ (%g ± %g)" cutoff tree t0 et)
              Directory.Delete(dir, true)
          }

          test "--cancel-bubbles (cos/sin pairs, κ = 2) leaves G₂ without O(λ/N) correction" {
              let dir = runInto [ "nnft-cutoff"; "--cancel-bubbles"; "--cutoffs"; "2,8"; "--widths"; "2,4,8,16"; "--networks"; "100000" ]
              use summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "summary.json")))
              for r in summary.RootElement.GetProperty("responses").EnumerateArray() do
                  let g = r.GetProperty("dG2")
                  let mean, error = g.GetProperty("mean").GetDouble(), g.GetProperty("error").GetDouble()
                  Expect.isLessThan (abs mean) (4.0 * error) (sprintf "Λ = %g, N = %d: ∂G₂/∂λ = %g ± %g" (r.GetProperty("cutoff").GetDouble()) (r.GetProperty("width").GetInt32()) mean error)
              Directory.Delete(dir, true)
          }

          test "a study needs two cutoffs and four widths" {
              for args, named in [ [ "--cutoffs"; "4" ], "at least two cutoffs"; [ "--widths"; "2,4" ], "at least four widths"; [ "--frequencies"; "x" ], "--frequencies x" ] do
                  let code, err = runCapturingErrors ([ "nnft-cutoff" ] @ args @ [ "--out"; Path.Combine(newDirectory "hybrid-cut", "run") ])
                  Expect.equal code 2 (sprintf "%A exits 2" args)
                  Expect.stringContains err named "says why"
          } ]
