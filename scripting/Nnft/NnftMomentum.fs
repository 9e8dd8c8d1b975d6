namespace Hybrid.Scripting.Nnft

open System
open System.Numerics
open Deedle
open Hybrid.Analysis.Statistics
open Hybrid.Analysis.Nnft
open Hybrid.Analysis.Reporting
open Hybrid.Nnft
open Hybrid.Runtime
open Hybrid.Scripting.Pipeline

/// Configuration of the momentum-space study of the box cos-net.
type NnftMomentumConfig =
    { Width: int
      Mass: float
      Box: float
      /// Modes |k| ≤ K of the network.
      Modes: int
      /// The k > 0 whose correlators are shown.
      Momenta: int list
      Ensemble: EnsembleOptions
      Seed: int64
      RootSeed: int64
      Replica: Replica option
      Device: ComputeDevice }

/// One kinematic configuration (k_a, k_b, −k_a, −k_b) and what it gave.
type MomentumRow =
    { Ka: int
      Kb: int
      /// G₄c of the Fourier modes.
      G4c: EnsembleEstimate
      /// The single-neuron (vertex) part V = G₄c + (1/N) Σ pairings G₂G₂.
      Vertex: EnsembleEstimate
      AnalyticG4c: float
      AnalyticVertex: float }

/// What the momentum study gave.
type NnftMomentumResult =
    { Config: NnftMomentumConfig
      Sums: BlockSums
      TwoPoint: (int * EnsembleEstimate * float) list
      Rows: MomentumRow list
      Seconds: float }

/// `nnft-momentum`: the cos-net free scalar on a periodic box in momentum space. Momentum conservation holds exactly
/// (the phases c are uniform); the connected 4-point function at (k_a, k_b, −k_a, −k_b) is
/// (1/N)[δ_ab·(3σ_a⁴/2)P_k − (1 + δ_ab) G₂(k_a)G₂(k_b)]: its single-neuron part lives only at the special kinematics
/// k_a = k_b (p₁ = p₂ = −p₃ = −p₄), where one neuron carries all four momenta.
module NnftMomentum =

    let options =
        [ CommandLine.option "width" IntOption "4" "width N"
          CommandLine.option "mass" FloatOption "1" "mass m > 0"
          CommandLine.option "box" FloatOption "6.283185307179586" "box length L (momenta p_k = 2πk/L; the default makes p_k = k)"
          CommandLine.option "modes" IntOption "4" "mode cutoff K: momenta |k| ≤ K"
          CommandLine.option "momenta" TextOption "1,2,3" "the k > 0 to show (all pairs (k_a, k_b, −k_a, −k_b)), at most 6, each ≤ K" ]
        @ NnftOptions.ensemble
        @ CommonOptions.optionsWith (CommonOptions.notMerged "each replica is an independent ensemble; compare their results, or give one run more --networks") "where the tensors live"

    /// The grid that resolves every mode exactly: 2K + 2 equally spaced points.
    let grid (c: NnftMomentumConfig) = Array.init (2 * c.Modes + 2) (fun j -> float j * c.Box / float (2 * c.Modes + 2))

    /// Columns C_k = (1/n) Σ_j φ(x_j) cos(p_k x_j) and S_k = (1/n) Σ_j φ(x_j) sin(p_k x_j) for each shown k.
    let projection (c: NnftMomentumConfig) =
        let x = grid c
        let n = float x.Length
        [| for xj in x ->
               [| for k in c.Momenta do
                      let p = 2.0 * Math.PI * float k / c.Box
                      yield cos (p * xj) / n
                      yield sin (p * xj) / n |] |]

    /// Validates the command line into a configuration.
    let configure (o: ParsedOptions) : NnftMomentumConfig =
        let width = CommandLine.intIn o "width" 1L 10_000_000L |> CommandLine.required "width" |> int
        let mass = CommandLine.float o "mass" |> CommandLine.required "mass"
        let box = CommandLine.positive o "box"
        let modes = CommandLine.intIn o "modes" 1L 100_000L |> CommandLine.required "modes" |> int
        CommandLine.validate (fun () -> BoxCosNetwork(width, mass, box, modes) |> ignore)
        let text = CommandLine.text o "momenta" |> Option.defaultValue ""
        let momenta =
            text.Split(',', StringSplitOptions.TrimEntries)
            |> Array.map (fun k ->
                match Int32.TryParse k with
                | true, v when v >= 1 && v <= modes -> v
                | _ -> raise (UsageError(sprintf "--momenta %s is not allowed: '%s' is not a mode k in 1..%d (the cutoff --modes)" text k modes)))
            |> Array.distinct |> Array.sort |> List.ofArray
        if momenta.Length > 6 then raise (UsageError(sprintf "--momenta %s is not allowed: at most 6 momenta" text))
        let c =
            { Width = width; Mass = mass; Box = box; Modes = modes; Momenta = momenta
              Ensemble = null
              Seed = CommonOptions.seed o; RootSeed = CommonOptions.rootSeed o; Replica = CommonOptions.replica o; Device = CommonOptions.device o }
        let ensemble = NnftOptions.ensembleOptionsWith o 4 null (projection c)
        NnftOptions.checkChunk ensemble (BoxCosNetwork(width, mass, box, modes)) (grid c).Length
        { c with Ensemble = ensemble }

    /// The configuration as written to config.json.
    let describe (c: NnftMomentumConfig) =
        Json.object (
            [ "network", System.Text.Json.Nodes.JsonNode.Parse(BoxCosNetwork(c.Width, c.Mass, c.Box, c.Modes).Describe())
              "momenta", Json.numbers (c.Momenta |> List.map float)
              "networks", Json.integer c.Ensemble.Networks
              "blocks", Json.integer c.Ensemble.Blocks
              "seed", Json.integer c.Seed
              "device", Json.text ((string c.Device).ToLowerInvariant()) ]
            @ CommonOptions.describeReplicaOf c.RootSeed c.Replica)

    /// φ̃(±k) as a combination of the accumulated real fields: C_k ∓ i S_k.
    let private mode (c: NnftMomentumConfig) (signedK: int) =
        let position = c.Momenta |> List.findIndex ((=) (abs signedK))
        [ 2 * position, Complex.One; 2 * position + 1, (if signedK > 0 then -Complex.ImaginaryOne else Complex.ImaginaryOne) ]

    /// E[φ̃(k₁)⋯φ̃(kₙ)] from the real moments.
    let private moment (c: NnftMomentumConfig) (ks: int list) (m: int[] -> float) =
        let rec expand (factors: (int * Complex) list list) (indices: int list) (coefficient: Complex) =
            match factors with
            | [] -> coefficient * Complex(m (Array.ofList indices), 0.0)
            | f :: rest -> f |> List.fold (fun (acc: Complex) (i, a) -> acc + expand rest (i :: indices) (coefficient * a)) Complex.Zero
        expand (ks |> List.map (mode c)) [] Complex.One

    /// (G₄c, vertex part) at (k_a, k_b, −k_a, −k_b), real parts.
    let private connected (c: NnftMomentumConfig) ka kb (m: int[] -> float) =
        let g2 a b = moment c [ a; b ] m
        let ks = [ ka; kb; -ka; -kb ]
        let g4 = moment c ks m
        let pairings = g2 ka kb * g2 -ka -kb + g2 ka -ka * g2 kb -kb + g2 ka -kb * g2 kb -ka
        (g4 - pairings).Real, (g4 - pairings + pairings / Complex(float c.Width, 0.0)).Real

    /// Draws the ensemble and analyses it.
    let run (c: NnftMomentumConfig) (dir: RunDirectory) : NnftMomentumResult =
        let device = NnftStudy.device c.Device
        let network = BoxCosNetwork(c.Width, c.Mass, c.Box, c.Modes)
        let e = NetworkEnsemble(network, grid c |> Array.map (fun x -> [| x |]), c.Ensemble, c.Seed, device)
        let sums, seconds = NnftStudy.run "ensemble cos-box" e None false
        let b = NnftStudy.blockSums sums
        let seed = NnftStudy.bootstrapSeed c.Seed
        let sa2 = network.AmplitudeVariance
        let n = float c.Width
        let g2Exact k = 1.0 / (c.Box * ((2.0 * Math.PI * float k / c.Box) ** 2.0 + c.Mass * c.Mass))
        let rows =
            [ for a in c.Momenta do
                  for bk in c.Momenta do
                      if a <= bk then
                          let special = a = bk
                          let vertex = if special then 1.5 * sa2 * sa2 * network.ModeProbability a / n else 0.0
                          let pairs = (if special then 2.0 else 1.0) * g2Exact a * g2Exact bk
                          { Ka = a; Kb = bk
                            G4c = EnsembleMoments.estimate seed b (fun m -> fst (connected c a bk m))
                            Vertex = EnsembleMoments.estimate seed b (fun m -> snd (connected c a bk m))
                            AnalyticG4c = vertex - pairs / n
                            AnalyticVertex = vertex } ]
        { Config = c; Sums = b; Seconds = seconds; Rows = rows
          TwoPoint = [ for k in c.Momenta -> k, EnsembleMoments.estimate seed b (fun m -> (moment c [ k; -k ] m).Real), g2Exact k ] }

    let private label (r: MomentumRow) = sprintf "(%d,%d,−%d,−%d)" r.Ka r.Kb r.Ka r.Kb

    /// The Markdown report.
    let report (r: NnftMomentumResult) =
        let c = r.Config
        let sigma (e: EnsembleEstimate) (v: float) = if e.Estimate.Error > 0.0 then sprintf "%.3gσ" (abs (e.Estimate.Mean - v) / e.Estimate.Error) else ""
        let table =
            Frame.ofRows
                [ for row in r.Rows ->
                      label row,
                      series
                          [ "special", box (if row.Ka = row.Kb then "p₁ = p₂ = −p₃ = −p₄" else "")
                            "vertex part (MC)", box (NnftStudy.formatWithWarning row.Vertex)
                            "vertex part (exact)", box (sprintf "%.5g" row.AnalyticVertex)
                            "V distance", box (sigma row.Vertex row.AnalyticVertex)
                            "G4c (MC)", box (NnftStudy.formatWithWarning row.G4c)
                            "G4c (exact)", box (sprintf "%.5g" row.AnalyticG4c)
                            "G4c distance", box (sigma row.G4c row.AnalyticG4c) ] ]
        let twoPoint =
            Frame.ofRows
                [ for k, e, exact in r.TwoPoint -> sprintf "k = %d" k, series [ "G2 (MC)", box (NnftStudy.formatWithWarning e); "G2 (exact)", box (sprintf "%.5g" exact); "distance", box (sigma e exact) ] ]
        String.concat "\n"
            [ sprintf "## Cos-net in momentum space: N = %d, m = %g, box L = %g, modes |k| ≤ %d\n" c.Width c.Mass c.Box c.Modes
              sprintf "%d networks, %.1f s. Fourier modes φ̃(k) = (1/n) Σⱼ φ(xⱼ) e^{−ip_k xⱼ} on n = %d points (exact for these band-limited networks); G₂(k) = E[φ̃(k)φ̃(−k)] = 1/(L(p_k² + m²)).\n"
                  (Array.sum r.Sums.Counts) r.Seconds (grid c).Length
              Table.toMarkdown twoPoint
              "Connected 4-point function at (k_a, k_b, −k_a, −k_b): G₄c = V − (1/N)(1 + δ_ab) G₂(k_a)G₂(k_b), with the single-neuron (vertex) part V = δ_ab (3σ_a⁴/2N) P(k_a) nonzero only at the special kinematics.\n"
              Table.toMarkdown table ]

    /// Writes the run.
    let write (dir: RunDirectory) (r: NnftMomentumResult) =
        Measurements.write (dir.File "measurements.csv") (NnftStudy.toMeasurements r.Sums)
        let estimates =
            [ for k, e, _ in r.TwoPoint -> sprintf "G2_%d" k, e.Estimate ]
            @ [ for row in r.Rows do
                    yield sprintf "V_%d_%d" row.Ka row.Kb, row.Vertex.Estimate
                    yield sprintf "G4c_%d_%d" row.Ka row.Kb, row.G4c.Estimate ]
        let exact =
            [ for k, _, v in r.TwoPoint -> sprintf "G2_%d" k, v ]
            @ [ for row in r.Rows do
                    yield sprintf "V_%d_%d" row.Ka row.Kb, row.AnalyticVertex
                    yield sprintf "G4c_%d_%d" row.Ka row.Kb, row.AnalyticG4c ]
        Json.write (dir.File "summary.json")
            (Json.object
                [ "experiment", Json.text "nnft-momentum"
                  "parameters", describe r.Config
                  "networks", Json.integer (Array.sum r.Sums.Counts)
                  "observables", Study.estimatesJson estimates
                  "analytic", Json.object [ for n, v in exact -> n, Json.number v ]
                  "runtime", Json.text TorchRuntime.Description ])
        Study.writeReport dir (report r) (fun n -> if n.StartsWith "V_" then Some "vertex part at (k_a, k_b, −k_a, −k_b)" elif n.StartsWith "G4c_" then Some "G₄c at (k_a, k_b, −k_a, −k_b)" else None) estimates
        let vertices = [ for row in r.Rows -> label row + (if row.Ka = row.Kb then " ★" else ""), row.Vertex.Estimate ]
        let chart = Plots.againstExact "vertex part V" vertices (Map.ofList [ for row in r.Rows -> label row + (if row.Ka = row.Kb then " ★" else ""), row.AnalyticVertex ])
        Study.writePlot dir "momentum.html" "Single-neuron part of G₄c in momentum space (★: special kinematics)" (sprintf "cos-net on a box, N = %d, m = %g" r.Config.Width r.Config.Mass) chart
    /// The experiment as the command line knows it.
    let experiment : Experiment<NnftMomentumConfig, NnftMomentumResult> =
        { Name = "nnft-momentum"
          Description = "the cos-net's 4-point function in momentum space on a periodic box: the 1/N vertex only at special kinematics"
          Options = options
          Configure = configure
          Describe = describe
          Run = fun c dir -> let r = run c dir in write dir r; r
          Report = report }
