namespace Hybrid.Scripting.O3

open System
open Deedle
open Hybrid.Analysis.Statistics
open Hybrid.Analysis.Reporting
open Hybrid.O3
open Hybrid.Runtime
open Hybrid.Scripting.Pipeline

type O3GapConfig =
    { Sites: int
      G2: float
      Vmc: VmcSettings
      /// The points directory both states are kept in (each beside its training checkpoint); None: points/ in the run
      /// directory.
      Points: string option }

type O3GapResult =
    { Config: O3GapConfig
      Result: GapResult
      Exact: RotorChainConvergence option }

/// `o3-gap`: the ground state and the l = 1 state by VMC, the mass gap m(L) = E₁ − E₀ and ū = L·m(L), against exact
/// diagonalisation where the chain is small enough.
module O3Gap =

    let options =
        [ CommandLine.option "L" IntOption "4" "chain length L ≥ 2"
          CommandLine.option "g2" FloatOption "1" "coupling g², 0.01..100"
          O3Points.option
          yield! O3Vmc.options "1500" O3Vmc.independentReplicas ]

    let configure (o: ParsedOptions) : O3GapConfig =
        let sites = O3Vmc.sites o
        let vmc = O3Vmc.settings o sites
        CommandLine.validate (fun () -> AnsatzSpec.build sites 1L Isovector vmc.Ansatz |> ignore)
        let points = CommandLine.text o "points"
        // A state in a points file is stamped with the root seed, so a replica would reuse another's state: the
        // replicas of o3-gap are independent trainings and keep their states apart.
        if points.IsSome && vmc.Replica.IsSome then
            raise (UsageError "--points cannot be shared by replicas of o3-gap (each replica trains its own states); leave --points out, each run then keeps its states in its own run directory")
        O3Points.check points vmc
        { Sites = sites; G2 = O3Vmc.coupling o; Vmc = vmc; Points = points |> Option.map IO.Path.GetFullPath }

    let describe (c: O3GapConfig) =
        Json.object
            ([ "L", Json.integer (int64 c.Sites); "g2", Json.number c.G2
               "points", (match c.Points with Some p -> Json.text p | None -> null) ] @ O3Vmc.describeRun c.Vmc)

    /// Both states trained in (or reused from) the points directory: a run killed at any moment resumes with
    /// `--points` naming the earlier run's points/ (a finished state is reused, an interrupted one continues from its
    /// checkpoint).
    let run (c: O3GapConfig) (dir: RunDirectory) : O3GapResult =
        let exact = O3Reference.reference c.Sites c.G2 O3Reference.memoryLimit
        let points = c.Points |> Option.defaultValue (dir.File "points") |> Some
        { Config = c; Result = O3Levels.gap points c.Sites c.G2 c.Vmc; Exact = exact }

    /// The comparison table, VMC against ED: one row per quantity.
    let table (r: GapResult) (exact: RotorChainConvergence option) =
        // The σ-distance counts the truncation shift beside the VMC error; an unconverged level is marked.
        let row name (e: Estimate) (exactValue: (float * float) option) =
            name,
            series
                [ "VMC", box (Estimate.format e)
                  "exact (ED)", box (exactValue |> Option.map (fun (x, shift) -> sprintf "%.8f%s" x (if O3Reference.isConverged shift e.Error then "" else sprintf " (NOT converged: shift %.1e)" (abs shift))) |> Option.defaultValue "—")
                  "VMC − exact", box (exactValue |> Option.map (fun (x, shift) -> sprintf "%+.2e (%.3gσ)" (e.Mean - x) (O3Reference.sigmaDistance e x shift)) |> Option.defaultValue "—")
                  "relative", box (exactValue |> Option.map (fun (x, _) -> sprintf "%+.1e" ((e.Mean - x) / abs x)) |> Option.defaultValue "—") ]
        let levels = exact |> Option.map (fun e -> e.Levels, e)
        let e0 = levels |> Option.map (fun (l, c) -> l.GroundEnergy, c.GroundShift)
        let e1 = levels |> Option.map (fun (l, c) -> l.ExcitedEnergy, l.ExcitedEnergy - c.Coarser.ExcitedEnergy)
        let gap = levels |> Option.map (fun (l, c) -> l.Gap, c.GapShift)
        Frame.ofRows
            [ yield row "E₀" r.Ground.Energy e0
              yield row "E₁ (l = 1)" r.Excited.Energy e1
              yield row "m(L) = E₁ − E₀" r.Gap gap
              yield row "ū = L·m(L)" r.Ubar (levels |> Option.map (fun (l, c) -> float r.Sites * l.Gap, float r.Sites * c.GapShift))
              match O3Levels.zeroVariance r with
              | Some(z0, z1, zGap) ->
                  yield row "E₀, σ² → 0" z0.Energy e0
                  yield row "E₁, σ² → 0" z1.Energy e1
                  yield row "m(L), σ² → 0" zGap gap
              | None -> () ]

    let report (r: O3GapResult) =
        let g = r.Result
        String.concat "\n"
            [ yield sprintf "## The mass gap of the O(3) rotor chain by VMC, L = %d, g² = %g\n" g.Sites g.G2
              yield sprintf "Ansatz %s; %d SR steps per state. Ground: variance %.2e, %d parameters, %.1f s. l = 1: variance %.2e (beyond 5σ: %.1e, largest %.1fσ — heavy tails at the nodes), %.1f s.\n"
                        (AnsatzSpec.describeText r.Config.Vmc.Ansatz) r.Config.Vmc.Steps g.Ground.Variance g.Ground.Parameters (g.Ground.TrainSeconds + g.Ground.MeasureSeconds)
                        g.Excited.Variance g.Excited.TailFraction g.Excited.MaxDeviation (g.Excited.TrainSeconds + g.Excited.MeasureSeconds)
              yield Table.toMarkdown (table g r.Exact)
              match O3Levels.zeroVariance g with
              | Some(z0, z1, _) ->
                  let line name (z: Hybrid.Analysis.O3.ZeroVarianceEnergy) (s: StateResult) =
                      sprintf "%s: dE/dσ² = %s over σ² = %.2e … %.2e of the late training (χ²/dof %.2f), applied to the measured σ² = %.2e."
                          name (Estimate.format z.Slope) z.VarianceFrom z.VarianceTo z.ChiSquaredPerDof s.Variance
                  yield "\nZero-variance extrapolation, E = E* + (dE/dσ²)·σ² (the last half of each training in 10 blocks):"
                  yield "- " + line "ground" z0 g.Ground
                  yield "- " + line "l = 1" z1 g.Excited
              | None -> yield "\nNo zero-variance extrapolation: a training curve is missing or its variance no longer moves."
              match r.Exact with
              | Some e -> yield sprintf "\nExact diagonalisation at l_max = %d (truncation shifts: E₀ %.1e, gap %.1e). Targets: E₀ within 2·10⁻⁴ relative, the gap within 0.5%%." e.Levels.LMax (abs e.GroundShift) (abs e.GapShift)
              | None -> yield "\nNo exact diagonalisation at this L (it would not fit the memory budget): VMC alone."
              for w in g.Ground.Warnings @ g.Excited.Warnings do
                  yield sprintf "\n**WARNING**: %s." w ]

    let observables (g: GapResult) =
        [ yield! [ "E0", g.Ground.Energy; "E1", g.Excited.Energy; "gap", g.Gap; "ubar", g.Ubar ]
          match O3Levels.zeroVariance g with
          | Some(z0, z1, zGap) -> yield! [ "E0_zero_variance", z0.Energy; "E1_zero_variance", z1.Energy; "gap_zero_variance", zGap ]
          | None -> () ]

    let write (dir: RunDirectory) (r: O3GapResult) =
        Json.write (dir.File "summary.json")
            (Json.object
                [ "experiment", Json.text "o3-gap"; "parameters", describe r.Config
                  "observables", Study.estimatesJson (observables r.Result)
                  "states", Json.object [ "ground", O3Vmc.stateJson r.Result.Ground; "l1", O3Vmc.stateJson r.Result.Excited ]
                  "exact", (match r.Exact with Some e -> O3Reference.referenceJson e | None -> null)
                  "runtime", Json.text TorchRuntime.Description ])
        O3Vmc.writeCurve dir r.Result.Ground
        O3Vmc.writeCurve dir r.Result.Excited
        AtomicFile.writeText (dir.File "summary.md") (report r)
        let exactMap =
            match r.Exact with
            | Some e -> Map.ofList [ "E0", e.Levels.GroundEnergy; "E1", e.Levels.ExcitedEnergy; "gap", e.Levels.Gap ]
            | None -> Map.empty
        // Relative deviations: E₀, E₁ and the gap differ from exact by parts in 10⁵–10³, which one energy axis hides.
        if not exactMap.IsEmpty then
            Study.writePlot dir "gap.html" "VMC − exact diagonalisation, relative" (sprintf "L = %d, g² = %g" r.Config.Sites r.Config.G2)
                (Plots.relativeDeviation "(VMC − exact) / |exact|" [ "E0", r.Result.Ground.Energy; "E1", r.Result.Excited.Energy; "gap", r.Result.Gap ] exactMap)
        Study.writePlot dir "training.html" "VMC training of both states" (sprintf "L = %d, g² = %g" r.Config.Sites r.Config.G2)
            (Plots.historyAgainst "optimiser step" [ "E0", r.Result.Ground.Curve |> Array.map (fun (e, _, _) -> e); "E1", r.Result.Excited.Curve |> Array.map (fun (e, _, _) -> e) ])

    let experiment : Experiment<O3GapConfig, O3GapResult> =
        { Name = "o3-gap"
          Description = "the O(3) rotor chain's mass gap m(L) = E₁ − E₀ by VMC of both states, against exact diagonalisation"
          Options = options
          Configure = configure
          Describe = describe
          Run = fun c dir -> let r = run c dir in write dir r; r
          Report = report }
