namespace Hybrid.Scripting.O3

open System
open Deedle
open Hybrid.Analysis.Statistics
open Hybrid.Analysis.Reporting
open Hybrid.Analysis.O3
open Hybrid.O3
open Hybrid.Runtime
open Hybrid.Scripting.Pipeline

type RunningPoint =
    { Gap: GapResult
      /// Exact diagonalisation's L·m(L) where it fits, with L times its truncation shift |m(l_max) − m(l_max − 1)|,
      /// and l_max.
      Exact: (float * float * int) option
      /// Two-loop running from the smallest size's measured ū.
      Perturbative: float }

type O3RunningResult =
    { Config: SizeScanConfig
      Points: RunningPoint list
      Seconds: float }

/// `o3-running`: the running coupling ū(L) = L·m(L) against L at fixed bare coupling g² — asymptotic freedom (ū small
/// at small L, growing with L) and dynamical mass generation (m(L) tends to a finite mass, so L·m(L) grows linearly) —
/// beside the two-loop running from the smallest size.
module O3Running =

    let options =
        [ CommandLine.option "g2" FloatOption "1" "bare coupling g², 0.01..100"
          CommandLine.option "sizes" TextOption "3,4,6,8,12,16" "chain lengths L, increasing, comma-separated"
          O3Points.option
          yield! O3Vmc.options "1500" O3Vmc.sharedPointsReplicas ]

    let run (c: SizeScanConfig) (dir: RunDirectory) : O3RunningResult =
        let clock = Diagnostics.Stopwatch.StartNew()
        let points = c.Points |> Option.defaultValue (dir.File "points") |> Some
        let gaps = c.Sizes |> List.map (fun l -> O3Levels.gap points l c.G2 c.Vmc)
        let first = List.head gaps
        let u0, l0 = first.Ubar.Mean, float first.Sites
        { Config = c
          Points =
            [ for g in gaps ->
                  { Gap = g
                    Exact = O3Reference.reference g.Sites c.G2 O3Reference.memoryLimit |> Option.map (fun e -> float g.Sites * e.Levels.Gap, float g.Sites * e.GapShift, e.Levels.LMax)
                    Perturbative = StepScaling.running u0 l0 (float g.Sites) } ]
          Seconds = clock.Elapsed.TotalSeconds }

    /// An ED ū is an exact reference when its truncation shift is below VMC's error and below 1% of ū (a VMC run too
    /// short to resolve it does not make a truncation exact).
    let private isReference (p: RunningPoint) =
        match p.Exact with
        | Some(x, shift, _) -> O3Reference.isConverged shift p.Gap.Ubar.Error && abs shift <= 0.01 * abs x
        | None -> false

    /// Each ED ū that is no exact reference, named.
    let warnings (r: O3RunningResult) =
        [ for p in r.Points do
              match p.Exact with
              | Some(x, shift, lMax) when not (isReference p) ->
                  if not (O3Reference.isConverged shift p.Gap.Ubar.Error) then
                      yield sprintf "L = %d: %s" p.Gap.Sites (O3Reference.referenceWarning "ū" lMax shift p.Gap.Ubar.Error)
                  else
                      yield sprintf "L = %d: the exact-diagonalisation ū at l_max = %d is not converged: its truncation shift %.3g is %.1f%% of ū, so it is no exact reference (weak coupling needs a larger l_max: o3-ed --lmax)" p.Gap.Sites lMax (abs shift) (100.0 * abs shift / abs x)
              | _ -> ()
          for p in r.Points do yield! p.Gap.Ground.Warnings @ p.Gap.Excited.Warnings ]

    let report (r: O3RunningResult) =
        let rows =
            Frame.ofRows
                [ for p in r.Points ->
                      sprintf "L = %d" p.Gap.Sites,
                      series [ "m(L)", box (Estimate.format p.Gap.Gap); "ū = L·m(L)", box (Estimate.format p.Gap.Ubar)
                               "ū (ED)", box (p.Exact |> Option.map (fun (x, shift, _) -> sprintf "%.6f%s" x (if isReference p then "" else sprintf " (NOT converged: shift %.1e)" (abs shift))) |> Option.defaultValue "—")
                               "ū (2-loop from the smallest L)", box (sprintf "%.4f" p.Perturbative)
                               "VMC s", box (sprintf "%.0f" (p.Gap.Ground.TrainSeconds + p.Gap.Ground.MeasureSeconds + p.Gap.Excited.TrainSeconds + p.Gap.Excited.MeasureSeconds)) ] ]
        String.concat "\n"
            [ sprintf "## The running coupling of the O(3) σ-model at g² = %g\n" r.Config.G2
              sprintf "Ansatz %s, %d SR steps per state; ū = L·m(L) with the speed of light set to 1. %.0f s in all.\n"
                  (AnsatzSpec.describeText r.Config.Vmc.Ansatz) r.Config.Vmc.Steps r.Seconds
              Table.toMarkdown rows
              ""
              "Asymptotic freedom: ū grows with L at fixed bare coupling; dynamical mass generation: once L ≫ ξ, m(L) settles at the infinite-volume mass and ū = L·m grows linearly. The two-loop curve starts at the smallest size's value."
              for w in warnings r do
                  sprintf "\n**WARNING**: %s." w ]

    let write (dir: RunDirectory) (r: O3RunningResult) =
        let observables = [ for p in r.Points -> sprintf "ubar_L%d" p.Gap.Sites, p.Gap.Ubar ] @ [ for p in r.Points -> sprintf "gap_L%d" p.Gap.Sites, p.Gap.Gap ]
        Json.write (dir.File "summary.json")
            (Json.object
                [ "experiment", Json.text "o3-running"; "parameters", O3Levels.describeScan r.Config
                  "observables", Study.estimatesJson observables
                  "exact", Json.object [ for p in r.Points do match p.Exact with Some(e, _, _) -> yield sprintf "ubar_L%d" p.Gap.Sites, Json.number e | None -> () ]
                  "exact_truncation_shift", Json.object [ for p in r.Points do match p.Exact with Some(_, shift, _) -> yield sprintf "ubar_L%d" p.Gap.Sites, Json.number (abs shift) | None -> () ]
                  "warnings", Json.array (warnings r |> List.map Json.text)
                  "perturbative", Json.object [ for p in r.Points -> sprintf "ubar_L%d" p.Gap.Sites, Json.number p.Perturbative ]
                  "seconds", Json.number r.Seconds; "runtime", Json.text TorchRuntime.Description ])
        let column f = [| r.Points |> List.map f |> Array.ofList |]
        Measurements.write (dir.File "running.csv")
            (Measurements.ofColumns
                (O3Levels.gapColumns (r.Points |> List.map (fun p -> p.Gap))
                 @ [ "ubar", column (fun p -> p.Gap.Ubar.Mean); "ubar_error", column (fun p -> p.Gap.Ubar.Error); "ubar_two_loop", column (fun p -> p.Perturbative) ]))
        AtomicFile.writeText (dir.File "summary.md") (report r)
        let xs = r.Points |> List.map (fun p -> float p.Gap.Sites)
        let grid = [| for k in 0 .. 40 -> List.head xs + (List.last xs - List.head xs) * float k / 40.0 |]
        let u0, l0 = (List.head r.Points).Gap.Ubar.Mean, List.head xs
        Study.writePlot dir "running.html" "Running coupling ū(L) = L·m(L)" (sprintf "g² = %g" r.Config.G2)
            (Plots.againstCurves "ū(L) at fixed bare coupling" "L" "ū = L·m(L)"
                [ "VMC", [ for p in r.Points -> float p.Gap.Sites, p.Gap.Ubar ]
                  "ED (error: truncation shift)", [ for p in r.Points do match p.Exact with Some(e, shift, _) -> yield float p.Gap.Sites, Estimate.independent e (abs shift) 1 | None -> () ] ]
                [ "two-loop running", grid, grid |> Array.map (StepScaling.running u0 l0) ])

    let experiment : Experiment<SizeScanConfig, O3RunningResult> =
        { Name = "o3-running"
          Description = "the O(3) σ-model's running coupling ū(L) = L·m(L) at fixed g²: asymptotic freedom and mass generation"
          Options = options
          Configure = fun o -> O3Levels.scan o 2
          Describe = O3Levels.describeScan
          Run = fun c dir -> let r = run c dir in write dir r; r
          Report = report }
