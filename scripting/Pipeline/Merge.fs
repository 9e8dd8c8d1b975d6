namespace Hybrid.Scripting.Pipeline

open System
open System.IO
open System.Text.Json.Nodes

/// One replica's run directory as the merge reads it back.
type ReplicaRun =
    { Path: string
      Experiment: string
      /// config.json's "parameters".
      Parameters: JsonObject
      /// measurements.csv.
      Measurements: Measurements }

/// How the runs of some experiments are merged: the capability's own analysis of the joined replicas. It writes the
/// merged analysis into the run directory and returns the report (Markdown) to print.
type Merger =
    { /// The experiments it merges, e.g. phi4-hmc, phi4-flow.
      Experiments: string list
      /// Why a run that merge has read cannot be merged (its measurements do not hold what the analysis needs), if
      /// so: checked for every run before anything is written.
      Check: ReplicaRun -> string option
      Merge: ReplicaRun list -> RunDirectory -> string }

/// Combining the run directories of independent replicas (e.g. the jobs of a Slurm array, each run with
/// `--replica K --replicas N`) into one analysis: every chain of every replica is one replica of the Γ-method.
/// The checks are the same for every experiment; the analysis is the capability's (a Merger).
module Merge =

    /// Parameters that differ between replicas by design; everything else must agree.
    let perReplica = set [ "seed"; "replica"; "replicas"; "root_seed"; "checkpoint"; "resume"; "device" ]

    let private read (mergers: Merger list) (dir: string) : ReplicaRun =
        if not (Directory.Exists dir) then raise (UsageError(sprintf "run directory '%s' does not exist" dir))
        (try (RunDirectory.readSummary dir).Dispose() with :? InvalidDataException as e -> raise (UsageError e.Message))
        let known = mergers |> List.collect (fun m -> m.Experiments)
        let configFile = Path.Combine(dir, "config.json")
        if not (File.Exists configFile) then
            let merged =
                try JsonNode.Parse(File.ReadAllText(Path.Combine(dir, RunDirectory.CompleteMarker))).["experiment"].GetValue<string>() = "merge"
                with _ -> false
            if merged then
                raise (UsageError(sprintf "run directory '%s' is the output of merge, not a replica; merge the replicas it was made from together with the new ones" dir))
            raise (UsageError(sprintf "run directory '%s' has no config.json, so it is not a run that merge can read" dir))
        let config, experiment, parameters =
            try
                let config = JsonNode.Parse(File.ReadAllText configFile).AsObject()
                config, config.["experiment"].GetValue<string>(), config.["parameters"].AsObject()
            with
            | :? Text.Json.JsonException
            | :? NullReferenceException
            | :? InvalidOperationException
            | :? FormatException as e ->
                raise (UsageError(sprintf "'%s' is damaged or not a Hybrid run configuration (%s)" configFile (e.Message.Split('\n').[0].Trim())))
        ignore config
        if not (List.contains experiment known) then
            raise (UsageError(sprintf "run directory '%s' holds a %s run; merge combines replicas of %s" dir experiment (String.concat ", " known)))
        let measurementsFile = Path.Combine(dir, "measurements.csv")
        if not (File.Exists measurementsFile) then
            raise (UsageError(sprintf "run directory '%s' has no measurements.csv, so it cannot be merged" dir))
        let measurements =
            try Measurements.read measurementsFile
            with :? InvalidDataException as e -> raise (UsageError e.Message)
        let run = { Path = dir; Experiment = experiment; Parameters = parameters; Measurements = measurements }
        let merger = mergers |> List.find (fun m -> List.contains experiment m.Experiments)
        match merger.Check run with
        | Some reason -> raise (UsageError(sprintf "run directory '%s' cannot be merged: %s" dir reason))
        | None -> run

    /// Differences of the parameters that must agree, named key by key.
    let private differences (a: ReplicaRun) (b: ReplicaRun) =
        let keys = Seq.append (a.Parameters |> Seq.map (fun kv -> kv.Key)) (b.Parameters |> Seq.map (fun kv -> kv.Key)) |> Seq.distinct
        [ for k in keys do
              if not (perReplica.Contains k) then
                  let text (o: JsonObject) = match o.[k] with null -> "(absent)" | v -> v.ToJsonString()
                  if text a.Parameters <> text b.Parameters then
                      yield sprintf "%s is %s in '%s' but %s in '%s'" k (text a.Parameters) a.Path (text b.Parameters) b.Path ]

    /// The parameters all replicas share (config.json's without the per-replica ones), for the merged summary.
    let sharedParameters (runs: ReplicaRun list) =
        let parameters = runs.Head.Parameters.DeepClone().AsObject()
        for k in perReplica do parameters.Remove k |> ignore
        parameters

    let private usage (mergers: Merger list) =
        "merge — combine the run directories of independent replicas of one experiment into one analysis\n\n"
        + "Usage: dotnet fsi scripts.fsx merge DIR DIR... [--out DIR] [--force]\n\n"
        + sprintf "Every directory must be a complete run of one of %s, of the same experiment and parameters (seeds differ);\n" (mergers |> List.collect (fun m -> m.Experiments) |> String.concat ", ")
        + "the samples of every directory (Markov chains, blocks of networks, paths) are analysed together, so the merged error is that of one run over all of them."

    /// Runs `merge DIR... [--out DIR] [--force]`; returns the exit code.
    let execute (mergers: Merger list) (argv: string list) : int =
        match argv with
        | [] | [ "--help" ] | [ "help" ] | [ "-h" ] -> printfn "%s" (usage mergers); 0
        | _ ->
            let rec split dirs out force args =
                match args with
                | [] -> List.rev dirs, out, force
                | [ "--out" ] -> raise (UsageError "option '--out' needs a value")
                | "--out" :: path :: rest -> split dirs (Some path) force rest
                | "--force" :: rest -> split dirs out true rest
                | (a: string) :: _ when a.StartsWith "--" -> raise (UsageError(sprintf "unknown option '%s'; allowed: --out DIR, --force" a))
                | d :: rest -> split (d :: dirs) out force rest
            try
                let dirs, out, force = split [] None false argv
                if dirs.Length < 2 then raise (UsageError(sprintf "merge needs at least two run directories, got %d" dirs.Length))
                match out with
                | Some o when force && RunDirectory.wouldClear o ->
                    for d in dirs do
                        if RunDirectory.contains o d then
                            raise (UsageError(sprintf "run directory '%s' lies inside --out %s, which --force would clear before merge reads it; give a new --out" d o))
                | _ -> ()
                let runs = dirs |> List.map (read mergers)
                let first = runs.Head
                for r in runs.Tail do
                    if r.Experiment <> first.Experiment then
                        raise (UsageError(sprintf "'%s' is a %s run but '%s' a %s run; merge combines replicas of one experiment" r.Path r.Experiment first.Path first.Experiment))
                    match differences first r with
                    | [] -> ()
                    | d -> raise (UsageError(sprintf "these runs are not replicas of one experiment: %s" (String.concat "; " d)))
                let seeds = runs |> List.map (fun r -> r.Parameters.["seed"].ToJsonString())
                if (List.distinct seeds).Length < seeds.Length then
                    raise (UsageError "two of these runs used the same seed, so they are not independent replicas; run each with its own --replica K --replicas N")
                let claimed =
                    match out with
                    | Some path -> RunDirectory.claim force path
                    | None -> RunDirectory.claimDefault "merge" DateTime.Now
                match claimed with
                | Error message -> eprintfn "error: %s" message; Experiment.BadInput
                | Ok dir ->
                    try
                        let merger = mergers |> List.find (fun m -> List.contains first.Experiment m.Experiments)
                        let report = merger.Merge runs dir
                        RunDirectory.complete dir "merge"
                        printfn "\n%s" report
                        printfn "Results: %s" dir.Path
                        0
                    finally
                        RunDirectory.release dir
            with UsageError message ->
                eprintfn "error: %s (see 'dotnet fsi scripts.fsx merge help')" message
                Experiment.BadInput

    /// The command as the catalog lists it.
    let command (mergers: Merger list) : Command =
        { Name = "merge"
          Description = "combine run directories of independent replicas (--replica K --replicas N) into one Γ-method analysis"
          Options = []
          Execute = execute mergers }
