namespace Hybrid.Scripting.Nnft

open System
open Deedle
open Hybrid.Analysis.Statistics
open Hybrid.Analysis.Nnft
open Hybrid.Analysis.Reporting
open Hybrid.Nnft
open Hybrid.Runtime
open Hybrid.Scripting.Pipeline

/// Configuration of an ensemble measurement of correlators.
type NnftCorrelatorsConfig =
    { Network: NetworkSpec
      Points: float[][]
      Ensemble: EnsembleOptions
      Seed: int64
      /// --seed as given (the seed of a replica is derived from it).
      RootSeed: int64
      Replica: Replica option
      Device: ComputeDevice
      Checkpoint: CheckpointChoice }

/// What the measurement gave.
type NnftCorrelatorsResult =
    { Config: NnftCorrelatorsConfig
      Sums: BlockSums
      /// G2_i_j, G4, G4c (and G6c), with errors and warnings.
      Observables: (string * EnsembleEstimate) list
      /// The formulas' values where they exist (G2_i_j from the GP kernel, G4c at O(1/N)).
      Analytic: (string * float) list
      Seconds: float }

/// `nnft-correlators`: G₂ for every pair and G₄, G₄c at the points from an ensemble of random networks, beside the
/// analytic values (the GP kernel; the O(1/N) connected 4-point function where a formula exists).
module NnftCorrelators =

    let options =
        NnftOptions.architecture
        @ [ CommandLine.option "points" TextOption "-0.3;0;0.2;0.5" "points separated by ';', coordinates by ',' (dimension d each)"
            CommandLine.option "order" IntOption "4" "4, or 6 for the connected 6-point function too (at most 12 points)" ]
        @ NnftOptions.ensemble
        @ CheckpointOptions.optionsWith "continue the interrupted ensemble saved in --checkpoint (the same settings and --networks)"
        @ CommonOptions.options

    /// The ensemble of a configuration (its checkpoint header names what a resumed run must match).
    let ensemble (c: NnftCorrelatorsConfig) (device: TorchSharp.torch.Device) =
        NetworkEnsemble(NetworkSpec.build c.Network, c.Points, c.Ensemble, c.Seed, device)

    /// Validates the command line into a configuration.
    let configure (o: ParsedOptions) : NnftCorrelatorsConfig =
        let network = NnftOptions.spec o
        let points = NnftOptions.parsePoints (NetworkSpec.dimension network) (CommandLine.text o "points" |> Option.defaultValue "")
        let order =
            match CommandLine.intIn o "order" 4L 6L |> CommandLine.required "order" with
            | 4L -> 4
            | 6L -> 6
            | other -> raise (UsageError(sprintf "--order %d is not allowed; use 4 or 6" other))
        let ensembleOptions = NnftOptions.ensembleOptions o order
        NnftOptions.checkChunk ensembleOptions (NetworkSpec.build network) points.Length
        let config =
            { Network = network; Points = points; Ensemble = ensembleOptions
              Seed = CommonOptions.seed o; RootSeed = CommonOptions.rootSeed o; Replica = CommonOptions.replica o; Device = CommonOptions.device o
              Checkpoint = { File = None; Resume = false } }
        NnftOptions.engineName config.Ensemble (NetworkSpec.build network) config.Device |> ignore   // --engine fused where it does not apply: refused here
        // On the device the run takes: the route, and so the header a checkpoint carries, depends on it.
        let header = (ensemble config (NnftStudy.device config.Device)).Header
        { config with Checkpoint = CheckpointOptions.choice o header }

    /// The command-line defaults: the Gauss-net reference point of Halverson et al. at N = 8, 10⁶ networks.
    let defaults : NnftCorrelatorsConfig = configure (CommandLine.parse options [])

    /// The configuration as written to config.json.
    let describe (c: NnftCorrelatorsConfig) =
        Json.object (
            [ "network", System.Text.Json.Nodes.JsonNode.Parse(NetworkSpec.describe c.Network)
              "points", Json.array [ for p in c.Points -> Json.numbers p ]
              "networks", Json.integer c.Ensemble.Networks
              "blocks", Json.integer c.Ensemble.Blocks
              "chunk", Json.integer c.Ensemble.ChunkSize
              "order", Json.integer c.Ensemble.MaxOrder
              "dtype", Json.text (string c.Ensemble.DType)
              "engine", Json.text (NnftOptions.engineName c.Ensemble (NetworkSpec.build c.Network) c.Device)
              "seed", Json.integer c.Seed
              "device", Json.text ((string c.Device).ToLowerInvariant()) ]
            @ CommonOptions.describeReplicaOf c.RootSeed c.Replica
            @ CheckpointOptions.describe c.Checkpoint)

    /// Analyses block sums (of this run, or merged replicas).
    let analyse (c: NnftCorrelatorsConfig) (sums: BlockSums) (seconds: float) =
        { Config = c; Sums = sums; Observables = NnftStudy.correlators (NnftStudy.bootstrapSeed c.Seed) sums
          Analytic = NnftAnalytic.values c.Network c.Points; Seconds = seconds }

    /// Draws the ensemble and analyses it.
    let measure (c: NnftCorrelatorsConfig) (dir: RunDirectory) =
        let device = NnftStudy.device c.Device
        let e = ensemble c device
        let checkpoint = c.Checkpoint.PathIn dir
        let sums, seconds = NnftStudy.run ("ensemble " + NetworkSpec.name c.Network) e (Some checkpoint) c.Checkpoint.Resume
        analyse c (NnftStudy.blockSums sums) seconds

    /// Entries whose mean lies orders of magnitude off their formula beyond their error: (name, note). Such a mean
    /// comes from a heavy-tailed ensemble whose mean rests on networks so rare that none was drawn; no error bar covers
    /// that, so it is flagged (‡) whatever the blocks say.
    let offScale (r: NnftCorrelatorsResult) =
        let analytic = Map.ofList r.Analytic
        [ for name, e in r.Observables do
              match analytic.TryFind name with
              | Some v when v <> 0.0 && Double.IsFinite e.Estimate.Mean && abs (e.Estimate.Mean - v) > 3.0 * e.Estimate.Error ->
                  let orders = abs (log10 (abs e.Estimate.Mean / abs v))
                  if orders >= 3.0 then
                      yield name, sprintf "‡ %s: the value is %.0f orders of magnitude %s its formula (%.3g against %.3g): a heavy-tailed ensemble whose mean rests on networks too rare to be drawn; its error bar does not cover that" name orders (if abs e.Estimate.Mean < abs v then "below" else "above") e.Estimate.Mean v
              | _ -> () ]

    /// The comparison with the formulas as a frame: value, bootstrap interval, analytic, distance in σ, note.
    let frame (r: NnftCorrelatorsResult) : Frame<string, string> =
        let analytic = Map.ofList r.Analytic
        let flagged = offScale r |> List.map fst |> set
        let rows =
            [ for name, e in r.Observables ->
                  let exact = analytic.TryFind name
                  let lo, hi = e.BootstrapInterval
                  name,
                  series
                      [ "observable", box (NnftStudy.describe name |> Option.defaultValue name)
                        "Monte Carlo", box (NnftStudy.formatWithWarning e + (if flagged.Contains name then " ‡" else ""))
                        "bootstrap 68%", box (sprintf "[%.4g, %.4g]" lo hi)
                        "analytic", box (match exact with Some v -> sprintf "%.6g" v | None -> "—")
                        "distance", box (match exact with Some v when e.Estimate.Error > 0.0 -> sprintf "%.3gσ" (abs (e.Estimate.Mean - v) / e.Estimate.Error) | _ -> "") ] ]
        Frame.ofRows rows

    /// The Markdown report.
    let report (r: NnftCorrelatorsResult) =
        let c = r.Config
        let warnings = [ for name, e in r.Observables do match e.Warning with Some w -> yield sprintf "† %s: %s" name w | None -> () ]
        let offScale = offScale r |> List.map snd
        String.concat "\n"
            [ yield sprintf "## NN-FT correlators: %s, N = %d, d = %d\n" (NetworkSpec.name c.Network) (NetworkSpec.width c.Network) (NetworkSpec.dimension c.Network)
              yield sprintf "%d networks in %d blocks, %.1f s (%.3g networks/s); points %s; G₄ and G₄c at indices (%s).\n"
                        (Array.sum r.Sums.Counts) r.Sums.Counts.Length r.Seconds (float (Array.sum r.Sums.Counts) / max 1e-9 r.Seconds)
                        (c.Points |> Array.map (fun p -> "(" + String.Join(", ", p) + ")") |> String.concat " ")
                        (String.Join(", ", NnftStudy.reportedIndices c.Points.Length 4))
              yield Table.toMarkdown (frame r)
              yield "Errors: jackknife over blocks; the bootstrap interval (16th–84th percentile over blocks) shows skew. Analytic: the Gaussian-process kernel for G₂ and the O(1/N) formula for G₄c where one exists (docs/nn-field-theory.md).\n"
              yield! warnings
              yield! offScale ]

    /// Writes measurements (block sums), summary.json, summary.md, observables.csv and the comparison plot.
    let write (dir: RunDirectory) (r: NnftCorrelatorsResult) =
        Measurements.write (dir.File "measurements.csv") (NnftStudy.toMeasurements r.Sums)
        let estimates = r.Observables |> List.map (fun (n, e) -> n, e.Estimate)
        Json.write (dir.File "summary.json")
            (Json.object
                [ "experiment", Json.text "nnft-correlators"
                  "parameters", describe r.Config
                  "networks", Json.integer (Array.sum r.Sums.Counts)
                  "seconds", Json.number r.Seconds
                  "observables", Study.estimatesJson estimates
                  "analytic", Json.object [ for n, v in r.Analytic -> n, Json.number v ]
                  "warnings", Json.object [ for n, e in r.Observables do match e.Warning with Some w -> yield n, Json.text w | None -> () ]
                  "runtime", Json.text TorchRuntime.Description ])
        Study.writeReport dir (report r) NnftStudy.describe estimates
        // Pulls: G₂ and the much smaller G₄c are judged on one axis.
        let chart = Plots.pulls estimates (Map.ofList r.Analytic)
        Study.writePlot dir "correlators.html" "Correlators against the formulas, in standard errors" (sprintf "%s, N = %d" (NetworkSpec.name r.Config.Network) (NetworkSpec.width r.Config.Network)) chart
    /// Measures, writes and returns the result.
    let run (c: NnftCorrelatorsConfig) (dir: RunDirectory) =
        let r = measure c dir
        write dir r
        r

    /// The experiment as the command line knows it.
    let experiment : Experiment<NnftCorrelatorsConfig, NnftCorrelatorsResult> =
        { Name = "nnft-correlators"
          Description = "G₂, G₄ and G₄c of an ensemble of random networks, beside the GP kernel and the O(1/N) formulas"
          Options = options
          Configure = configure
          Describe = describe
          Run = run
          Report = report }
