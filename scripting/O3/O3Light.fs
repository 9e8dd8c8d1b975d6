namespace Hybrid.Scripting.O3

open System
open Deedle
open Hybrid.Analysis.Statistics
open Hybrid.Analysis.O3
open Hybrid.Analysis.Reporting
open Hybrid.Runtime
open Hybrid.Scripting.Pipeline

type O3LightResult =
    { Config: SizeScanConfig
      Points: LightPoint list
      Seconds: float }

/// `o3-light`: the speed of light of the Hamiltonian lattice at one bare coupling, from the one-particle dispersion on
/// chains of several lengths. Time is continuous and space discrete, so c(g²) renormalises away from 1; the running
/// coupling is L·m(L)/c. On a chain with m·L of order 1 the dispersion is also distorted by the finite volume, so the
/// infinite-volume c(g²) is what the sizes settle at once m·L ≫ 1.
module O3Light =

    /// c² at strong coupling, from the one-particle band ε(k) = g² − (2/(3g²)) cos k (physics.md §2): ε(p)² − ε(0)² =
    /// (ε(p) − ε(0))(ε(p) + ε(0)) = (2/(3g²))(1 − cos p)·2g² = (2/3)p̂², at every p. The band's next order (g⁻⁶) and
    /// the (2/(3g²))² term both enter c² at O(g⁻⁴).
    let strongCoupling = 2.0 / 3.0

    let options =
        [ CommandLine.option "g2" FloatOption "1" "bare coupling g², 0.01..100"
          CommandLine.option "sizes" TextOption "6,12" "chain lengths L ≥ 3 (the lowest momentum 2π/L must differ from π), increasing, comma-separated"
          O3Points.option
          yield! O3Vmc.options "1500" O3Vmc.sharedPointsReplicas ]

    let configure (o: ParsedOptions) : SizeScanConfig =
        let c = O3Levels.scan o 1
        // "L = 2" is two sites with a single bond (physics.md): no ring, so no dispersion to read.
        if List.head c.Sizes < 3 then raise (UsageError(sprintf "--sizes %s is not allowed: the chains need L ≥ 3" (String.Join(",", c.Sizes))))
        CommandLine.validate (fun () -> AnsatzSpec.build (List.head c.Sizes) 1L (Moving 1) c.Vmc.Ansatz |> ignore)
        c

    let run (c: SizeScanConfig) (dir: RunDirectory) : O3LightResult =
        let clock = Diagnostics.Stopwatch.StartNew()
        let points = c.Points |> Option.defaultValue (dir.File "points") |> Some
        let measured =
            [ for sites in c.Sizes ->
                  let p = O3Levels.dispersion points sites c.G2 c.Vmc
                  printfn "L = %d: m(L) = %s, ε(2π/L) = %s, c² = %s" sites (Estimate.format p.Gap.Gap) (Estimate.format p.Excitation) (Estimate.format p.LightSquared)
                  p ]
        { Config = c; Points = measured; Seconds = clock.Elapsed.TotalSeconds }

    let report (r: O3LightResult) =
        let g2 = r.Config.G2
        let rows =
            Frame.ofRows
                [ for p in r.Points ->
                      let sites = p.Gap.Sites
                      sprintf "L = %d" sites,
                      series [ "m(L)", box (Estimate.format p.Gap.Gap); "m(L)·L", box (Estimate.format p.Gap.Ubar)
                               "ε(2π/L)", box (Estimate.format p.Excitation); "p̂", box (sprintf "%.5f" (2.0 * sin (Math.PI / float sites)))
                               "c²", box (Estimate.format p.LightSquared)
                               "c² (strong coupling)", box (if g2 >= 4.0 then sprintf "%.5f" strongCoupling else "—") ] ]
        String.concat "\n"
            [ sprintf "## The speed of light of the O(3) σ-model at g² = %g\n" g2
              sprintf "Ansatz %s, %d SR steps per state. %.0f s in all.\n" (AnsatzSpec.describeText r.Config.Vmc.Ansatz) r.Config.Vmc.Steps r.Seconds
              Table.toMarkdown rows
              ""
              "c² = (ε(p)² − ε(0)²)/p̂² at the lowest momentum p = 2π/L, p̂ = 2 sin(p/2). The infinite-volume c(g²) is the value the chains settle at once m(L)·L ≫ 1; on shorter chains the finite volume distorts the dispersion as well. The strong-coupling column (g² ≥ 4) is the leading order, 2/3, with corrections of O(g⁻⁴). At strong coupling the SR step must shrink like 1/g² (the imaginary-time step times the level spacing g² must stay below about 1): use --lr 0.01 at g² ≈ 10." ]

    let write (dir: RunDirectory) (r: O3LightResult) =
        let observables =
            [ for p in r.Points -> sprintf "c2_L%d" p.Gap.Sites, p.LightSquared ]
            @ [ for p in r.Points -> sprintf "gap_L%d" p.Gap.Sites, p.Gap.Gap ]
            @ [ for p in r.Points -> sprintf "epsilon_p_L%d" p.Gap.Sites, p.Excitation ]
        Json.write (dir.File "summary.json")
            (Json.object
                [ "experiment", Json.text "o3-light"; "parameters", O3Levels.describeScan r.Config
                  "observables", Study.estimatesJson observables
                  "strong_coupling_c2", (if r.Config.G2 >= 4.0 then Json.number strongCoupling else null)
                  "seconds", Json.number r.Seconds; "runtime", Json.text TorchRuntime.Description ])
        let column f = [| r.Points |> List.map f |> Array.ofList |]
        Measurements.write (dir.File "light.csv")
            (Measurements.ofColumns
                (O3Levels.gapColumns (r.Points |> List.map (fun p -> p.Gap))
                 @ [ "E1p", column (fun p -> p.Moving.Energy.Mean); "E1p_error", column (fun p -> p.Moving.Energy.Error)
                     "c2", column (fun p -> p.LightSquared.Mean); "c2_error", column (fun p -> p.LightSquared.Error) ]))
        AtomicFile.writeText (dir.File "summary.md") (report r)
        Study.writePlot dir "light.html" "Speed of light c² against 1/L" (sprintf "g² = %g" r.Config.G2)
            (Plots.againstCurves "c² from the lowest momentum of each chain" "1/L" "c²"
                [ "VMC", [ for p in r.Points -> 1.0 / float p.Gap.Sites, p.LightSquared ] ]
                [ yield "c = 1", [| 0.0; 1.0 / float (List.head r.Config.Sizes) |], [| 1.0; 1.0 |]
                  if r.Config.G2 >= 4.0 then
                      let xs = r.Config.Sizes |> List.map (fun l -> 1.0 / float l) |> Array.ofList
                      yield "strong coupling", xs, xs |> Array.map (fun _ -> strongCoupling) ])

    let experiment : Experiment<SizeScanConfig, O3LightResult> =
        { Name = "o3-light"
          Description = "the O(3) σ-model's speed of light c² at fixed g² from the one-particle dispersion on chains of several lengths"
          Options = options
          Configure = configure
          Describe = O3Levels.describeScan
          Run = fun c dir -> let r = run c dir in write dir r; r
          Report = report }
