namespace Hybrid.Scripting.O3

open System
open System.IO
open System.Text.Json.Nodes
open Deedle
open Hybrid.Analysis.Statistics
open Hybrid.Analysis.Reporting
open Hybrid.Analysis.O3
open Hybrid.O3
open Hybrid.Scripting.Pipeline

/// Configuration of the step-scaling study on the path-integral reference.
type O3McStepScalingConfig =
    { U: float
      Sizes: int list
      Start: float
      /// The sampling settings of every gap (Sites and G2 are set per point).
      Mc: O3McConfig
      Points: string option
      /// o3-mc run directories whose c² (boxes of 8 correlation lengths) fix c(g²); empty: c = 1.
      Light: string list
      /// Coefficients of the c² fit beyond one loop (κ₂, κ₃, …).
      LightOrder: int }

/// One size of the study.
type O3McStepScalingSize =
    { Sites: int
      /// (g², ū = L·m(L)/c(g²)) of each tuning point.
      Tuning: (float * Estimate) list
      G2: Estimate
      /// d ln ū/d ln g² at the root.
      Slope: float
      /// c² at g²*.
      Light: Estimate
      GapDouble: Estimate
      Sigma: Estimate }

type O3McStepScalingResult =
    { Config: O3McStepScalingConfig
      LightFit: SpeedOfLightFit option
      LightPoints: (float * Estimate) list
      Sizes: O3McStepScalingSize list
      Continuum: ContinuumLimit option }

/// `o3-mc-stepscaling`: the Lüscher–Weisz–Wolff step scaling Σ(2, u, a/L) on the exact reference of the rotor chain.
/// At each L the bare coupling is tuned so that ū(L) = L·m(L)/c(g²) = u, with c the infinite chain's speed of light
/// from a smooth fit through o3-mc measurements in boxes of 8 correlation lengths (one loop fixed: 1 − g²/π); then
/// Σ = 2L·m(2L)/c(g²*). Every gap is an o3-mc measurement extrapolated a_t → 0, kept as a file of the points directory
/// (written atomically when it is complete), so a study killed at any moment resumes without measuring anything twice.
module O3McStepScaling =

    let private invariant = Globalization.CultureInfo.InvariantCulture

    /// The sampling settings that a stored gap must match.
    let private stamp (c: O3McConfig) =
        Json.object
            [ "spacings", Json.array (c.Spacings |> List.map Json.number); "extent", (match c.Extent with Some t -> Json.number t | None -> Json.text "pilot")
              "thermal", Json.integer (int64 c.ThermalSweeps); "sweeps", Json.integer (int64 c.Sweeps); "blocks", Json.integer (int64 c.Blocks)
              "chains", Json.integer (int64 c.Chains); "seed", Json.integer c.Seed; "fit_start", Json.number c.FitStart; "heat_bath_every", Json.integer (int64 c.HeatBathEvery) ]

    let private fileName (sites: int) (g2: float) = FormattableString.Invariant $"mc-L{sites}-g2-{g2:R}.json"

    /// The extrapolated gap a stored point holds.
    let private storedGap (o: JsonNode) =
        let e = o.["gap"]
        Estimate.independent (e.["mean"].GetValue<float>()) (e.["error"].GetValue<float>()) (e.["samples"].GetValue<int>())

    /// The gap m(L) at g², a_t → 0: from the points directory when there, else measured with o3-mc and stored.
    let gap (points: string option) (settings: O3McConfig) (sites: int) (g2: float) : Estimate =
        // The same coupling to rounding: a root recomputed from the same tuning points in another order may differ in
        // its last bit, and must still find the gap measured there.
        let sameCoupling (f: string) =
            let name = Path.GetFileNameWithoutExtension f
            let ok, stored = Double.TryParse(name.Substring(name.IndexOf("-g2-") + 4), Globalization.NumberStyles.Float, invariant)
            ok && abs (stored / g2 - 1.0) < 1e-12
        let file =
            points |> Option.map (fun d ->
                let exact = Path.Combine(d, fileName sites g2)
                if File.Exists exact || not (Directory.Exists d) then exact
                else Directory.GetFiles(d, sprintf "mc-L%d-g2-*.json" sites) |> Array.tryFind sameCoupling |> Option.defaultValue exact)
        let expected = (stamp settings).ToJsonString()
        let stored =
            file |> Option.bind (fun f ->
                if not (File.Exists f) then None
                else
                    let o = JsonNode.Parse(File.ReadAllText f)
                    if o.["settings"].ToJsonString() <> expected then None
                    else
                        printfn "reusing %s" f
                        Some(storedGap o))
        match stored with
        | Some e -> e
        | None ->
            let extent, spacings = O3PathIntegral.sample { settings with Sites = sites; G2 = g2; EdLMax = 0 }
            let limit = (PathIntegral.extrapolateTimeStep (spacings |> List.map (fun s -> s.TimeStep, s.Gap.Gap))).Central
            file |> Option.iter (fun f ->
                Directory.CreateDirectory(Path.GetDirectoryName f) |> ignore
                Json.write f
                    (Json.object
                        [ "L", Json.integer (int64 sites); "g2", Json.number g2; "settings", stamp settings; "extent", Json.number extent
                          "gap", Study.estimateJson limit.Limit; "form", Json.text limit.Form; "chi2", Json.number limit.ChiSquared
                          "spacings", Json.array [ for s in spacings -> Json.object [ "a_t", Json.number s.TimeStep; "gap", Study.estimateJson s.Gap.Gap ] ] ]))
            limit.Limit

    /// Every gap at `sites` already in the points directory with these sampling settings, as (g², m(L)), by g².
    let stored (points: string option) (settings: O3McConfig) (sites: int) : (float * Estimate) list =
        match points with
        | Some d when Directory.Exists d ->
            let expected = (stamp settings).ToJsonString()
            [ for f in Directory.GetFiles(d, sprintf "mc-L%d-g2-*.json" sites) do
                  let o = JsonNode.Parse(File.ReadAllText f)
                  if o.["settings"].ToJsonString() = expected && o.["L"].GetValue<int>() = sites then
                      yield o.["g2"].GetValue<float>(), storedGap o ]
            |> List.sortBy fst
        | _ -> []

    /// Stored tuning points count when ū lies within 15% of u: the tuning points of a size sit within a few per cent
    /// of it, the 2L gap of the size below at Σ ≈ 1.2–1.3·u, which would bend the tuning fit.
    let private nearTarget (u: float) (_: float, e: Estimate) = abs (log (e.Mean / u)) < log 1.15

    /// The three tuning points of one size: (g², ū) near u, the stored ones first. With none, it measures at `start`;
    /// with one, where ū ∝ g² (the rotor) puts u; with two, at the root of the line through them. More than three
    /// stored: the three nearest to u. So a size tuned by any process (a replica started elsewhere, an interrupted run
    /// of this study) is tuned again by every later run with the same points, to the same root and the same 2L gap,
    /// and a run killed during the tuning resumes where it stopped.
    let tuningPoints (u: float) (measure: float -> float * Estimate) (stored: (float * Estimate) list) (start: float) =
        let distance (_, e: Estimate) = abs (log (e.Mean / u))
        let mutable points = stored |> List.filter (nearTarget u) |> List.sortBy distance |> List.truncate 3
        while points.Length < 3 do
            let next =
                match points |> List.sortBy fst with
                | [] -> start
                | [ g2, e ] -> g2 * u / e.Mean
                | two -> (fst (StepScaling.tuneCoupling u two)).Mean
            points <- points @ [ measure next ]
        points |> List.sortBy fst

    /// Where the tuning of the next size starts: the last tuned g² carried to the next L by the lattice's own running
    /// of 1/g² with ln L, measured between the last two tuned sizes (one loop, 1/2π per unit of ln L, while only one
    /// is known). It only saves tuning steps; the tuning itself does not depend on it.
    let nextStart (tuned: (int * float) list) (next: int) : float =
        match tuned with
        | (l1, g1) :: (l0, g0) :: _ ->
            let rate = (1.0 / g1 - 1.0 / g0) / log (float l1 / float l0)
            1.0 / (1.0 / g1 + rate * log (float next / float l1))
        | [ l1, g1 ] -> 1.0 / (1.0 / g1 + log (float next / float l1) / (2.0 * Math.PI))
        | [] -> invalidArg "tuned" "no tuned size to start from"

    /// (g², c²) of o3-mc run directories whose box holds at least 8 correlation lengths in both directions at the
    /// finest time step; the others are refused by name.
    let lightPoints (dirs: string list) : (float * Estimate) list =
        [ for d in dirs ->
              let summary = Path.Combine(d, "summary.json")
              if not (File.Exists summary) then raise (UsageError(sprintf "--light %s has no summary.json; give o3-mc run directories" d))
              let o = JsonNode.Parse(File.ReadAllText summary)
              if isNull o.["experiment"] || o.["experiment"].GetValue<string>() <> "o3-mc" || isNull o.["observables"].["c2"] then
                  raise (UsageError(sprintf "--light %s is not an o3-mc run with c² (rerun it with this version of o3-mc)" d))
              let sites = o.["parameters"].["L"].GetValue<float>()
              let extent = o.["extent"].GetValue<float>()
              let finest = o.["spacings"].AsArray() |> Seq.last
              let xiX, xiT = finest.["xi_x"].["mean"].GetValue<float>(), finest.["xi_t"].["mean"].GetValue<float>()
              let boxes = min (sites / xiX) (extent / xiT)
              if boxes < 8.0 then
                  raise (UsageError(sprintf "--light %s holds only %.1f correlation lengths (L/ξ_x = %.1f, T/ξ_τ = %.1f): the infinite chain's c² needs 8" d boxes (sites / xiX) (extent / xiT)))
              let c2 = o.["observables"].["c2"]
              o.["parameters"].["g2"].GetValue<float>(), Estimate.independent (c2.["mean"].GetValue<float>()) (c2.["error"].GetValue<float>()) 1 ]

    let options =
        [ CommandLine.option "u" FloatOption "1.0595" "ū(L) = L·m(L)/c to hold fixed, > 0"
          CommandLine.option "sizes" TextOption "3,4,6,8" "chain lengths L ≥ 3, increasing (each also measured at 2L)"
          CommandLine.option "start" FloatOption "0.75" "g² the smallest L's tuning starts from, > 0 (each later size starts from the last tuned g², carried by the lattice's own running)"
          CommandLine.optional "light" TextOption "o3-mc run directories (comma-separated) with c² in boxes of 8 correlation lengths; without it c = 1"
          CommandLine.option "light-order" IntOption "2" "coefficients of the c² fit beyond one loop (κ₂ g⁴, κ₃ g⁶, …), 1..4"
          O3Points.option
          yield! O3PathIntegral.options |> List.filter (fun o -> o.Name <> "L" && o.Name <> "g2" && o.Name <> "ed-lmax") ]

    let configure (o: ParsedOptions) : O3McStepScalingConfig =
        let u = CommandLine.positive o "u"
        let sizes = CommandLine.intList o "sizes" 3 2048 "chain length" "3,4,6,8" |> CommandLine.required "sizes"
        if sizes <> List.sort (List.distinct sizes) then
            raise (UsageError(sprintf "--sizes %s is not allowed: the sizes must be increasing" (String.Join(",", sizes))))
        let start = CommandLine.positive o "start"
        if start > 100.0 then raise (UsageError(sprintf "--start %g is not allowed; it must be in (0, 100]" start))
        let light = CommandLine.text o "light" |> Option.map (fun t -> t.Split(',', StringSplitOptions.TrimEntries ||| StringSplitOptions.RemoveEmptyEntries) |> List.ofArray) |> Option.defaultValue []
        let order = CommandLine.intIn o "light-order" 1L 4L |> CommandLine.required "light-order" |> int
        let points = lightPoints light
        if not points.IsEmpty && points.Length < order then
            raise (UsageError(sprintf "--light gives %d c² points, fewer than the %d coefficients of --light-order" points.Length order))
        let given = o.Given |> Map.add "L" (string (List.head sizes)) |> Map.add "g2" (string start) |> Map.add "ed-lmax" "0"
        let mc = O3PathIntegral.configure { o with Given = given; Specs = O3PathIntegral.options }
        { U = u; Sizes = sizes; Start = start; Mc = mc; Points = CommandLine.text o "points"; Light = light; LightOrder = order }

    let describe (c: O3McStepScalingConfig) =
        Json.object
            [ "u", Json.number c.U; "sizes", Json.array (c.Sizes |> List.map (int64 >> Json.integer)); "start", Json.number c.Start
              "light", Json.array (c.Light |> List.map Json.text); "light_order", Json.integer (int64 c.LightOrder); "mc", O3PathIntegral.describe c.Mc ]

    let run (c: O3McStepScalingConfig) (dir: RunDirectory) : O3McStepScalingResult =
        let points = Some(defaultArg c.Points (dir.File "points"))
        let lightPoints = lightPoints c.Light
        let lightFit = if lightPoints.IsEmpty then None else Some(SpeedOfLight.fit c.LightOrder lightPoints)
        let light g2 = match lightFit with Some f -> SpeedOfLight.evaluate f g2 | None -> Estimate.independent 1.0 0.0 1
        let toUbar sites (g2, m: Estimate) =
            let speed = sqrt (light g2).Mean
            g2, { m with Mean = float sites * m.Mean / speed; Error = float sites * m.Error / speed }
        let ubar sites g2 = toUbar sites (g2, gap points c.Mc sites g2)
        // r = d ln σ/d ln u carries a shift of ū(L) to ū(2L) (two-loop perturbation theory).
        let r = StepScaling.logDerivative 2 2.0 c.U
        let mutable tuned : (int * float) list = []
        let sizes =
            [ for sites in c.Sizes ->
                  let start = if tuned.IsEmpty then c.Start else nextStart tuned sites
                  let fromStore = stored points c.Mc sites |> List.map (toUbar sites) |> List.filter (nearTarget c.U)
                  if not fromStore.IsEmpty then
                      printfn "L = %d: %d stored tuning point(s) near u (g² = %s)" sites (min 3 fromStore.Length) (fromStore |> List.map (fun (g, _) -> g.ToString("G6", invariant)) |> String.concat ", ")
                  let tuning = tuningPoints c.U (ubar sites) fromStore start
                  let g2, slope = StepScaling.tuneCoupling c.U tuning
                  printfn "L = %d tuned: g² = %s (round trip %s)" sites (Estimate.format g2) (g2.Mean.ToString("R", invariant))
                  tuned <- (sites, g2.Mean) :: tuned
                  let m2 = gap points c.Mc (2 * sites) g2.Mean
                  let c2 = light g2.Mean
                  let speed = sqrt c2.Mean
                  let sigma = 2.0 * float sites * m2.Mean / speed
                  // Statistics of m(2L); the tuning error carried through ū(L) → ū(2L); c enters the target and the
                  // division, so d ln Σ/d ln c = r − 1.
                  let statistical = sigma * m2.Error / m2.Mean
                  let tuningError = sigma * r * slope * g2.Error / g2.Mean
                  let lightError = sigma * (r - 1.0) * 0.5 * c2.Error / c2.Mean
                  { Sites = sites; Tuning = tuning; G2 = g2; Slope = slope; Light = c2; GapDouble = m2
                    Sigma = Estimate.independent sigma (sqrt (statistical ** 2.0 + tuningError ** 2.0 + lightError ** 2.0)) 1 } ]
        let continuum = if sizes.Length >= 2 then Some(StepScaling.extrapolate [ for s in sizes -> s.Sites, s.Sigma ]) else None
        { Config = c; LightFit = lightFit; LightPoints = lightPoints; Sizes = sizes; Continuum = continuum }

    let report (r: O3McStepScalingResult) =
        let c = r.Config
        let rows =
            Frame.ofRows
                [ for s in r.Sizes ->
                      sprintf "L = %d" s.Sites,
                      series [ "g²(L)", box (Estimate.format s.G2); "c²(g²)", box (Estimate.format s.Light); "m(2L)", box (Estimate.format s.GapDouble)
                               "Σ(2, u, 1/L)", box (Estimate.format s.Sigma); "Σ − σ", box (match StepScaling.continuumAt c.U with Some x -> sprintf "%+.4f" (s.Sigma.Mean - x) | None -> "—") ] ]
        String.concat "\n"
            [ yield sprintf "## Step scaling on the path-integral reference, u = %g\n" c.U
              yield Table.toMarkdown rows
              yield ""
              match r.LightFit with
              | Some f ->
                  yield sprintf "Speed of light: c²(g²) = 1 − g²/π %s over g² = %g … %g (%d points, χ² = %.2f for %d dof)."
                            (f.Coefficients |> Array.mapi (fun k v -> sprintf "%s %.4f g^%d" (if v < 0.0 then "−" else "+") (abs v) (2 * k + 4)) |> String.concat " ") f.From f.To r.LightPoints.Length f.ChiSquared f.DegreesOfFreedom
              | None -> yield "Speed of light: c = 1 (no --light measurements): Σ carries the O(g²) error of the lattice's c."
              match r.Continuum with
              | Some l ->
                  yield sprintf "Continuum, the model average of every form and fit range (Akaike weights): σ(2, %g) = %s (statistical %.4f, systematic %.4f)%s. Half the spread of all fits, good or bad: %.4f."
                            c.U (Estimate.format l.Combined) l.Central.Error l.Systematic
                            (match StepScaling.continuumAt c.U with Some x -> sprintf " against the exact %.6f (%+.1f%%, %.1fσ)" x (100.0 * (l.Combined.Mean / x - 1.0)) ((l.Combined.Mean - x) / l.Combined.Error) | None -> "") l.Spread
                  for f in l.Fits do
                      yield sprintf "- %s from L = %d: %s (χ²/dof %.2f, weight %.3f)" f.Form f.From (Estimate.format f.Sigma) f.ChiSquaredPerDof f.Weight
              | None -> yield "One size: no continuum extrapolation." ]

    let write (dir: RunDirectory) (r: O3McStepScalingResult) =
        let observables =
            [ for s in r.Sizes do
                  yield sprintf "sigma_L%d" s.Sites, s.Sigma
                  yield sprintf "g2_L%d" s.Sites, s.G2
              match r.Continuum with Some l -> yield "sigma_continuum", l.Combined | None -> () ]
        Json.write (dir.File "summary.json")
            (Json.object
                [ "experiment", Json.text "o3-mc-stepscaling"; "parameters", describe r.Config
                  "observables", Study.estimatesJson observables
                  "light_fit", (match r.LightFit with
                                | Some f -> Json.object [ "coefficients", Json.array (f.Coefficients |> Array.map Json.number |> List.ofArray); "chi2", Json.number f.ChiSquared; "dof", Json.integer (int64 f.DegreesOfFreedom) ]
                                | None -> null)
                  "exact_sigma", (match StepScaling.continuumAt r.Config.U with Some x -> Json.number x | None -> null) ])
        AtomicFile.write (dir.File "tuning.csv") (fun w ->
            w.WriteLine "L,g2,ubar,ubar_error"
            for s in r.Sizes do
                for g2, u in s.Tuning do
                    w.WriteLine(String.Join(",", [| float s.Sites; g2; u.Mean; u.Error |] |> Array.map (fun v -> v.ToString("R", invariant)))))
        Study.writeReport dir (report r) (fun name -> if name.StartsWith "sigma_L" then Some "Σ(2, u, 1/L)" elif name.StartsWith "g2_L" then Some "tuned g²(L)" else None) observables
        let xs = r.Sizes |> List.map (fun s -> 1.0 / float s.Sites)
        Study.writePlot dir "step-scaling.html" "Σ(2, u, a/L) on the exact reference, against the continuum σ" (sprintf "u = %g" r.Config.U)
            (Plots.againstCurves "Σ against a/L" "a/L" "Σ(2, u, a/L)"
                [ yield "path integral ± 1σ", List.map2 (fun x (s: O3McStepScalingSize) -> x, s.Sigma) xs r.Sizes
                  // The continuum value the study reports, at a/L = 0 with its full error (statistical and systematic).
                  match r.Continuum with
                  | Some l -> yield "continuum, model average ± 1σ", [ 0.0, l.Combined ]
                  | None -> () ]
                [ match StepScaling.continuumAt r.Config.U with
                  | Some exact -> yield "exact σ(2, u) (TBA)", [| 0.0; List.max xs |], [| exact; exact |]
                  | None -> ()
                  // The fits that carry the average (weight ≥ 0.1), each over its range and on to a/L = 0.
                  match r.Continuum with
                  | Some l ->
                      for f in l.Fits |> List.filter (fun f -> f.Weight >= 0.1) do
                          let upper = 1.0 / float f.From
                          let grid = Array.init 41 (fun k -> upper * float k / 40.0)
                          yield sprintf "fit %s from L = %d (weight %.2f): σ = %s" f.Form f.From f.Weight (Estimate.format f.Sigma), grid, grid |> Array.map (fun x -> f.Sigma.Mean + f.Slope * f.Basis x)
                  | None -> () ])

    let experiment : Experiment<O3McStepScalingConfig, O3McStepScalingResult> =
        { Name = "o3-mc-stepscaling"
          Description = "step scaling Σ(2, u, a/L) on the path-integral reference: g² tuned to L·m(L)/c = u with the infinite chain's c, continuum fits"
          Options = options
          Configure = configure
          Describe = describe
          Run = fun c dir -> let r = run c dir in write dir r; r
          Report = report }
