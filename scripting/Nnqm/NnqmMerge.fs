namespace Hybrid.Scripting.Nnqm

open System.IO
open System.Text.Json.Nodes
open Hybrid.Runtime
open Hybrid.Scripting.Pipeline

/// Merging replicas of `nnqm-spectrum`: every replica's paths are independent draws of the same process, so the
/// merged paths are one set of independent paths, analysed exactly as one run over all of them would be.
module NnqmMerge =

    /// The configuration a replica ran with, from its config.json parameters (what the analysis needs).
    let private config (p: JsonObject) : NnqmSpectrumConfig =
        let number (name: string) = p.[name].GetValue<float>()
        let integer (name: string) = p.[name].GetValue<int>()
        let proc =
            match p.["process"].GetValue<string>() with
            | "ou" -> Ou
            | "erf-ou" -> ErfOu(number "a")
            | "deep-ou" -> DeepOu(integer "width", number "sigma_w")
            | "anharmonic" -> Anharmonic(number "g")
            | other -> raise (UsageError(sprintf "nnqm-spectrum process '%s' is not known to this version of merge" other))
        { Process = proc; Omega = number "omega"; Paths = integer "paths"; Dt = number "dt"; Length = number "T"
          Substeps = (match proc with Anharmonic _ -> integer "substeps" | _ -> 1)
          FitUntil = number "fit_until"; States = integer "states"; SelectStates = p.["select_states"].GetValue<bool>()
          Seed = p.["seed"].GetValue<int64>(); RootSeed = p.["root_seed"].GetValue<int64>(); Replica = None; Device = ComputeDevice.Cpu }

    /// The Langevin acceptance a replica's summary.json records (anharmonic diffusion only).
    let private acceptance (r: ReplicaRun) =
        let summary = JsonNode.Parse(File.ReadAllText(Path.Combine(r.Path, "summary.json")))
        match summary.["acceptance"] with
        | null -> None
        | a -> Some(a.GetValue<float>())

    /// Why the paths of a run do not fit the configuration `c` its config.json records, if they do not.
    let private pathsProblem (c: NnqmSpectrumConfig) (m: Measurements) =
        let steps = int (c.Length / c.Dt) + 1
        if not (m.Has "y") then Some "its measurements.csv holds no paths (no column y); run it again to keep them"
        elif m.["y"].Length <> c.Paths || m.["y"] |> Array.exists (fun p -> p.Length <> steps) then
            Some(sprintf "its measurements.csv does not hold the %d paths of %d steps of its config.json" c.Paths steps)
        else None

    /// Why a run cannot be merged: its measurements.csv does not hold the paths its config.json says it sampled.
    let check (r: ReplicaRun) =
        let parsed =
            try Ok(config r.Parameters)
            with
            | :? System.NullReferenceException
            | :? System.InvalidOperationException
            | :? System.FormatException as e -> Error e.Message
        match parsed with
        | Error message -> Some(sprintf "its config.json lacks what nnqm-spectrum records (%s)" message)
        | Ok c -> pathsProblem c r.Measurements

    /// Analyses the joined paths and writes the merged run.
    let mergeInto (runs: ReplicaRun list) (dir: RunDirectory) =
        let parts = runs |> List.map (fun r -> NnqmSpectrum.ofMeasurements r.Measurements)
        let values = parts |> List.map fst |> Array.concat
        let paths = parts |> List.sumBy snd
        let first = config runs.Head.Parameters
        // Equal numbers of paths per replica (merge checks that --paths agrees): the mean acceptance is that of all.
        let accepted =
            match runs |> List.map acceptance with
            | list when list |> List.forall Option.isSome -> Some(list |> List.averageBy Option.get)
            | _ -> None
        let result = NnqmSpectrum.analyse { first with Paths = paths } values accepted 0.0
        NnqmSpectrum.write dir result
        // The merged summary says what it merged, on top of what nnqm-spectrum writes.
        let summary = JsonNode.Parse(File.ReadAllText(dir.File "summary.json")).AsObject()
        let parameters = Merge.sharedParameters runs
        parameters.["paths"] <- Json.integer paths
        summary.["experiment"] <- Json.text "merge"
        summary.["merged_experiment"] <- Json.text "nnqm-spectrum"
        summary.["sources"] <- Json.array [ for r in runs -> Json.text (Path.GetFullPath r.Path) ]
        summary.["parameters"] <- parameters
        Json.write (dir.File "summary.json") summary
        sprintf "## Merged nnqm-spectrum: %d run directories, %d paths in all\n\n%s" runs.Length paths (NnqmSpectrum.report result)

    /// The merger the catalog registers for nnqm-spectrum.
    let merger : Merger = { Experiments = [ "nnqm-spectrum" ]; Check = check; Merge = mergeInto }
