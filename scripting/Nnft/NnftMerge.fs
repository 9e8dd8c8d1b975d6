namespace Hybrid.Scripting.Nnft

open System.IO
open System.Text.Json.Nodes
open Hybrid.Scripting.Pipeline

/// Merging replicas of `nnft-correlators`: the blocks of every replica become blocks of one ensemble, so the
/// merged estimate and error are those of one run over all the networks.
module NnftMerge =

    /// Analyses the joined blocks and writes the merged run.
    let mergeInto (runs: ReplicaRun list) (dir: RunDirectory) =
        let first = runs.Head
        let parameters = first.Parameters
        let points = [| for p in parameters.["points"].AsArray() -> [| for x in p.AsArray() -> x.GetValue<float>() |] |]
        let network = NetworkSpec.ofJson (parameters.["network"].ToJsonString())
        let sums = NnftStudy.ofMeasurements points.Length (Measurements.concat [ for r in runs -> r.Measurements ])
        // The replicas' root seed (the seed of a single run) seeds the merged block bootstrap.
        let root = match parameters.["root_seed"] with null -> parameters.["seed"] | node -> node
        let seed = root.GetValue<int64>()
        let config = { NnftCorrelators.defaults with Network = network; Points = points; Seed = seed; RootSeed = seed }
        let result = NnftCorrelators.analyse config sums (0.0)
        NnftCorrelators.write dir result
        // The merged summary says what it merged, on top of what nnft-correlators writes.
        let summary = JsonNode.Parse(File.ReadAllText(dir.File "summary.json")).AsObject()
        summary.["experiment"] <- Json.text "merge"
        summary.["merged_experiment"] <- Json.text first.Experiment
        summary.["sources"] <- Json.array [ for r in runs -> Json.text (Path.GetFullPath r.Path) ]
        summary.["parameters"] <- Merge.sharedParameters runs
        Json.write (dir.File "summary.json") summary
        sprintf "## Merged nnft-correlators: %d run directories, %d networks in %d blocks\n\n%s" runs.Length (Array.sum sums.Counts) sums.Counts.Length (NnftCorrelators.report result)

    /// The merger the catalog registers for nnft-correlators.
    let merger : Merger = { Experiments = [ "nnft-correlators" ]; Check = (fun _ -> None); Merge = mergeInto }
