namespace Hybrid.Scripting.O3

open System
open System.IO
open System.Text.Json.Nodes
open Hybrid.Analysis.Statistics
open Hybrid.Scripting.Pipeline

/// Measured VMC states kept as files, one per (L, g², state), each beside the training checkpoint of its state
/// (trained parameters, optimiser and sampler): the checkpoints of the long O(3) studies. A study skips every state its
/// points directory already holds and resumes a state whose training was interrupted from its checkpoint, so a study
/// killed at any moment resumes where it stopped, and
/// several processes (replicas on a cluster, one per size) can fill one shared directory that a last run collects.
/// Each file records the VMC settings it was measured with; a directory measured with other settings is refused.
module O3Points =

    let private fileName (sites: int) (g2: float) (state: RotorState) =
        FormattableString.Invariant $"L{sites}-g2-{g2:R}-{RotorState.name state}.json"

    // Json.number writes NaN as null.
    let private value (node: JsonNode) = if isNull node then nan else node.GetValue<float>()

    /// The training curve kept in a points file (energy, error, variance per step; none in files that predate it),
    /// so that a reused state still carries its energy to zero variance.
    let private curve (o: JsonNode) : (float * float * float)[] =
        match o.["curve"] with
        | null -> [||]
        | c ->
            let column (name: string) = [| for x in c.[name].AsArray() -> value x |]
            let e, err, v = column "energy", column "error", column "variance"
            if e.Length <> err.Length || e.Length <> v.Length then raise (FormatException "its training curve has columns of different lengths")
            Array.init e.Length (fun i -> e.[i], err.[i], v.[i])

    let private firstStep (o: JsonNode) =
        match o.["curve"] with
        | null -> 1
        | c -> c.["first_step"].GetValue<int>()

    let private curveJson (r: StateResult) =
        Json.object
            [ "first_step", Json.integer (int64 r.FirstStep)
              "energy", Json.numbers (r.Curve |> Array.map (fun (e, _, _) -> e))
              "error", Json.numbers (r.Curve |> Array.map (fun (_, e, _) -> e))
              "variance", Json.numbers (r.Curve |> Array.map (fun (_, _, v) -> v)) ]

    /// A points file read back: its VMC settings (as JSON text) and its state, or why it cannot be read (one line).
    let private parse (state: RotorState) (file: string) : Result<string * StateResult, string> =
        try
            let o = JsonNode.Parse(File.ReadAllText file)
            let e = o.["energy"]
            // Files written before the whole estimate was kept lack these fields (a NaN is written as null).
            let stored (name: string) (absent: float) = if e.AsObject().ContainsKey name then value e.[name] else absent
            let energy =
                { Estimate.independent (value e.["mean"]) (value e.["error"]) (e.["samples"].GetValue<int>()) with
                    TauInt = value e.["tau_int"]; RHat = value e.["r_hat"]
                    TauIntError = stored "tau_int_error" 0.0; Variance = stored "variance" (float (e.["samples"].GetValue<int>()) * value e.["error"] ** 2.0)
                    Window = int (stored "window" 0.0) }
            let number (name: string) = value o.[name]
            let settings = o.["settings"].ToJsonString()
            Ok(settings,
               { State = state; Sites = o.["L"].GetValue<int>(); G2 = number "g2"; Energy = energy; Variance = number "variance"
                 TailFraction = number "tail_fraction_5sigma"; MaxDeviation = number "max_deviation_sigma"; Acceptance = number "acceptance"
                 Parameters = o.["parameters"].GetValue<int64>(); Curve = curve o; FirstStep = firstStep o; TrainSeconds = number "train_seconds"; StepSeconds = number "seconds_per_step"
                 MeasureSeconds = number "measure_seconds"; PeakMemory = o.["peak_memory_bytes"].GetValue<int64>()
                 Warnings =
                   match o.["warnings"] with
                   | :? JsonArray as a -> [ for w in a -> w.GetValue<string>() ]
                   | _ -> [] })
        with
        | :? Text.Json.JsonException
        | :? NullReferenceException
        | :? InvalidOperationException
        | :? FormatException
        | :? ArgumentException
        | :? IOException
        | :? UnauthorizedAccessException as ex ->
            let reason = ex.Message.Split('\n').[0].Trim()
            Error(sprintf "%s is damaged or not a measured state of Hybrid (%s); remove it (its state is then measured again) or give another --points" file reason)

    /// Refuses (UsageError, before any work) a points directory with a file that cannot be read back (truncated, empty,
    /// foreign, lacking a field), a damaged training checkpoint, or files measured under other settings.
    let check (dir: string option) (settings: VmcSettings) =
        match dir with
        | Some d when Directory.Exists d ->
            let expected = (Json.object (O3Vmc.describeSettings settings)).ToJsonString()
            for file in Directory.GetFiles(d, "L*-g2-*.json") do
                match parse Ground file with
                | Error message -> raise (UsageError(sprintf "--points %s: %s" d message))
                | Ok(recorded, _) when recorded <> expected ->
                    raise (UsageError(sprintf "--points %s holds %s, measured with other VMC settings (%s, now %s); use another directory or the same settings" d (Path.GetFileName file) recorded expected))
                | Ok _ -> ()
            for file in Directory.GetFiles(d, "L*-g2-*.ckpt") do
                try
                    Hybrid.IO.Checkpoint.ReadHeader file |> ignore
                with :? InvalidDataException as e ->
                    raise (UsageError(sprintf "--points %s: %s (remove it: its state then trains from the start)" d e.Message))
        | Some d when File.Exists d -> raise (UsageError(sprintf "--points %s is a file; give a directory" d))
        | _ -> ()

    /// A stored state, if its file is there; a file that cannot be read (written by another process after the check)
    /// stops the run with a one-line diagnosis.
    let private read (state: RotorState) (file: string) : StateResult option =
        if not (File.Exists file) then None
        else
            match parse state file with
            | Ok(_, r) -> Some r
            | Error message -> raise (Hybrid.Diagnostics.RunStoppedException message)

    /// The state at (L, g²): from the points directory when it is there, else measured and stored (atomically).
    let state (dir: string option) (sites: int) (g2: float) (state: RotorState) (settings: VmcSettings) : StateResult =
        let file = dir |> Option.map (fun d -> Path.Combine(d, fileName sites g2 state))
        match file |> Option.bind (read state) with
        | Some r ->
            printfn "reusing %s" file.Value
            r
        | None ->
            // The state's training checkpoint (parameters, optimiser, sampler) lives beside its result: a study killed
            // in the middle of a state resumes that state from its last checkpoint, not from scratch.
            let checkpoint =
                file |> Option.map (fun f ->
                    Directory.CreateDirectory(Path.GetDirectoryName f) |> ignore
                    let c = Path.ChangeExtension(f, ".ckpt")
                    c, File.Exists c)
            let r = O3Vmc.runState sites g2 state settings checkpoint
            file |> Option.iter (fun f ->
                let fields =
                    match O3Vmc.stateJson r with
                    | :? JsonObject as o -> [ for kv in o -> kv.Key, kv.Value.DeepClone() ]
                    | _ -> []
                Json.write f (Json.object ([ "L", Json.integer (int64 sites); "g2", Json.number g2; "state", Json.text (RotorState.name state)
                                             "settings", Json.object (O3Vmc.describeSettings settings) ] @ fields @ [ "curve", curveJson r ])))
            r

    /// The --points option.
    let option = CommandLine.optional "points" TextOption "directory of measured states to reuse and extend (resume; share between replicas); default points/ in the run directory"
