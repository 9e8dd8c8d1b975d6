namespace Hybrid.Scripting.Pipeline

open System
open Hybrid.Runtime
open Hybrid.Sampling

/// Which replica of a set of independent runs this is (for clusters: one job of a Slurm array each).
type Replica =
    { Index: int
      Count: int }

/// Options every experiment that samples or trains shares, in three groups: the seed (--seed), replicas of independent
/// runs (--replica K --replicas N, each replica's seed derived from --seed by Seeds.Replica) and the device (--device).
/// An experiment takes the seed group, the replica group where it samples (with a help text that says how its
/// replicas combine) and the device group where its tensors can live on a GPU.
module CommonOptions =

    /// --seed.
    let seedOptions =
        [ CommandLine.option "seed" IntOption "1" "random seed (with --replica: the root seed of the set of replicas, each replica's own seed derived from it)" ]

    /// How the replicas of an experiment that `merge` reads combine.
    let merged = "the replicas combine with 'merge' into one analysis of all their samples"

    /// How the replicas of an experiment that `merge` does not read combine: `how`.
    let notMerged (how: string) = sprintf "'merge' does not combine them: %s" how

    /// --replica K, --replicas N; `combine` says how this experiment's replicas combine (`merged`, or `notMerged` how).
    let replicaOptionsWith (combine: string) =
        [ CommandLine.optional "replica" IntOption (sprintf "this run's replica index K in 0..N−1 (with --replicas N): its seed is derived from --seed and K, independent of the other replicas'; %s" combine)
          CommandLine.optional "replicas" IntOption "the number N of replicas (with --replica K)" ]

    /// --device; `what` says what lives on it.
    let deviceOptionsWith (what: string) =
        [ CommandLine.option "device" TextOption "auto" (sprintf "auto | cpu | cuda: %s (auto: CUDA when available)" what) ]

    /// --seed, --replica, --replicas (replicas that `combine` as it says), --device (with `what` on it).
    let optionsWith (combine: string) (what: string) = seedOptions @ replicaOptionsWith combine @ deviceOptionsWith what

    /// --seed, --replica, --replicas, --device, for an experiment whose replicas `merge` combines.
    let options = optionsWith merged "where the tensors live"

    /// The replica, if the run is one of a set; both options or neither.
    let replica (o: ParsedOptions) : Replica option =
        match CommandLine.has o "replica", CommandLine.has o "replicas" with
        | false, false -> None
        | true, true ->
            let count = CommandLine.intIn o "replicas" 1L 1_000_000L |> CommandLine.required "replicas" |> int
            let index = CommandLine.intIn o "replica" 0L (int64 count - 1L) |> CommandLine.required "replica" |> int
            Some { Index = index; Count = count }
        | _ -> raise (UsageError "--replica K and --replicas N go together")

    /// The root seed as given.
    let rootSeed (o: ParsedOptions) = CommandLine.intIn o "seed" 0L Int64.MaxValue |> CommandLine.required "seed"

    /// The seed a run with root seed `root` uses: the root itself, or for a replica the seed derived from it.
    let seedOf (root: int64) (replica: Replica option) =
        match replica with
        | None -> root
        | Some r -> Seeds.Replica(root, r.Index)

    /// The seed this run uses: the root seed, or for a replica a seed derived from it (Seeds.Replica).
    let seed (o: ParsedOptions) = seedOf (rootSeed o) (replica o)

    /// The device choice, checked to be usable here (e.g. `cuda` without a GPU is refused before any work).
    let device (o: ParsedOptions) =
        let choice = CommandLine.validate (fun () -> TorchRuntime.ParseDevice(CommandLine.text o "device" |> Option.defaultValue "auto"))
        try
            TorchRuntime.Resolve choice |> ignore
        with :? InvalidOperationException as e ->
            raise (UsageError e.Message)
        choice

    /// The device of config.json: auto, cpu or cuda.
    let describeDevice (device: ComputeDevice) = "device", Json.text ((string device).ToLowerInvariant())

    /// The seed part of config.json: the seed the run used, the root seed it comes from, the replica index and count
    /// (null for a single run, whose seed is the root seed).
    let describeSeeds (rootSeed: int64) (replica: Replica option) =
        [ "seed", Json.integer (seedOf rootSeed replica)
          "root_seed", Json.integer rootSeed
          "replica", (match replica with Some r -> Json.integer r.Index | None -> null)
          "replicas", (match replica with Some r -> Json.integer r.Count | None -> null) ]

    /// The replica part of config.json beside a seed written on its own: the root seed, the replica index and count
    /// (null for a single run).
    let describeReplicaOf (rootSeed: int64) (replica: Replica option) = describeSeeds rootSeed replica |> List.tail

/// Where a training run keeps its checkpoint, and whether it resumes from it.
type CheckpointChoice =
    { /// The checkpoint file (None: checkpoint.bin in the run directory).
      File: string option
      /// Continue training from File.
      Resume: bool }

    /// The file to write: the given one, or checkpoint.bin in <paramref name="dir"/>.
    member c.PathIn(dir: RunDirectory) = c.File |> Option.defaultValue (dir.File "checkpoint.bin")

/// --checkpoint and --resume, shared by every experiment that trains: checked before any work, including that a
/// checkpoint to resume fits this run (Hybrid.IO.Checkpoint names every difference).
module CheckpointOptions =

    /// --checkpoint FILE, --resume with the help text of --resume (what resuming continues).
    let optionsWith (resumeHelp: string) =
        [ CommandLine.optional "checkpoint" TextOption "checkpoint file to write (default: checkpoint.bin in the run directory; an existing one is replaced only with --force)"
          CommandLine.optional "resume" FlagOption resumeHelp ]

    /// --checkpoint FILE, --resume (training runs).
    let options = optionsWith "continue training from --checkpoint up to --steps"

    /// Whether `path` starts as a Hybrid checkpoint does (its format string; whole or not).
    let isCheckpoint (path: string) =
        try
            use reader = new IO.BinaryReader(IO.File.OpenRead path, Text.Encoding.UTF8)
            let magic = reader.ReadString()
            magic.StartsWith "hybrid-checkpoint/" || magic.StartsWith "hybrid-flow-checkpoint/"
        with
        | :? IO.IOException
        | :? FormatException
        | :? UnauthorizedAccessException
        | :? ArgumentException -> false

    /// The choice, refused in one line when it cannot work: --resume without a file, a directory, a missing file, a
    /// place that cannot be written (training saves every tenth of its steps), or a checkpoint that does not fit
    /// <paramref name="expected"/>.
    let choice (o: ParsedOptions) (expected: Hybrid.IO.CheckpointHeader) : CheckpointChoice =
        let file = CommandLine.text o "checkpoint"
        let resume = CommandLine.switch o "resume"
        match file, resume with
        | None, true -> raise (UsageError "--resume needs --checkpoint FILE")
        | Some f, _ when IO.Directory.Exists f -> raise (UsageError(sprintf "--checkpoint %s is a directory; give the path of a checkpoint file" f))
        | Some f, true when not (IO.File.Exists f) -> raise (UsageError(sprintf "--checkpoint %s does not exist, so there is nothing to resume" f))
        | _ -> ()
        // A checkpoint is written over the file every tenth of the steps: never over a file that is not a checkpoint,
        // and over an earlier checkpoint only when asked (--resume continues it, --force replaces it).
        match file with
        | Some f when not resume && IO.File.Exists f ->
            if not (isCheckpoint f) then
                raise (UsageError(sprintf "--checkpoint %s exists and is not a Hybrid checkpoint; give a new path (the run would write its checkpoint over it)" f))
            elif not (CommandLine.switch o "force") then
                raise (UsageError(sprintf "--checkpoint %s already holds a checkpoint; add --resume to continue it, --force to replace it, or give a new path" f))
        | _ -> ()
        file |> Option.iter (CommandLine.writableFile "checkpoint")
        if resume then
            try
                Hybrid.IO.Checkpoint.CheckCompatible(file.Value, expected)
            with :? IO.InvalidDataException as e ->
                raise (UsageError e.Message)
        { File = file |> Option.map IO.Path.GetFullPath; Resume = resume }

    /// The config.json entries of the choice.
    let describe (c: CheckpointChoice) =
        [ "checkpoint", (match c.File with Some f -> Json.text f | None -> null)
          "resume", System.Text.Json.Nodes.JsonValue.Create c.Resume ]
