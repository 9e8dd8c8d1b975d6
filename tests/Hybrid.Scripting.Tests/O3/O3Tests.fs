module Hybrid.Scripting.Tests.O3.O3Tests

open System
open System.IO
open System.Text.Json
open Expecto
open Hybrid.Scripting.Tests.Support
open Hybrid.Scripting.O3
open Hybrid.Scripting.Pipeline

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
              // Both energies carried to zero variance along their trainings: still the exact levels, within errors that
              // include the slope's (larger than the plain ones, never smaller).
              for name in [ "E0"; "E1"; "gap" ] do
                  let z, zError = mean root [ "observables"; name + "_zero_variance" ]
                  Expect.isLessThan (abs (z - exact name)) (4.0 * zError) (sprintf "%s at σ² → 0: %g ± %g against %g" name z zError (exact name))
                  Expect.isGreaterThanOrEqual zError (snd (mean root [ "observables"; name ])) (sprintf "%s: the slope's error is added" name)
              // The plot: (VMC − exact)/|exact| of E₀, E₁ and the gap on a linear axis with the exact line, not energies
              // of −0.6 and +0.5 on one axis that hides differences of 10⁻⁴.
              let chart = chartOf dir "gap.html"
              Expect.stringContains chart "(VMC − exact) / |exact|" "the y-axis is the relative deviation"
              Expect.stringContains chart "\"name\":\"exact\"" "the exact line"
              Expect.isFalse (chart.Contains "\"type\":\"log\"") "linear axis"
              Expect.stringContains (chartOf dir "training.html") "optimiser step" "training against the optimiser step"
              Expect.stringContains (File.ReadAllText(Path.Combine(dir, "config.json"))) "\"device\": \"auto\"" "the device choice is recorded"
              Directory.Delete(dir, true)
          }

          test "o3-running at g² = 1: ū = L·m(L) grows with L (asymptotic freedom) and agrees with exact diagonalisation" {
              // Two sizes keep it quick; o3-gap below checks L = 3 to the issue's precision and o3-vmc the 4-site chain.
              let dir = runInto [ "o3-running"; "--g2"; "1"; "--sizes"; "2,3"; "--steps"; "400"; "--measure"; "400" ]
              let root = summary dir
              let ubar l = mean root [ "observables"; sprintf "ubar_L%d" l ]
              let exact l = root.GetProperty("exact").GetProperty(sprintf "ubar_L%d" l).GetDouble()
              for l in [ 2; 3 ] do
                  let u, e = ubar l
                  // The issue's gap target (0.5%) for the variational bias of a short training, plus 4σ of statistics.
                  Expect.isLessThan (abs (u - exact l)) (5e-3 * exact l + 4.0 * e) (sprintf "ū(%d) = %g ± %g against %g" l u e (exact l))
              Expect.isGreaterThan (fst (ubar 3)) (fst (ubar 2) + 4.0 * snd (ubar 3)) "ū(3) > ū(2)"
              Expect.isTrue (File.Exists(Path.Combine(dir, "points", "L3-g2-1-l1.json"))) "each state is kept as a point"
              Directory.Delete(dir, true)
          }

          test "o3-stepscaling at L = 2 reproduces the Σ of exact diagonalisation within its error, corrects for c, and resumes from its points" {
              let root = newDirectory "hybrid-o3-ss"
              let points = Path.Combine(root, "points")
              let args = [ "o3-stepscaling"; "--sizes"; "2"; "--steps"; "200"; "--measure"; "150"; "--points"; points ]
              Expect.equal (Hybrid.Scripting.Catalog.main (args @ [ "--out"; Path.Combine(root, "a") ])) 0 "the study"
              let first = summary (Path.Combine(root, "a"))
              let sigma, error = mean first [ "observables"; "sigma_L2" ]
              let exact = first.GetProperty("exact_sigma").GetProperty("sigma_L2").GetDouble()
              Expect.isLessThan (abs (sigma - exact)) (4.0 * error) (sprintf "Σ(2, 1.0595, 1/2) = %g ± %g against %g" sigma error exact)
              Expect.isLessThan error 0.02 "a useful error"
              // The speed of light: the 4-site chain measured again where L·m(L) = u·c, and Σ = 4·m(4)/c there.
              let c2 = fst (mean first [ "light_squared"; "L4" ])
              let g2, _ = mean first [ "observables"; "g2_L2" ]
              let g2C, _ = mean first [ "observables"; "g2_light_L2" ]
              Expect.isLessThan c2 1.0 "c < 1 on the lattice at this coupling"
              Expect.isLessThan g2C g2 "so u·c is reached at a weaker coupling"
              let energy (g: float) (state: string) =
                  let file = Directory.GetFiles(points, sprintf "L4-g2-*-%s.json" state) |> Array.minBy (fun f -> abs (float (Path.GetFileName(f).Split('-').[2]) - g))
                  (JsonDocument.Parse(File.ReadAllText file).RootElement.GetProperty("energy").GetProperty("mean").GetDouble())
              let sigmaC = fst (mean first [ "observables"; "sigma_light_L2" ])
              Expect.floatClose { absolute = 1e-12; relative = 0.0 } sigmaC (4.0 * (energy g2C "l1" - energy g2C "ground") / sqrt c2) "Σ = 2L·m(2L)/c at the corrected coupling"
              // The lattice's d ln ū(4)/d ln ū(2) between the two couplings, against exact diagonalisation at the same two.
              let ubar sites g = float sites * Hybrid.O3.RotorChainSpectrum.Solve(sites, g, 5).Gap
              let rExact = log (ubar 4 g2 / ubar 4 g2C) / log (ubar 2 g2 / ubar 2 g2C)
              let r, rError = mean first [ "observables"; "r_L2" ]
              Expect.isLessThan (abs (r - rExact)) (4.0 * rError) (sprintf "r = %g ± %g against %g" r rError rExact)
              // A second run finds every state in the points directory and measures nothing again; given the default
              // start explicitly (as a replica would be given the previous size's), it asks for the same points.
              // Nothing trained again: every points file (results and checkpoints) is the one the first run wrote.
              let stamps () = Directory.GetFiles points |> Array.sort |> Array.map (fun f -> f, File.GetLastWriteTimeUtc f)
              let before = stamps ()
              Expect.equal (Hybrid.Scripting.Catalog.main (args @ [ "--start"; "0.8476"; "--out"; Path.Combine(root, "b") ])) 0 "the resumed study"
              Expect.equal (fst (mean (summary (Path.Combine(root, "b"))) [ "observables"; "sigma_L2" ])) sigma "the same Σ from the kept points"
              Expect.equal (stamps ()) before "without training again"
              refused [ "o3-stepscaling"; "--sizes"; "2"; "--steps"; "201"; "--points"; points ] "other VMC settings"
              // Killed in the middle of a state's training (its checkpoint is there, its result is not), then run again:
              // the state resumes from its checkpoint, not from step 0, and the study ends with a Σ that agrees with exact
              // diagonalisation as the uninterrupted one does. (Resuming from a checkpoint written in the middle of
              // training is not bit for bit: the trajectory after it differs from the uninterrupted one.) The killed
              // study starts from the finished one's points without the 4-site chain at the root, so that only that
              // chain trains again, and without the speed of light.
              let killedPoints = Path.Combine(root, "points-killed")
              Directory.CreateDirectory killedPoints |> ignore
              let couplingOf (file: string) = float (Path.GetFileName(file).Split('-').[2])
              // The root as its file names give it (rounded there), the 4-site coupling nearest the tuned g².
              let rootCoupling = Directory.GetFiles(points, "L4-g2-*.json") |> Array.map couplingOf |> Array.minBy (fun g -> abs (g - g2))
              let atRoot (file: string) =
                  let name = Path.GetFileNameWithoutExtension file
                  name.StartsWith "L4-g2-" && couplingOf file = rootCoupling && (name.EndsWith "-ground" || name.EndsWith "-l1")
              for file in Directory.GetFiles points do
                  if not (atRoot file) then File.Copy(file, Path.Combine(killedPoints, Path.GetFileName file))
              let removed = Directory.GetFiles(points, "*.json") |> Array.filter atRoot
              Expect.equal removed.Length 2 "both states of the 4-site chain at the root are left out"
              let groundJson = removed |> Array.find (fun f -> f.EndsWith "-ground.json") |> Path.GetFileName |> fun f -> Path.Combine(killedPoints, f)
              let study out = args |> List.map (fun a -> if a = points then killedPoints else a) |> fun a -> a @ [ "--no-light"; "--out"; out ]
              let midTraining () = File.Exists(Path.ChangeExtension(groundJson, ".ckpt")) && not (File.Exists groundJson)
              Expect.isTrue (killWhen (study (Path.Combine(root, "killed"))) midTraining) "killed while it was training"
              Expect.isFalse (File.Exists groundJson) "the state did not finish before the kill"
              let code, out, err = runScript (study (Path.Combine(root, "resumed")))
              Expect.equal code 0 (sprintf "the resumed study; stderr:\n%s" err)
              let resumedAt =
                  out.Split('\n') |> Array.tryPick (fun l -> if l.StartsWith "resumed ground from" then Some(int (l.Substring(l.LastIndexOf ' ' + 1))) else None)
              Expect.isTrue (resumedAt |> Option.exists (fun step -> step > 0 && step < 200)) (sprintf "the interrupted state continues from its checkpoint (%A)" resumedAt)
              let resumedSigma, resumedError = mean (summary (Path.Combine(root, "resumed"))) [ "observables"; "sigma_L2" ]
              Expect.isLessThan (abs (resumedSigma - exact)) (4.0 * resumedError) (sprintf "resumed Σ = %g ± %g against %g" resumedSigma resumedError exact)
              // Each state once: the tuning states reused, the 4-site chain at the root measured again, both states (the
              // resumed state's energies differ in the last digits from the first run's, but the root does not move).
              Expect.equal (Directory.GetFiles(killedPoints, "*.json").Length) (Directory.GetFiles(points, "*.json").Length) "every state measured once"
              Expect.stringContains out "reusing" "the tuning states are reused"
              Directory.Delete(root, true)
          }

          test "o3-vmc with the message-passing ansatz: the l = 1 level at L = 4 within 0.5% of the gap, and an upper bound" {
              // Two rounds of messages fold the frame around the 4-site chain: the self slot of the isovector's weights
              // and the folded jets are both on this path.
              let dir = runInto [ "o3-vmc"; "--L"; "4"; "--g2"; "1"; "--state"; "l1"; "--ansatz"; "mp"; "--hidden"; "8,8,8"; "--steps"; "400"; "--measure"; "300" ]
              let root = summary dir
              let e, error = mean root [ "observables"; "E" ]
              let exact = fst (mean root [ "exact"; "E1" ])
              let gap = fst (mean root [ "exact"; "gap" ])
              Expect.isLessThan (abs (e - exact)) (5e-3 * gap + 4.0 * error) (sprintf "E₁ = %g ± %g against %g" e error exact)
              Expect.isGreaterThan (e + 4.0 * error) exact "an upper bound within 4σ"
              Expect.equal (root.GetProperty("parameters").GetProperty("ansatz").GetProperty("messages").GetInt32()) 1 "the range is recorded"
              // Message passing has no local moves: the route recorded is the one the chains took, not the default asked for.
              Expect.stringContains (File.ReadAllText(Path.Combine(dir, "config.json"))) "\"moves\": \"full\"" "the full route is recorded"
              Directory.Delete(dir, true)
          }

          test "the speed of light of a free lattice field is 1 at every momentum" {
              // ω² = m² + 4 sin²(p/2) on the Hamiltonian chain: c² must come out 1, not p̂²/p².
              for sites in [ 4; 6; 12; 32 ] do
                  let m = 0.3
                  let p = 2.0 * System.Math.PI / float sites
                  let e (x: float) = Hybrid.Analysis.Statistics.Estimate.independent x 1e-4 1000
                  let c2 = Hybrid.Analysis.O3.SpeedOfLight.finiteVolume sites (e -1.0) (e (m - 1.0)) (e (sqrt (m * m + 4.0 * sin (p / 2.0) ** 2.0) - 1.0))
                  Expect.floatClose { absolute = 1e-12; relative = 0.0 } c2.Mean 1.0 (sprintf "c² at L = %d" sites)
                  Expect.isGreaterThan c2.Error 0.0 "with the energies' errors propagated"
          }

          test "o3-light at strong coupling: c² = 2/3 from the one-particle band, and the chain's energies" {
              // ε(k) = g² − (2/(3g²)) cos k gives c² = 2/3 at every momentum, up to O(g⁻⁴) = 0.007 at g² = 12.
              let dir = runInto [ "o3-light"; "--g2"; "12"; "--sizes"; "4"; "--steps"; "100"; "--measure"; "150"; "--lr"; "0.01" ]
              let root = summary dir
              let c2, error = mean root [ "observables"; "c2_L4" ]
              Expect.isLessThan (abs (c2 - 2.0 / 3.0)) (1.0 / 144.0 + 4.0 * error) (sprintf "c² = %g ± %g" c2 error)
              // The band itself: m = g² − 2/(3g²) and ε(π/2) = g², each up to O(g⁻⁶) = 6·10⁻⁴.
              Expect.floatClose { absolute = 1e-3; relative = 0.0 } (fst (mean root [ "observables"; "gap_L4" ])) (12.0 - 2.0 / 36.0) "m at k = 0"
              Expect.floatClose { absolute = 1e-3; relative = 0.0 } (fst (mean root [ "observables"; "epsilon_p_L4" ])) 12.0 "ε at k = π/2"
              Expect.isTrue (File.Exists(Path.Combine(dir, "light.html"))) "the plot"
              Directory.Delete(dir, true)
          }

          test "o3-mc at L = 3, g² = 1: the path integral's gap and E₀, extrapolated a_t → 0, agree with exact diagonalisation" {
              // Three time steps at toy statistics (relative error ≈ 1%): the limit must sit within 4σ of ED, which a wrong
              // temporal coupling (the rotor's l = 1 level off by O(a_t)) or a wrong spatial coupling would miss by far more.
              let dir = runInto [ "o3-mc"; "--L"; "3"; "--g2"; "1"; "--sweeps"; "6000"; "--blocks"; "60"; "--thermal"; "100"; "--extent"; "24"; "--heat-bath"; "1" ]
              let root = summary dir
              let gap, gapError = mean root [ "observables"; "gap" ]
              let e0, e0Error = mean root [ "observables"; "E0" ]
              let exact name = fst (mean root [ "exact"; name ])
              Expect.floatClose { absolute = 1e-7; relative = 0.0 } (exact "gap") 0.53365280 "the ED reference of physics.md"
              Expect.isLessThan (abs (gap - exact "gap")) (4.0 * gapError) (sprintf "gap = %g ± %g against %g" gap gapError (exact "gap"))
              Expect.isLessThan (gapError / gap) 0.02 "a gap to better than 2% at toy statistics"
              Expect.isLessThan (abs (e0 - exact "E0")) (4.0 * e0Error) (sprintf "E₀ = %g ± %g against %g" e0 e0Error (exact "E0"))
              let spacings = root.GetProperty("spacings")
              Expect.equal (spacings.GetArrayLength()) 3 "three time steps"
              for s in spacings.EnumerateArray() do
                  // Cluster updates decorrelate the susceptibility within a sweep or two.
                  Expect.isLessThan (s.GetProperty("susceptibility_tau_int").GetProperty("tau_int").GetDouble()) 3.0 "τ_int of χ is O(1) sweeps"
              Expect.equal (root.GetProperty("time_step_extrapolation").GetProperty("gap").GetProperty("central").GetString()) "a_t²" "the a_t² form"
              for file in [ "spacings.csv"; "correlator.csv"; "effective-mass.csv"; "summary.md"; "gap-against-time-step.html"; "effective-mass.html" ] do
                  Expect.isTrue (File.Exists(Path.Combine(dir, file))) file
              Directory.Delete(dir, true)
          }

          test "o3-mc-stepscaling tunes L·m(L)/c to u with c from o3-mc's infinite-volume c², and survives kill -9" {
              let root = newDirectory "hybrid-o3-mc-study"
              // c² of the infinite chain at strong coupling (a box of 8 sites holds ~40 correlation lengths there).
              let light = Path.Combine(root, "light")
              Expect.equal (Hybrid.Scripting.Catalog.main [ "o3-mc"; "--L"; "8"; "--g2"; "4"; "--extent"; "4"; "--spacings"; "0.1,0.075,0.05"; "--sweeps"; "2000"; "--blocks"; "20"; "--thermal"; "50"; "--out"; light ]) 0 "the c² run"
              let studyFrom start points out =
                  [ "o3-mc-stepscaling"; "--sizes"; "3"; "--start"; start; "--light"; light; "--light-order"; "1"; "--sweeps"; "3000"; "--blocks"; "30"
                    "--thermal"; "50"; "--chains"; "1"; "--extent"; "20"; "--points"; points; "--out"; out ]
              let study = studyFrom "0.7"
              // Interrupted: killed as soon as its first gap is stored, then run again on the same points directory.
              let points = Path.Combine(root, "points")
              killWhen (study points (Path.Combine(root, "killed"))) (fun () -> Directory.Exists points && Directory.GetFiles(points, "mc-*.json").Length > 0) |> ignore
              let snapshot () = Directory.GetFiles(points, "mc-*.json") |> Array.map (fun f -> f, File.GetLastWriteTimeUtc f) |> Set.ofArray
              let before = snapshot ()
              Expect.isGreaterThanOrEqual before.Count 1 "a gap was stored before the kill"
              let code, _, err = runScript (study points (Path.Combine(root, "resumed")))
              Expect.equal code 0 (sprintf "the resumed study finishes; stderr:\n%s" err)
              let after = snapshot ()
              Expect.isTrue (Set.isSubset before after) "every gap stored before the kill is reused, none measured again"
              // The same study without interruption gives the same numbers: nothing was lost or measured twice.
              let straight = Path.Combine(root, "straight")
              Expect.equal (Hybrid.Scripting.Catalog.main (study (Path.Combine(root, "points-straight")) straight)) 0 "the uninterrupted study"
              Expect.equal after.Count (Directory.GetFiles(Path.Combine(root, "points-straight"), "mc-*.json").Length) "as many gaps as without the interruption"
              let resumed = summary (Path.Combine(root, "resumed"))
              for name in [ "sigma_L3"; "g2_L3" ] do
                  Expect.equal (fst (mean resumed [ "observables"; name ])) (fst (mean (summary straight) [ "observables"; name ])) (sprintf "%s bit for bit" name)
              // Tuned: the three tuning points bracket u, and c² at the tuned g² comes from the fit through 2/3-ish data.
              let c2 = resumed.GetProperty("light_fit").GetProperty("coefficients")
              Expect.equal (c2.GetArrayLength()) 1 "κ₂ alone"
              Expect.equal (File.ReadAllLines(Path.Combine(root, "resumed", "tuning.csv")).Length) 4 "three tuning points"
              Expect.isTrue (File.Exists(Path.Combine(root, "resumed", "step-scaling.html"))) "the plot"
              // Another process started elsewhere (a replica's start, or a whole study reaching this size from a smaller
              // one) tunes with the stored points: the same root, the same 2L gap, nothing measured.
              let code, out, err = runScript (studyFrom "0.74" points (Path.Combine(root, "elsewhere")))
              Expect.equal code 0 (sprintf "the study from another start finishes; stderr:\n%s" err)
              Expect.stringContains out "3 stored tuning point(s) near u" "the stored tuning is taken"
              Expect.isFalse (out.Contains "[mc a_t") (sprintf "nothing is measured again:\n%s" out)
              Expect.equal (fst (mean (summary (Path.Combine(root, "elsewhere"))) [ "observables"; "sigma_L3" ])) (fst (mean resumed [ "observables"; "sigma_L3" ])) "Σ bit for bit"
              Directory.Delete(root, true)
          }

          test "the next size's tuning starts where the lattice's own running of 1/g² puts it" {
              // One loop while one size is known: 1/g² grows by ln 2/2π per doubling.
              let oneLoop = Hybrid.Scripting.O3.O3McStepScaling.nextStart [ 4, 0.7 ] 8
              Expect.floatClose Accuracy.veryHigh (1.0 / oneLoop) (1.0 / 0.7 + log 2.0 / (2.0 * Math.PI)) "one loop"
              // Two sizes: their measured rate per unit of ln L, here exactly linear in ln L, is continued.
              let line l = 1.0 / (1.2 + 0.2 * log (float l))
              let next = Hybrid.Scripting.O3.O3McStepScaling.nextStart [ 6, line 6; 4, line 4 ] 12
              Expect.floatClose Accuracy.veryHigh next (line 12) "the running of the last two sizes"
          }

          test "the step-scaling plot shows Σ per size against a/L, the model average at a/L = 0, the exact σ and the fits that carry it" {
              // The reference table's five sizes (docs/o3-sigma-model.md), written as the study writes a result: the
              // end-to-end test above has one size, which leaves the continuum part of the plot empty.
              let config = O3McStepScaling.configure (CommandLine.parse O3McStepScaling.options [ "--sizes"; "3,4,6,8,12" ])
              let e (m: float) (s: float) = Hybrid.Analysis.Statistics.Estimate.independent m s 1000
              let table = [ 3, 1.2897, 0.0058; 4, 1.2947, 0.0040; 6, 1.2791, 0.0039; 8, 1.2735, 0.0037; 12, 1.2677, 0.0049 ]
              let sizes =
                  [ for l, s, ds in table ->
                        { Sites = l; Tuning = [ 0.7, e 1.0595 0.002 ]; G2 = e 0.7 0.001; Slope = 1.0; Light = e 0.77 0.001
                          GapDouble = e (s / float (2 * l)) (ds / float (2 * l)); Sigma = e s ds } : O3McStepScalingSize ]
              let continuum = Hybrid.Analysis.O3.StepScaling.extrapolate [ for l, s, ds in table -> l, e s ds ]
              let result = { Config = config; LightFit = None; LightPoints = []; Sizes = sizes; Continuum = Some continuum }
              let dir = newDirectory "hybrid-o3-ss-plot"
              O3McStepScaling.write { Path = dir } result
              let chart = chartOf dir "step-scaling.html"
              Expect.stringContains chart "\"title\":{\"text\":\"a/L\"}" "a/L on the x-axis"
              Expect.stringContains chart "Σ(2, u, a/L)" "Σ on the y-axis"
              Expect.isFalse (chart.Contains "\"type\":\"log\"") "linear axes"
              Expect.stringContains chart "\"name\":\"path integral ± 1σ\"" "the measured Σ"
              Expect.stringContains chart "\"name\":\"continuum, model average ± 1σ\"" "the continuum value"
              Expect.stringContains chart "\"name\":\"exact σ(2, u) (TBA)\"" "the exact value beside it"
              let drawn = continuum.Fits |> List.filter (fun f -> f.Weight >= 0.1)
              Expect.isNonEmpty drawn "some fits carry weight"
              for f in drawn do
                  Expect.stringContains chart (sprintf "fit %s from L = %d" f.Form f.From) "each fit that carries the average is drawn"
              for f in continuum.Fits |> List.filter (fun f -> f.Weight < 0.1) do
                  Expect.isFalse (chart.Contains(sprintf "\"name\":\"fit %s from L = %d (" f.Form f.From)) "fits without weight are left out"
              // Error bars on the measured points: every size's error is in the chart.
              Expect.stringContains chart "\"error_y\"" "error bars"
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

          test "o3-gap resumes from its points: both states reused with their training curves, the same result" {
              // A killed o3-gap continues with --points naming its points/: each finished state is reused, with the
              // curve its zero-variance extrapolation needs, so the result equals the uninterrupted run's.
              let common = [ "o3-gap"; "--L"; "3"; "--g2"; "1.5"; "--chains"; "8"; "--measure"; "10"; "--hidden"; "4"; "--steps"; "100" ]
              let first = runInto common
              let points = Path.Combine(first, "points")
              Expect.equal (Directory.GetFiles(points, "L3-*.json").Length) 2 "both states are kept in points/"
              let again = runInto (common @ [ "--points"; points ])
              let observables dir = (summary dir).GetProperty("observables").ToString()
              Expect.stringContains (observables first) "gap_zero_variance" "the training curves carry E to zero variance"
              Expect.equal (observables again) (observables first) "the same observables, zero-variance ones included"
              Expect.equal (File.ReadAllText(Path.Combine(again, "training-l1.csv"))) (File.ReadAllText(Path.Combine(first, "training-l1.csv"))) "the same training curve"
              Directory.Delete(first, true)
              Directory.Delete(again, true)
          }

          test "o3-vmc's local moves and --moves full train and measure the same state" {
              // Both routes draw the same random numbers and take the same decisions, so the chains, the training and
              // the measurement agree to rounding.
              let common = [ "o3-vmc"; "--L"; "4"; "--g2"; "1.5"; "--chains"; "8"; "--measure"; "10"; "--hidden"; "4"; "--steps"; "6" ]
              let local = runInto common
              let full = runInto (common @ [ "--moves"; "full" ])
              let energy dir = fst (mean (summary dir) [ "observables"; "E" ])
              Expect.floatClose { absolute = 1e-10; relative = 1e-10 } (energy local) (energy full) "the same energy on both routes"
              Directory.Delete(local, true)
              Directory.Delete(full, true)
          }

          test "bad input is refused before any work" {
              refused [ "o3-ed"; "--L"; "1" ] "L 1"
              refused [ "o3-ed"; "--g2"; "0" ] "--g2 0"
              refused [ "o3-ed"; "--lmax"; "0" ] "--lmax 0"
              refused [ "o3-ed"; "--L"; "8"; "--lmax"; "4" ] "would need"
              refused [ "o3-vmc"; "--ansatz"; "rbm" ] "--ansatz rbm"
              refused [ "o3-gap"; "--points"; Path.Combine(Path.GetTempPath(), "hybrid-o3-shared-points"); "--replica"; "0"; "--replicas"; "2" ] "--points cannot be shared"
              refused [ "o3-vmc"; "--state"; "l2" ] "--state l2"
              refused [ "o3-vmc"; "--L"; "4"; "--window"; "6" ] "--window 6"
              refused [ "o3-vmc"; "--hidden"; "16,x" ] "--hidden 16,x"
              refused [ "o3-vmc"; "--ansatz"; "mp"; "--hidden"; "16" ] "--hidden 16"
              refused [ "o3-vmc"; "--ansatz"; "mp"; "--range"; "9" ] "--range 9"
              refused [ "o3-vmc"; "--optimizer"; "lbfgs" ] "--optimizer lbfgs"
              refused [ "o3-vmc"; "--moves"; "sideways" ] "--moves sideways"
              refused [ "o3-gap"; "--g2"; "-1" ] "--g2 -1"
              refused [ "o3-gap"; "--L"; "1" ] "L 1"
              refused [ "o3-gap"; "--device"; "tpu" ] "tpu"
              refused [ "o3-running"; "--sizes"; "4,3" ] "increasing"
              refused [ "o3-running"; "--sizes"; "1,2" ] "'1'"
              refused [ "o3-light"; "--sizes"; "2,4" ] "--sizes 2,4"
              refused [ "o3-light"; "--g2"; "0" ] "--g2 0"
              refused [ "o3-mc"; "--L"; "2" ] "--L 2"
              refused [ "o3-mc"; "--g2"; "0" ] "--g2 0"
              refused [ "o3-mc"; "--g2"; "1e300" ] "--g2 1e+300"
              refused [ "o3-mc"; "--spacings"; "0.2,0.1" ] "at least three"
              refused [ "o3-mc"; "--spacings"; "0.2,x,0.1" ] "'x'"
              refused [ "o3-mc"; "--spacings"; "0.2,0.15,0" ] "'0'"
              refused [ "o3-mc"; "--sweeps"; "150"; "--blocks"; "100" ] "--sweeps 150"
              refused [ "o3-mc"; "--thermal"; "3" ] "--thermal 3"
              refused [ "o3-mc"; "--extent"; "-1" ] "--extent -1"
              refused [ "o3-mc"; "--fit-start"; "9" ] "--fit-start 9"
              refused [ "o3-mc"; "--chains"; "0" ] "--chains 0"
              refused [ "o3-mc"; "--heat-bath"; "-1" ] "--heat-bath -1"
              refused [ "o3-mc"; "--L"; "4096"; "--extent"; "1e5" ] "too large"
              refused [ "o3-mc-stepscaling"; "--sizes"; "4,3" ] "increasing"
              refused [ "o3-mc-stepscaling"; "--sizes"; "2,4" ] "'2'"
              refused [ "o3-mc-stepscaling"; "--light"; "/nonexistent" ] "--light /nonexistent"
              refused [ "o3-mc-stepscaling"; "--spacings"; "0.2" ] "at least three"
              refused [ "o3-stepscaling"; "--u"; "0" ] "--u 0"
              refused [ "o3-stepscaling"; "--start"; "-0.5" ] "--start -0.5"
              refused [ "o3-stepscaling"; "--sizes"; "4"; "--window"; "5" ] "--window 5"
          } ]
