module Hybrid.Scripting.Tests.O3.O3Tests

open System.IO
open System.Text.Json
open Expecto
open Hybrid.Scripting.Tests.Support

let private summary (dir: string) = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "summary.json"))).RootElement

let private mean (root: JsonElement) (path: string list) =
    let e = path |> List.fold (fun (e: JsonElement) (p: string) -> e.GetProperty p) root
    e.GetProperty("mean").GetDouble(), e.GetProperty("error").GetDouble()

let private refused (args: string list) (named: string) =
    let out = Path.Combine(newDirectory "hybrid-o3", "run")
    let code, err = runCapturingErrors (args @ [ "--out"; out ])
    Expect.equal code 2 (sprintf "%A exits 2" args)
    Expect.stringContains err named (sprintf "%A names the value" args)
    Expect.isFalse (Directory.Exists out) "nothing left behind"

[<Tests>]
let tests =
    testList
        "o3"
        [ test "o3-ed reproduces the reference levels of physics.md through the command line" {
              for sites, g2, lmax, e0, gap in [ 3, 1.0, 5, -0.59082965, 0.53365280; 4, 2.0, 4, -0.083889594, 1.67717789 ] do
                  let dir = runInto [ "o3-ed"; "--L"; string sites; "--g2"; string g2; "--lmax"; string lmax ]
                  let root = summary dir
                  Expect.floatClose { absolute = 1e-7; relative = 0.0 } (fst (mean root [ "observables"; "E0" ])) e0 (sprintf "E₀ at L = %d" sites)
                  Expect.floatClose { absolute = 1e-7; relative = 0.0 } (fst (mean root [ "observables"; "gap" ])) gap (sprintf "gap at L = %d" sites)
                  Expect.isLessThan (snd (mean root [ "observables"; "gap" ])) 1e-6 "converged in l_max"
                  Expect.isTrue (File.Exists(Path.Combine(dir, "convergence.html"))) "the convergence plot"
                  Directory.Delete(dir, true)
          }

          test "o3-gap at L = 3, g² = 1: VMC reaches E₀ within 2·10⁻⁴ and the gap within 0.5% of exact diagonalisation" {
              let dir = runInto [ "o3-gap"; "--L"; "3"; "--g2"; "1"; "--steps"; "600"; "--measure"; "300" ]
              let root = summary dir
              let e0, e0Error = mean root [ "observables"; "E0" ]
              let e1, e1Error = mean root [ "observables"; "E1" ]
              let gap, gapError = mean root [ "observables"; "gap" ]
              let exact name = fst (mean root [ "exact"; name ])
              // The issue's targets, and the variational bound within the statistical error.
              Expect.isLessThan (abs (e0 - exact "E0") / abs (exact "E0")) 2e-4 (sprintf "E₀ = %g ± %g against %g" e0 e0Error (exact "E0"))
              Expect.isLessThan (abs (gap - exact "gap") / exact "gap") 5e-3 (sprintf "gap = %g ± %g against %g" gap gapError (exact "gap"))
              Expect.isGreaterThan (e0 + 4.0 * e0Error) (exact "E0") "E₀ is an upper bound within 4σ"
              Expect.isGreaterThan (e1 + 4.0 * e1Error) (exact "E1") "E₁ is an upper bound within 4σ (the l = 1 ansatz is orthogonal to every singlet)"
              Expect.isLessThan (root.GetProperty("states").GetProperty("ground").GetProperty("variance").GetDouble()) 1e-3 "the ground state's local energy is nearly constant"
              Expect.isTrue (File.Exists(Path.Combine(dir, "training-l1.csv"))) "the l = 1 training curve"
              Directory.Delete(dir, true)
          }

          test "o3-vmc resumes from its checkpoint bit for bit" {
              let root = newDirectory "hybrid-o3-resume"
              let checkpoint = Path.Combine(root, "state.ckpt")
              let common = [ "o3-vmc"; "--L"; "3"; "--g2"; "1.5"; "--chains"; "8"; "--measure"; "10"; "--hidden"; "4" ]
              let straight = runInto (common @ [ "--steps"; "12" ])
              Expect.equal (Hybrid.Scripting.Catalog.main (common @ [ "--steps"; "6"; "--checkpoint"; checkpoint; "--out"; Path.Combine(root, "a") ])) 0 "first half"
              Expect.equal (Hybrid.Scripting.Catalog.main (common @ [ "--steps"; "12"; "--checkpoint"; checkpoint; "--resume"; "--out"; Path.Combine(root, "b") ])) 0 "resumed"
              let energy dir = fst (mean (summary dir) [ "observables"; "E" ])
              Expect.equal (energy (Path.Combine(root, "b"))) (energy straight) "the same energy as without the interruption"
              Directory.Delete(root, true)
              Directory.Delete(straight, true)
          }

          test "bad input is refused before any work" {
              refused [ "o3-ed"; "--L"; "1" ] "L 1"
              refused [ "o3-ed"; "--g2"; "0" ] "--g2 0"
              refused [ "o3-ed"; "--lmax"; "0" ] "--lmax 0"
              refused [ "o3-ed"; "--L"; "8"; "--lmax"; "4" ] "would need"
              refused [ "o3-vmc"; "--ansatz"; "rbm" ] "--ansatz rbm"
              refused [ "o3-vmc"; "--state"; "l2" ] "--state l2"
              refused [ "o3-vmc"; "--L"; "4"; "--window"; "6" ] "--window 6"
              refused [ "o3-vmc"; "--hidden"; "16,x" ] "--hidden 16,x"
              refused [ "o3-gap"; "--g2"; "-1" ] "--g2 -1"
              refused [ "o3-gap"; "--L"; "1" ] "L 1"
          } ]
