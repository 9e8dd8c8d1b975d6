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

let private observable (dir: string) name =
    use summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "summary.json")))
    let o = summary.RootElement.GetProperty("observables").GetProperty(name: string)
    o.GetProperty("mean").GetDouble(), o.GetProperty("error").GetDouble()

let private exactValue (dir: string) name =
    use summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "summary.json")))
    summary.RootElement.GetProperty("exact").GetProperty(name: string).GetDouble()

let private gevp (dir: string) =
    use summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "summary.json")))
    let g = summary.RootElement.GetProperty("gevp")
    [ for x in g.GetProperty("gaps").EnumerateArray() -> x.GetProperty("mean").GetDouble(), x.GetProperty("error").GetDouble() ],
    [ for x in g.GetProperty("exact_gaps").EnumerateArray() -> x.GetDouble() ]

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
              // erf(a u) is not a canonical position: its kink is (4/π) k ω/√(1 − k²), not 1.
              within3 "kink" (observable dir "kink") (4.0 / System.Math.PI * (2.0 / 3.0) / sqrt (1.0 - 4.0 / 9.0))
              Directory.Delete(dir, true)
          }

          test "the information criterion picks one state for OU and two for erf(a·OU)" {
              for proc, expected in [ "ou", 1; "erf-ou", 2 ] do
                  let dir = runInto [ "nnqm-spectrum"; "--process"; proc; "--paths"; "4000"; "--states"; "4"; "--select-states" ]
                  let gaps, _, _, _ = fitted dir
                  Expect.equal gaps.Length expected (sprintf "%s: states chosen by AIC" proc)
                  Directory.Delete(dir, true)
          }

          test "Ornstein–Uhlenbeck is one state: gap ω, weight 1/(2ω)" {
              let dir = runInto [ "nnqm-spectrum"; "--process"; "ou"; "--omega"; "1.5"; "--states"; "1"; "--paths"; "2000" ]
              let gaps, weights, exactGaps, exactWeights = fitted dir
              within3 "gap" gaps.[0] exactGaps.[0]
              within3 "weight" weights.[0] exactWeights.[0]
              // [x, p] = i and minimal uncertainty.
              within3 "kink" (observable dir "kink") 1.0
              // y, y³, y⁵ of OU span exactly the states 1, 3, 5: the GEVP finds ω and 3ω without priors.
              let found, exactGevp = gevp dir
              within3 "GEVP ω" found.[0] exactGevp.[0]
              within3 "GEVP 3ω" found.[1] exactGevp.[1]
              within3 "Δx Δp" (observable dir "uncertainty_product") 0.5
              within3 "connected G₄ of a Gaussian process" (observable dir "four_point_connected") 0.0
              Directory.Delete(dir, true)
          }

          test "an ensemble of random erf networks on OU has the Mehler-expanded ensemble kernel's gap, weight and kink" {
              let dir = runInto [ "nnqm-spectrum"; "--process"; "deep-ou"; "--sigma-w"; "1"; "--paths"; "4000"; "--states"; "2" ]
              let gaps, weights, exactGaps, exactWeights = fitted dir
              // k₁ = σ_W² E_w[⟨erf(wu) u⟩²] = 0.289254 at σ_W = 1 (Gauss–Hermite in u and w).
              Expect.floatClose { absolute = 1e-5; relative = 0.0 } exactWeights.[0] 0.289254 "exact ensemble weight"
              within3 "gap ω" gaps.[0] exactGaps.[0]
              within3 "weight k₁" weights.[0] exactWeights.[0]
              within3 "kink 2ωσ_W²(4/π)E[w²/√(1+4w²)]" (observable dir "kink") (exactValue dir "kink")
              Directory.Delete(dir, true)
          }

          test "the anharmonic oscillator's lowest gap and weight come out of its ground-state diffusion" {
              let dir = runInto [ "nnqm-spectrum"; "--process"; "anharmonic"; "--g"; "1"; "--paths"; "2000"; "--T"; "10"; "--substeps"; "10"; "--states"; "2" ]
              let gaps, weights, exactGaps, exactWeights = fitted dir
              // E₁ − E₀ = 1.93412 and |⟨0|x|1⟩|² = 0.25664 at g = 1 (exact diagonalisation); the O(h) bias of the
              // dynamics at h = 0.01 (about 1%, see the kink) is below the statistical error here (about 3%).
              Expect.floatClose { absolute = 1e-4; relative = 0.0 } exactGaps.[0] 1.93412 "exact gap"
              within3 "gap E₁ − E₀" gaps.[0] exactGaps.[0]
              within3 "weight |⟨0|x|1⟩|²" weights.[0] exactWeights.[0]
              let found, exactGevp = gevp dir
              within3 "GEVP E₁ − E₀" found.[0] exactGevp.[0]
              Expect.floatClose { absolute = 1e-8; relative = 0.0 } (exactValue dir "kink") 1.0 "the Thomas–Reiche–Kuhn sum over all states"
              // A correlator at four distinct times, against ⟨0|x e^{−H̃τ} x e^{−H̃τ} x e^{−H̃τ} x|0⟩ minus its pairings.
              within3 "connected G₄(0, τ, 2τ, 3τ)" (observable dir "four_point_connected") (exactValue dir "four_point_connected")
              Directory.Delete(dir, true)
          }

          test "bad input is refused before any work" {
              for args, named in
                  [ [ "--omega"; "0" ], "--omega 0"; [ "--dt"; "30" ], "--dt 30"; [ "--fit-until"; "15" ], "--fit-until 15"
                    [ "--states"; "9"; "--fit-until"; "0.5" ], "--states 9"; [ "--process"; "bm" ], "--process bm"; [ "--process"; "deep-ou"; "--sigma-w"; "0" ], "--sigma-w 0"
                    [ "--process"; "anharmonic"; "--g"; "-1" ], "--g -1"; [ "--substeps"; "0" ], "--substeps 0" ] do
                  let out = Path.Combine(newDirectory "hybrid-spec", "run")
                  let code, err = runCapturingErrors ([ "nnqm-spectrum" ] @ args @ [ "--out"; out ])
                  Expect.equal code 2 (sprintf "%A exits 2" args)
                  Expect.stringContains err named "names the value"
                  Expect.isFalse (Directory.Exists out) "nothing left behind"
          } ]
