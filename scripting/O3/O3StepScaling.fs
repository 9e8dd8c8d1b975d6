namespace Hybrid.Scripting.O3

open System
open Deedle
open Hybrid.Analysis.Statistics
open Hybrid.Analysis.Reporting
open Hybrid.Analysis.O3
open Hybrid.Runtime
open Hybrid.Scripting.Pipeline

type O3StepScalingConfig =
    { U: float
      Sizes: int list
      /// Gap measurements at L used to tune g² (≥ 2).
      TunePoints: int
      /// Measure the speed of light c on the 2L chain (one more state per size).
      Light: bool
      Vmc: VmcSettings
      Points: string option
      /// The coupling the first size's tuning starts from (the later sizes start from the previous size's g²).
      Start: float }

/// Σ in units where the speed of light is 1: the running coupling ū = L·m(L)/c tuned to u.
type LightCorrection =
    { /// g² at which L·m(L) = u·c.
      G2: Estimate
      /// 2L·m(2L)/c at that g².
      Sigma: Estimate
      /// d ln ū(2L)/d ln ū(L) of the lattice, from the two couplings the 2L chain was measured at (None when c ≈ 1
      /// makes them one).
      Sensitivity: Estimate option }

/// One size of the step-scaling study.
type StepPoint =
    { Sites: int
      /// The (g², ū(L)) measurements that tuned the coupling.
      Tuning: (float * Estimate) list
      /// g² at which ū(L) = u, with the error of the tuning.
      G2: Estimate
      /// d ln ū / d ln g² at L.
      LogSlope: float
      /// The gap on the doubled chain at g².
      Doubled: GapResult
      /// Σ(2, u, a/L) = 2L·m(2L), its error from m(2L) and from g² in quadrature.
      Sigma: Estimate
      /// c² from the one-particle dispersion on the 2L chain (None with --no-light).
      LightSquared: Estimate option
      /// Σ in units where c = 1 (None with --no-light).
      Light: LightCorrection option
      /// Σ from exact diagonalisation (g² tuned on exact gaps) where both chains are small enough.
      Exact: float option }

type O3StepScalingResult =
    { Config: O3StepScalingConfig
      Points: StepPoint list
      Continuum: ContinuumLimit option
      /// The continuum limit of the c-corrected Σ.
      ContinuumLight: ContinuumLimit option
      Seconds: float }

/// `o3-stepscaling`: the lattice step-scaling function Σ(2, u, a/L) of the O(3) σ-model from VMC, and its continuum
/// limit. For each L, g² is tuned so that ū(L) = L·m(L) = u (a weighted parabola in ln g² through a few noisy gap
/// measurements, solved for u, its error propagated), then ū(2L) at that g² is Σ; fits in a/L, (a/L)² and the
/// log-enhanced (a/L)²|ln(a/L)|³, over all sizes and without the smallest, give σ(2, u), their spread the systematic
/// error. With the speed of light c measured on the 2L chain, g² is tuned again to ū = L·m(L)/c = u and Σ reported in
/// units where c = 1 as well. Every state is kept in the points directory, so the study resumes after an interruption
/// and its sizes can run as separate replicas.
module O3StepScaling =

    /// The exact continuum value at the standard point (Balog–Hegedűs TBA; Balog, Niedermayer, Weisz).
    let exactAt (u: float) = StepScaling.continuumAt u

    /// r = d ln σ/d ln u at u from two-loop perturbation theory: how ū(2L) follows ū(L) when g² moves (the study
    /// measures ū(2L) at the tuned couplings only).
    let sensitivity (u: float) = StepScaling.logDerivative 2 2.0 u

    let options =
        [ CommandLine.option "u" FloatOption "1.0595" "target running coupling u = ū(L) > 0"
          CommandLine.option "sizes" TextOption "4,6,8,12,16" "chain lengths L (each is doubled), increasing, comma-separated"
          CommandLine.option "tune-points" IntOption "3" "gap measurements per size to tune g² (≥ 2)"
          CommandLine.optional "no-light" FlagOption "skip the speed of light (three more states per size) and Σ in units where c = 1"
          CommandLine.optional "start" FloatOption "g² the first size's tuning starts from (default 0.8·u; each later size starts from the previous size's g², printed as 'next start' once it is tuned): a size run alone in another process, given that value, measures the points the whole study would (exactly so without --replica)"
          O3Points.option
          yield! O3Vmc.options "1500" O3Vmc.sharedPointsReplicas ]

    let configure (o: ParsedOptions) : O3StepScalingConfig =
        let u = CommandLine.positive o "u"
        let sizes = O3Levels.sizes o 1
        let vmc = O3Vmc.settings o (List.head sizes)
        let points = CommandLine.text o "points"
        O3Points.check points vmc
        let start = if CommandLine.has o "start" then CommandLine.positive o "start" else 0.8 * u
        let lo, hi = O3Vmc.couplingRange
        if start < lo || start > hi then
            let given = if CommandLine.has o "start" then sprintf "--start %g" start else sprintf "--u %g (the tuning starts at g² = 0.8·u = %g)" u start
            raise (UsageError(sprintf "%s is not allowed: the tuning's first g² must lie in %g..%g, where the O(3) code works; give a smaller --u or a --start in that range" given lo hi))
        { U = u; Sizes = sizes; TunePoints = CommandLine.intIn o "tune-points" 2L 20L |> CommandLine.required "tune-points" |> int
          Light = not (CommandLine.switch o "no-light"); Vmc = vmc; Points = points |> Option.map IO.Path.GetFullPath; Start = start }

    let describe (c: O3StepScalingConfig) =
        Json.object
            ([ "u", Json.number c.U; "sizes", Json.numbers (c.Sizes |> List.map float); "tune_points", Json.integer (int64 c.TunePoints)
               "light", System.Text.Json.Nodes.JsonValue.Create c.Light; "points", (match c.Points with Some p -> Json.text p | None -> null)
               "start", Json.number c.Start ]
             @ O3Vmc.describeRun c.Vmc)

    // g² values as cache keys: six significant digits, so a resumed study asks for the same points.
    let private round6 (x: float) = Double.Parse(x.ToString("G6", Globalization.CultureInfo.InvariantCulture), Globalization.CultureInfo.InvariantCulture)

    /// Σ(2, u, a/L) from exact diagonalisation alone, where L and 2L both fit a small memory budget at l_max ≥ 5 (converged
    /// to about 10⁻⁷ at these couplings): g² solved by the secant method on L·m(L) − u, then 2L·m(2L) there. The oracle of
    /// the VMC pipeline at the smallest size, L = 2.
    let exactSigma (u: float) (sites: int) : float option =
        let limit = 64L <<< 20
        // Only a truncation that has converged is an oracle: at L = 6, l_max = 2 and 3 still differ by 4% in Σ.
        match O3Reference.referenceLMax sites limit, O3Reference.referenceLMax (2 * sites) limit with
        | Some l1, Some l2 when l1 >= 5 && l2 >= 5 ->
            let f g2 = float sites * O3Reference.solving(fun () -> Hybrid.O3.RotorChainSpectrum.Solve(sites, g2, l1)).Gap - u
            let mutable a, b = 0.5 * u, u
            let mutable fa, fb = f a, f b
            let mutable iterations = 0
            while abs fb > 1e-10 && iterations < 40 do
                let next = b - fb * (b - a) / (fb - fa)
                a <- b; fa <- fb
                b <- max (0.05 * u) next; fb <- f b
                iterations <- iterations + 1
            Some(float (2 * sites) * O3Reference.solving(fun () -> Hybrid.O3.RotorChainSpectrum.Solve(2 * sites, b, l2)).Gap)
        | _ -> None

    let private measureSize (c: O3StepScalingConfig) (points: string option) (start: float) (sites: int) : StepPoint =
        let target = c.U
        let at (g2: float) = let g2 = round6 g2 in g2, (O3Levels.gap points sites g2 c.Vmc).Ubar
        // Two starting points, then each next one at the root predicted by all so far.
        let mutable tuning = [ at (0.85 * start); at start ]
        while tuning.Length < c.TunePoints do
            let guess, _ = StepScaling.tuneCoupling target tuning
            let next = min (max guess.Mean (0.25 * start)) (4.0 * start)
            tuning <- tuning @ [ at next ]
        // A root from the (up to three) measurements nearest it: the parabola is a local description.
        let tuneTo (u: float) = StepScaling.tuneCoupling u (tuning |> List.sortBy (fun (_, e) -> abs (log e.Mean - log u)) |> List.truncate 3)
        let g2, slope = tuneTo target
        // Round-trip digits: a replica of the next size given this as --start asks for the very same points.
        printfn "L = %d tuned: next start %s" sites (g2.Mean.ToString("R", Globalization.CultureInfo.InvariantCulture))
        let g2Point = round6 g2.Mean
        let doubled = O3Levels.gap points (2 * sites) g2Point c.Vmc
        let u2 = doubled.Ubar
        // The tuning error carried into Σ: d ln ū(2L)/d ln g² = r · d ln ū(L)/d ln g², r from perturbation theory (the
        // lattice's own r is measured only with the speed of light, and then often to ±50%).
        let r = sensitivity c.U
        let fromTuning (u2: Estimate) (g2: Estimate) = u2.Mean * r * slope * g2.Error / g2.Mean
        let sigma = Estimate.independent u2.Mean (sqrt (u2.Error ** 2.0 + fromTuning u2 g2 ** 2.0)) u2.Samples
        let light =
            if not c.Light then None
            else
                let moving = O3Points.state points (2 * sites) g2Point (Moving 1) c.Vmc
                Some(SpeedOfLight.finiteVolume (2 * sites) doubled.Ground.Energy doubled.Excited.Energy moving.Energy)
        // In units where c = 1 the running coupling is ū = L·m(L)/c: tune again, to L·m(L) = u·c on the same
        // measurements at L, and measure the 2L chain there (c taken from g²*, a few per cent away). A c² ≤ 0 (a
        // dispersion swamped by noise) gives no corrected Σ rather than a wrong one.
        let corrected =
            light
            |> Option.filter (fun c2 -> c2.Mean > 0.0)
            |> Option.map (fun c2 ->
                let light = sqrt c2.Mean
                let relativeC = c2.Error / (2.0 * c2.Mean)
                let g2C, _ = tuneTo (target * light)
                let u2C = (O3Levels.gap points (2 * sites) (round6 g2C.Mean) c.Vmc).Ubar
                // c enters twice, in the target and in the division: d ln Σ_c/d ln c = r − 1.
                let sigmaC =
                    Estimate.independent (u2C.Mean / light)
                        (sqrt (u2C.Error ** 2.0 + fromTuning u2C g2C ** 2.0 + ((r - 1.0) * relativeC * u2C.Mean) ** 2.0) / light) u2C.Samples
                // The lattice's d ln ū(2L)/d ln ū(L) between the two couplings, where ln ū(L) moved by ln c; none when
                // c is so close to 1 that the two couplings are one.
                let lnC = log light
                let measured =
                    if abs lnC < 1e-3 then None
                    else
                        Some(Estimate.independent ((log u2.Mean - log u2C.Mean) / -lnC)
                                 (sqrt ((u2.Error / u2.Mean) ** 2.0 + (u2C.Error / u2C.Mean) ** 2.0) / abs lnC) u2.Samples)
                { G2 = g2C; Sigma = sigmaC; Sensitivity = measured })
        { Sites = sites; Tuning = tuning; G2 = g2; LogSlope = slope; Doubled = doubled; Sigma = sigma; LightSquared = light; Light = corrected
          Exact = exactSigma c.U sites }

    let run (c: O3StepScalingConfig) (dir: RunDirectory) : O3StepScalingResult =
        let clock = Diagnostics.Stopwatch.StartNew()
        let points = c.Points |> Option.defaultValue (dir.File "points") |> Some
        // The first guess (by default 0.8·u: at weak coupling ū ≈ g²); then each size starts from the last size's g²
        // (it decreases with L).
        let results =
            c.Sizes
            |> List.fold (fun (acc: StepPoint list, start) sites ->
                let p = measureSize c points start sites
                printfn "L = %d: g² = %s gives ū = %g; Σ(2, u, 1/%d) = %s%s" sites (Estimate.format p.G2) c.U sites (Estimate.format p.Sigma)
                    (match p.Light with Some l -> sprintf "; in units where c = 1, %s (g² = %s)" (Estimate.format l.Sigma) (Estimate.format l.G2) | None -> "")
                acc @ [ p ], p.G2.Mean) ([], c.Start)
            |> fst
        let extrapolate (pick: StepPoint -> Estimate option) =
            let pts = results |> List.choose (fun p -> pick p |> Option.map (fun e -> p.Sites, e))
            if pts.Length >= 2 then Some(StepScaling.extrapolate pts) else None
        { Config = c; Points = results; Continuum = extrapolate (fun p -> Some p.Sigma); ContinuumLight = extrapolate (fun p -> p.Light |> Option.map (fun l -> l.Sigma))
          Seconds = clock.Elapsed.TotalSeconds }

    let private fitsTable (limit: ContinuumLimit) =
        Frame.ofRows
            [ for f in limit.Fits ->
                  sprintf "%s, L ≥ %d" f.Form f.From, series [ "σ(2, u)", box (Estimate.format f.Sigma); "slope", box (sprintf "%.4g" f.Slope); "χ²/dof", box (sprintf "%.2f" f.ChiSquaredPerDof) ] ]

    let report (r: O3StepScalingResult) =
        let c = r.Config
        let rows =
            Frame.ofRows
                [ for p in r.Points ->
                      sprintf "L = %d" p.Sites,
                      series [ "g²", box (Estimate.format p.G2); "d ln ū/d ln g²", box (sprintf "%.3f" p.LogSlope)
                               "Σ(2, u, a/L)", box (Estimate.format p.Sigma)
                               "Σ (ED)", box (p.Exact |> Option.map (sprintf "%.6f") |> Option.defaultValue "—")
                               "c² (2L chain, finite volume)", box (p.LightSquared |> Option.map Estimate.format |> Option.defaultValue "—")
                               "g² (ū = L·m/c)", box (p.Light |> Option.map (fun l -> Estimate.format l.G2) |> Option.defaultValue "—")
                               "Σ, c corrected", box (p.Light |> Option.map (fun l -> Estimate.format l.Sigma) |> Option.defaultValue "—")
                               "r", box (p.Light |> Option.bind (fun l -> l.Sensitivity) |> Option.map Estimate.format |> Option.defaultValue "—") ] ]
        let pt = StepScaling.perturbative 2.0 c.U
        String.concat "\n"
            [ yield sprintf "## Step scaling of the O(3) σ-model at u = %g\n" c.U
              yield sprintf "Ansatz %s, %d SR steps per state, %d tuning points per size. %.0f s in all.\n" (AnsatzSpec.describeText c.Vmc.Ansatz) c.Vmc.Steps c.TunePoints r.Seconds
              yield Table.toMarkdown rows
              yield ""
              match r.Continuum with
              | Some limit ->
                  yield "Continuum extrapolations of Σ (speed of light not corrected):\n"
                  yield Table.toMarkdown (fitsTable limit)
                  yield sprintf "\nσ(2, %g) = %s (statistical %.2g, systematic from the forms and ranges %.2g)." c.U (Estimate.format limit.Combined) limit.Central.Error limit.Systematic
              | None -> yield "One size only: no continuum extrapolation."
              match r.ContinuumLight with
              | Some limit ->
                  yield sprintf "\nIn units where c = 1 (ū = L·m(L)/c tuned to u, c from each 2L chain), over L = %s:\n"
                            (r.Points |> List.filter (fun p -> p.Light.IsSome) |> List.map (fun p -> string p.Sites) |> String.concat ", ")
                  yield Table.toMarkdown (fitsTable limit)
                  yield sprintf "\nσ(2, %g) = %s in units where c = 1." c.U (Estimate.format limit.Combined)
              | None -> ()
              yield sprintf "Two-loop perturbation theory: %.5f%s." pt (match exactAt c.U with Some e -> sprintf "; exact (TBA): %.6f" e | None -> "") ]

    let write (dir: RunDirectory) (r: O3StepScalingResult) =
        let perSize = [ for p in r.Points -> sprintf "sigma_L%d" p.Sites, p.Sigma ] @ [ for p in r.Points -> sprintf "g2_L%d" p.Sites, p.G2 ]
        let continuum = r.Continuum |> Option.map (fun l -> "sigma_continuum", l.Combined) |> Option.toList
        let continuumC = r.ContinuumLight |> Option.map (fun l -> "sigma_continuum_light", l.Combined) |> Option.toList
        let perSizeLight =
            [ for p in r.Points do
                  match p.Light with
                  | Some l ->
                      yield! [ sprintf "sigma_light_L%d" p.Sites, l.Sigma; sprintf "g2_light_L%d" p.Sites, l.G2 ]
                      match l.Sensitivity with Some r -> yield sprintf "r_L%d" p.Sites, r | None -> ()
                  | None -> () ]
        let fitsJson (l: ContinuumLimit) =
            Json.array [ for f in l.Fits -> Json.object [ "form", Json.text f.Form; "from_L", Json.integer (int64 f.From); "sigma", Study.estimateJson f.Sigma; "slope", Json.number f.Slope; "chi2_per_dof", Json.number f.ChiSquaredPerDof ] ]
        Json.write (dir.File "summary.json")
            (Json.object
                [ "experiment", Json.text "o3-stepscaling"; "parameters", describe r.Config
                  "observables", Study.estimatesJson (continuum @ continuumC @ perSize @ perSizeLight)
                  "fits", (match r.Continuum with Some l -> fitsJson l | None -> null)
                  "fits_light", (match r.ContinuumLight with Some l -> fitsJson l | None -> null)
                  "r_perturbative", Json.number (sensitivity r.Config.U)
                  "systematic", (match r.Continuum with Some l -> Json.number l.Systematic | None -> null)
                  "exact_sigma", Json.object [ for p in r.Points do match p.Exact with Some e -> yield sprintf "sigma_L%d" p.Sites, Json.number e | None -> () ]
                  "light_squared", Json.object [ for p in r.Points do match p.LightSquared with Some c2 -> yield sprintf "L%d" (2 * p.Sites), Study.estimateJson c2 | None -> () ]
                  "perturbative", Json.number (StepScaling.perturbative 2.0 r.Config.U)
                  "exact", (match exactAt r.Config.U with Some e -> Json.number e | None -> null)
                  "seconds", Json.number r.Seconds; "runtime", Json.text TorchRuntime.Description ])
        let column f = [| r.Points |> List.map f |> Array.ofList |]
        Measurements.write (dir.File "stepscaling.csv")
            (Measurements.ofColumns
                [ "L", column (fun p -> float p.Sites); "g2", column (fun p -> p.G2.Mean); "g2_error", column (fun p -> p.G2.Error)
                  "sigma", column (fun p -> p.Sigma.Mean); "sigma_error", column (fun p -> p.Sigma.Error)
                  "c2", column (fun p -> p.LightSquared |> Option.map (fun e -> e.Mean) |> Option.defaultValue nan)
                  "c2_error", column (fun p -> p.LightSquared |> Option.map (fun e -> e.Error) |> Option.defaultValue nan) ])
        AtomicFile.writeText (dir.File "summary.md") (report r)
        let grid = [| for k in 0 .. 50 -> 1e-3 + (1.0 / float (List.head r.Config.Sizes)) * float k / 50.0 |]
        let curves =
            [ match r.Continuum with
              | Some l -> for f in l.Fits -> sprintf "fit %s, L ≥ %d" f.Form f.From, grid, grid |> Array.map (fun x -> f.Sigma.Mean + f.Slope * f.Basis x)
              | None -> ()
              yield "two-loop", [| 0.0; Array.last grid |], Array.create 2 (StepScaling.perturbative 2.0 r.Config.U)
              match exactAt r.Config.U with Some e -> yield "exact (TBA)", [| 0.0; Array.last grid |], [| e; e |] | None -> () ]
        Study.writePlot dir "stepscaling.html" "Lattice step-scaling function Σ(2, u, a/L)" (sprintf "u = %g" r.Config.U)
            (Plots.againstCurves "Σ against a/L" "a/L" "Σ(2, u, a/L)"
                [ "Σ (c not corrected)", [ for p in r.Points -> 1.0 / float p.Sites, p.Sigma ]
                  "Σ in units where c = 1", [ for p in r.Points do match p.Light with Some l -> yield 1.0 / float p.Sites, l.Sigma | None -> () ] ] curves)

    let experiment : Experiment<O3StepScalingConfig, O3StepScalingResult> =
        { Name = "o3-stepscaling"
          Description = "the O(3) σ-model's step-scaling function Σ(2, u, a/L) by VMC and its continuum limit σ(2, u)"
          Options = options
          Configure = configure
          Describe = describe
          Run = fun c dir -> let r = run c dir in write dir r; r
          Report = report }
