namespace Hybrid.Scripting.Nnft

open System
open Hybrid.Analysis.Statistics
open Hybrid.Analysis.Nnft
open Hybrid.Nnft
open Hybrid.Runtime
open Hybrid.Scripting.Pipeline

/// What every NN-FT experiment shares: running an ensemble (progress, checkpoints), its block sums as raw
/// measurements and back, and the correlators with their errors.
module NnftStudy =

    /// The block sums of the core as the analysis reads them.
    let blockSums (s: CorrelatorSums) : BlockSums =
        { Points = s.Points
          Counts = Array.ofSeq s.Counts
          Weights = Array.ofSeq s.WeightSums
          WeightSquares = Array.ofSeq s.WeightSquares
          Indices = s.Orders |> Seq.map (fun o -> o, s.Indices o |> Seq.map Array.copy |> Array.ofSeq) |> Map.ofSeq
          Sums = s.Orders |> Seq.map (fun o -> o, Array.init s.Blocks (fun b -> Array.ofSeq (s.Sums(o, b)))) |> Map.ofSeq }

    /// The column name of the sum of products at index multiset m ("S4_0_1_2_3").
    let private column (m: int[]) = sprintf "S%d_%s" m.Length (String.Join("_", m))

    /// Block sums as raw measurements: one row per block (replica 0, index = block), the block's network count and
    /// every sum of products. `merge` joins the blocks of replicas from these.
    let toMeasurements (b: BlockSums) : Measurements =
        let perBlock (values: int -> float) = [| Array.init b.Counts.Length values |]
        Measurements.ofColumns (
            ("networks", perBlock (fun k -> float b.Counts.[k]))
            :: ("weight_sum", perBlock (fun k -> b.Weights.[k]))
            :: ("weight_square_sum", perBlock (fun k -> b.WeightSquares.[k]))
            :: [ for KeyValue(order, indices) in b.Indices do
                     for c, m in Array.indexed indices -> column m, perBlock (fun k -> b.Sums.[order].[k].[c]) ])

    /// Block sums back from raw measurements: every replica's blocks become blocks of the result.
    let ofMeasurements (points: int) (m: Measurements) : BlockSums =
        let blocksOf (name: string) = m.[name] |> Array.concat
        let counts = blocksOf "networks" |> Array.map int64
        let orders = [ 1; 2; 4; 6 ] |> List.filter (fun o -> m.Has(column (Array.zeroCreate o)))
        let indices = orders |> List.map (fun o -> o, EnsembleMoments.multisets points o) |> Map.ofList
        { Points = points
          Counts = counts
          Weights = blocksOf "weight_sum"
          WeightSquares = blocksOf "weight_square_sum"
          Indices = indices
          Sums =
            orders
            |> List.map (fun o ->
                let columns = indices.[o] |> Array.map (fun idx -> blocksOf (column idx))
                o, Array.init counts.Length (fun k -> columns |> Array.map (fun c -> c.[k])))
            |> Map.ofList }

    /// The four (six) indices at which G₄ (G₆) is reported: the first points, the last repeated when there are fewer.
    let reportedIndices (points: int) (order: int) = Array.init order (fun i -> min i (points - 1))

    /// The seed of the block bootstrap of a run's estimates, derived from the run's seed by purpose, so that the
    /// bootstrap intervals are reproduced by the run's --seed and differ between replicas.
    let bootstrapSeed (seed: int64) : int = int (Hybrid.Sampling.Seeds.Derive(seed, "block bootstrap") % 1_000_000_007L)

    /// G₂ for every pair i ≤ j, then G₄ and G₄c (and G₆c for order 6) at the reported indices, named as in summary.json;
    /// the bootstrap intervals are drawn with `seed` (bootstrapSeed of the run's seed).
    let correlators (seed: int) (b: BlockSums) : (string * EnsembleEstimate) list =
        let p = b.Points
        let q = reportedIndices p 4
        [ for i in 0 .. p - 1 do
              for j in i .. p - 1 -> sprintf "G2_%d_%d" i j, EnsembleMoments.estimate seed b (EnsembleMoments.twoPoint i j)
          yield "G4", EnsembleMoments.estimate seed b (EnsembleMoments.fourPoint q.[0] q.[1] q.[2] q.[3])
          yield "G4c", EnsembleMoments.estimate seed b (EnsembleMoments.connectedFourPoint q.[0] q.[1] q.[2] q.[3])
          if b.Sums.ContainsKey 6 then
              yield "G6c", EnsembleMoments.estimate seed b (EnsembleMoments.connectedSixPoint (reportedIndices p 6)) ]

    /// What each name means, for tables.
    let describe (name: string) =
        match name with
        | "G4" -> Some "G₄ at the reported points"
        | "G4c" -> Some "connected G₄ = G₄ − Σ G₂G₂"
        | "G6c" -> Some "connected G₆"
        | n when n.StartsWith "G2_" -> Some(sprintf "G₂(x%s, x%s)" (n.Split('_').[1]) (n.Split('_').[2]))
        | _ -> None

    /// Runs (or resumes) an ensemble with progress and a checkpoint every tenth of its chunks; returns the sums and the
    /// seconds this run took.
    let run (label: string) (ensemble: NetworkEnsemble) (checkpoint: string option) (resume: bool) =
        if resume then
            ensemble.LoadCheckpoint checkpoint.Value
            // The same line as the training driver's: what was resumed, from where, and how much is left.
            printfn "resumed %s from %s at chunk %d of %d (%d networks)" label checkpoint.Value ensemble.CompletedChunks ensemble.Chunks ensemble.Sums.Networks
        let remaining = int (ensemble.Chunks - ensemble.CompletedChunks)
        let progress = ProgressReporter(label, remaining, "chunks")
        let every = max 1L (ensemble.Chunks / 10L)
        let mutable i = 0
        let mutable networks = 0L
        while not ensemble.IsComplete do
            networks <- networks + ensemble.Step()
            i <- i + 1
            checkpoint |> Option.iter (fun path -> if ensemble.CompletedChunks % every = 0L then ensemble.SaveCheckpoint path)
            // The rate counts only this process's networks, so a resumed run reports its own speed.
            progress.Report(i, sprintf "%d networks  %.3g networks/s" ensemble.Sums.Networks (float networks / max 1e-9 progress.Elapsed))
        checkpoint |> Option.iter ensemble.SaveCheckpoint
        ensemble.Sums, progress.Elapsed

    /// "value(error)" and, where the error is not trustworthy, a mark.
    let formatWithWarning (e: EnsembleEstimate) =
        Estimate.format e.Estimate + (if e.Warning.IsSome then " †" else "")

    /// The device of a run, resolved.
    let device (choice: ComputeDevice) = TorchRuntime.Resolve choice
