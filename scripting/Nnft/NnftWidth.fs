namespace Hybrid.Scripting.Nnft

open System
open Deedle
open Hybrid.Analysis.Statistics
open Hybrid.Analysis.Fitting
open Hybrid.Analysis.Nnft
open Hybrid.Analysis.Reporting
open Hybrid.Nnft
open Hybrid.Runtime
open Hybrid.Sampling
open Hybrid.Scripting.Pipeline

/// Configuration of a width scan.
type NnftWidthConfig =
    { Network: NetworkSpec
      Widths: int list
      Points: float[][]
      Ensemble: EnsembleOptions
      Seed: int64
      RootSeed: int64
      Replica: Replica option
      Device: ComputeDevice }

/// One width of the scan.
type NnftWidthPoint =
    { Width: int
      Sums: BlockSums
      G4c: EnsembleEstimate
      /// G₂ at the first pair (x₀, x₁) and its deviation from the infinite-width kernel.
      G2: EnsembleEstimate
      G2Deviation: Estimate option
      AnalyticG4c: float option
      Seconds: float }

/// The scan and the fitted power law |G₄c| = A·N^(−s).
type NnftWidthResult =
    { Config: NnftWidthConfig
      Points: NnftWidthPoint list
      Fit: FitResult option }

/// `nnft-width`: how the ensemble approaches its Gaussian process as the width grows: G₄c (O(1/N)) and, for deep
/// networks, the deviation of G₂ from the infinite-width kernel, against N, with a log-log power-law fit.
module NnftWidth =

    /// The architecture options without --width: --widths gives the widths of the scan (a --width is refused as
    /// unknown rather than recorded in config.json as if it were used).
    let options =
        (NnftOptions.architecture |> List.filter (fun s -> s.Name <> "width"))
        @ [ CommandLine.option "widths" TextOption "2,4,8,16,32,64,128" "widths N, comma-separated"
            CommandLine.option "points" TextOption "-0.3;0;0.2;0.5" "points separated by ';', coordinates by ',' (dimension d each)" ]
        @ NnftOptions.ensemble
        @ CommonOptions.optionsWith (CommonOptions.notMerged "each replica is an independent scan of the widths; compare their G₄c(N), or merge replicas of nnft-correlators at one width") "where the tensors live"

    /// Validates the command line into a configuration.
    let configure (o: ParsedOptions) : NnftWidthConfig =
        // The architecture is built at a placeholder width, replaced by each of --widths.
        let network = NnftOptions.spec { o with Specs = o.Specs @ [ CommandLine.option "width" IntOption "8" "" ] }
        let text = CommandLine.text o "widths" |> Option.defaultValue ""
        let widths =
            text.Split(',', StringSplitOptions.TrimEntries)
            |> Array.map (fun w ->
                match Int32.TryParse w with
                | true, n when n >= 1 && n <= 10_000_000 -> n
                | _ -> raise (UsageError(sprintf "--widths %s is not allowed: '%s' is not a width in 1..10000000; give widths separated by commas, e.g. 2,4,8" text w)))
            |> Array.distinct |> Array.sort |> List.ofArray
        if widths.Length < 2 then raise (UsageError(sprintf "--widths %s is not allowed: a scan needs at least two widths" text))
        for n in widths do CommandLine.validate (fun () -> NetworkSpec.build (NetworkSpec.withWidth n network) |> ignore)
        let points = NnftOptions.parsePoints (NetworkSpec.dimension network) (CommandLine.text o "points" |> Option.defaultValue "")
        let ensemble = NnftOptions.ensembleOptions o 4
        NnftOptions.checkChunk ensemble (NetworkSpec.build (NetworkSpec.withWidth (List.max widths) network)) points.Length
        NnftOptions.engineName ensemble (NetworkSpec.build network) (CommonOptions.device o) |> ignore   // --engine fused where it does not apply: refused here
        { Network = network
          Widths = widths
          Points = points
          Ensemble = ensemble
          Seed = CommonOptions.seed o
          RootSeed = CommonOptions.rootSeed o
          Replica = CommonOptions.replica o
          Device = CommonOptions.device o }

    /// The configuration as written to config.json.
    let describe (c: NnftWidthConfig) =
        Json.object (
            [ "network",
              (match System.Text.Json.Nodes.JsonNode.Parse(NetworkSpec.describe c.Network) with
               | :? System.Text.Json.Nodes.JsonObject as n -> n.Remove "width" |> ignore; n :> System.Text.Json.Nodes.JsonNode   // the widths follow
               | n -> n)
              "widths", Json.numbers (c.Widths |> List.map float)
              "points", Json.array [ for p in c.Points -> Json.numbers p ]
              "networks", Json.integer c.Ensemble.Networks
              "blocks", Json.integer c.Ensemble.Blocks
              "dtype", Json.text (string c.Ensemble.DType)
              "engine", Json.text (NnftOptions.engineName c.Ensemble (NetworkSpec.build c.Network) c.Device)
              "seed", Json.integer c.Seed
              "device", Json.text ((string c.Device).ToLowerInvariant()) ]
            @ CommonOptions.describeReplicaOf c.RootSeed c.Replica)

    /// Fits A·N^(−s) to G₄c(N) with its errors (Levenberg–Marquardt, flat priors); None if fewer than three widths
    /// have a finite value and error.
    let fitPowerLaw (points: NnftWidthPoint list) =
        let usable = points |> List.filter (fun p -> Double.IsFinite p.G4c.Estimate.Mean && p.G4c.Estimate.Error > 0.0)
        if usable.Length < 3 then None
        else
            let n = usable |> List.map (fun p -> float p.Width) |> Array.ofList
            let y = usable |> List.map (fun p -> p.G4c.Estimate.Mean) |> Array.ofList
            let e = usable |> List.map (fun p -> p.G4c.Estimate.Error) |> Array.ofList
            let model = { ParameterNames = [| "A"; "s" |]; Priors = [| Flat; Flat |]; Predict = fun p -> n |> Array.map (fun x -> p.[0] * x ** -p.[1]) }
            let first = usable.Head
            Some(LeastSquares.fit model (LeastSquares.ofErrors y e) (LeastSquares.options [| first.G4c.Estimate.Mean * float first.Width; 1.0 |]))

    /// Runs the scan.
    let run (c: NnftWidthConfig) (dir: RunDirectory) : NnftWidthResult =
        let device = NnftStudy.device c.Device
        let points =
            [ for n in c.Widths ->
                  let spec = NetworkSpec.withWidth n c.Network
                  // Each width its own stream, derived from the run's seed by purpose.
                  let e = NetworkEnsemble(NetworkSpec.build spec, c.Points, c.Ensemble, Seeds.Derive(c.Seed, sprintf "width %d" n), device)
                  let sums, seconds = NnftStudy.run (sprintf "width %d" n) e None false
                  let b = NnftStudy.blockSums sums
                  let q = NnftStudy.reportedIndices c.Points.Length 4
                  let seed = NnftStudy.bootstrapSeed c.Seed
                  let i, j = 0, min 1 (c.Points.Length - 1)
                  let g2 = EnsembleMoments.estimate seed b (EnsembleMoments.twoPoint i j)
                  let gp = NnftAnalytic.kernel spec c.Points.[i] c.Points.[j]
                  { Width = n; Sums = b; Seconds = seconds
                    G4c = EnsembleMoments.estimate seed b (EnsembleMoments.connectedFourPoint q.[0] q.[1] q.[2] q.[3])
                    G2 = g2
                    G2Deviation = gp |> Option.map (fun k -> { g2.Estimate with Mean = g2.Estimate.Mean - k })
                    AnalyticG4c = NnftAnalytic.connectedFourPoint spec (q |> Array.map (fun k -> c.Points.[k])) } ]
        let result = { Config = c; Points = points; Fit = fitPowerLaw points }
        result

    let private optional (f: 'a -> string) (x: 'a option) = match x with Some v -> f v | None -> "—"

    /// The scan as a frame.
    let frame (r: NnftWidthResult) : Frame<int, string> =
        Frame.ofRows
            [ for p in r.Points ->
                  p.Width,
                  series
                      [ "G4c", box (NnftStudy.formatWithWarning p.G4c)
                        "analytic G4c", box (optional (sprintf "%.5g") p.AnalyticG4c)
                        "N·G4c", box (Estimate.format { p.G4c.Estimate with Mean = p.G4c.Estimate.Mean * float p.Width; Error = p.G4c.Estimate.Error * float p.Width })
                        "G2(x0,x1) − GP", box (optional Estimate.format p.G2Deviation)
                        "networks", box (Array.sum p.Sums.Counts)
                        "seconds", box (sprintf "%.1f" p.Seconds) ] ]

    /// The Markdown report.
    let report (r: NnftWidthResult) =
        let c = r.Config
        String.concat "\n"
            [ yield sprintf "## NN-FT width scan: %s, d = %d, N = %s\n" (NetworkSpec.name c.Network) (NetworkSpec.dimension c.Network) (String.Join(", ", c.Widths))
              yield Table.toMarkdown (frame r)
              match r.Fit with
              | Some f ->
                  yield sprintf "Fit G₄c = A·N^(−s) over all widths: s = %s, A = %s, χ²/dof = %.2f (p = %.2f). Expected: s = 1 (the connected 4-point function is O(1/N)).\n"
                            (Estimate.format (Estimate.independent f.Parameters.[1] f.Errors.[1] f.DataPoints))
                            (Estimate.format (Estimate.independent f.Parameters.[0] f.Errors.[0] f.DataPoints)) f.ChiSquaredPerDof f.PValue
              | None -> yield "Too few widths with a measurable G₄c for a fit.\n"
              yield! [ for p in r.Points do match p.G4c.Warning with Some w -> yield sprintf "† N = %d: %s" p.Width w | None -> () ] ]

    /// Writes the scan: measurements (every width's block sums), summary.json, summary.md, widths.csv, the log-log plot.
    let write (dir: RunDirectory) (r: NnftWidthResult) =
        let widthColumns (p: NnftWidthPoint) =
            (NnftStudy.toMeasurements p.Sums).Columns |> List.map (fun (name, v) -> sprintf "N%d_%s" p.Width name, v)
        Measurements.write (dir.File "measurements.csv") (Measurements.ofColumns (r.Points |> List.collect widthColumns))
        let fitJson =
            match r.Fit with
            | Some f -> Json.object [ "s", Json.number f.Parameters.[1]; "s_error", Json.number f.Errors.[1]; "A", Json.number f.Parameters.[0]; "A_error", Json.number f.Errors.[0]; "chi2_per_dof", Json.number f.ChiSquaredPerDof ]
            | None -> null
        Json.write (dir.File "summary.json")
            (Json.object
                [ "experiment", Json.text "nnft-width"
                  "parameters", describe r.Config
                  "widths",
                  Json.array
                      [ for p in r.Points ->
                            Json.object
                                [ "width", Json.integer p.Width
                                  "G4c", Study.estimateJson p.G4c.Estimate
                                  "analytic_G4c", (match p.AnalyticG4c with Some v -> Json.number v | None -> null)
                                  "G2_0_1", Study.estimateJson p.G2.Estimate
                                  "G2_0_1_minus_GP", (match p.G2Deviation with Some e -> Study.estimateJson e | None -> null) ] ]
                  "fit", fitJson
                  "runtime", Json.text TorchRuntime.Description ])
        AtomicFile.writeText (dir.File "summary.md") (report r)
        AtomicFile.writeText (dir.File "widths.csv") (Table.toCsv (frame r))
        match r.Fit with
        | Some f ->
            let chart = Plots.powerLaw "N" "G<sub>4</sub><sup>c</sup>" [ for p in r.Points -> float p.Width, p.G4c.Estimate ] f.Parameters.[0] (Estimate.independent f.Parameters.[1] f.Errors.[1] f.DataPoints)
            Study.writePlot dir "width-scaling.html" "Connected 4-point function against the width" (sprintf "%s, d = %d" (NetworkSpec.name r.Config.Network) (NetworkSpec.dimension r.Config.Network)) chart
        | None -> ()

    /// The experiment as the command line knows it.
    let experiment : Experiment<NnftWidthConfig, NnftWidthResult> =
        { Name = "nnft-width"
          Description = "G₄c (and G₂ − GP) against the width N, with a log-log fit of the power"
          Options = options
          Configure = configure
          Describe = describe
          Run = fun c dir -> let r = run c dir in write dir r; r
          Report = report }
