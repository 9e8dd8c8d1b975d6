namespace Hybrid.Scripting.Pipeline

open System
open System.IO
open System.Text
open System.Text.Json
open System.Text.Json.Nodes

/// Writes that a crash can never leave half done (temporary file, flush, rename): the core's
/// Hybrid.IO.AtomicFile with text writers.
module AtomicFile =

    /// Writes a file atomically through a stream writer (for large outputs such as CSV).
    let write (path: string) (writeContent: TextWriter -> unit) =
        Hybrid.IO.AtomicFile.Write(
            path,
            fun stream ->
                use writer = new StreamWriter(stream, UTF8Encoding(false), 65536, leaveOpen = true)
                writeContent writer)

    /// Writes a text file atomically.
    let writeText (path: string) (text: string) = write path (fun w -> w.Write text)

/// JSON documents of a run (config.json, summary.json), built as nodes and written atomically.
module Json =

    /// A number, or null where it is not finite (JSON has no NaN).
    let number (x: float) : JsonNode =
        if Double.IsFinite x then JsonValue.Create x :> JsonNode else null

    /// A string node.
    let text (s: string) : JsonNode = JsonValue.Create s :> JsonNode

    /// An integer node.
    let integer (i: int64) : JsonNode = JsonValue.Create i :> JsonNode

    /// An object from (name, value) pairs, in order.
    let object (fields: (string * JsonNode) list) : JsonNode =
        let o = JsonObject()
        for name, value in fields do
            o.Add(name, value)
        o :> JsonNode

    /// An array node of nodes.
    let array (items: JsonNode list) : JsonNode =
        let a = JsonArray()
        for x in items do
            a.Add x
        a :> JsonNode

    /// An array node of numbers.
    let numbers (xs: float seq) : JsonNode =
        let a = JsonArray()
        for x in xs do
            a.Add(number x)
        a :> JsonNode

    /// Pretty-printed JSON text.
    let serialize (node: JsonNode) =
        node.ToJsonString(JsonSerializerOptions(WriteIndented = true, Encoder = Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping))

    /// Writes a JSON document atomically.
    let write (path: string) (node: JsonNode) = AtomicFile.writeText path (serialize node + "\n")

/// The directory of one run: runs/<experiment>/<yyyyMMdd-HHmmss>/ or a directory the user chose.
type RunDirectory =
    { Path: string }

    /// The full path of a file of this run.
    member this.File(name: string) = System.IO.Path.Combine(this.Path, name)

/// Claiming, completing and reading run directories. A run claims its directory before any work (a claim file that
/// only one process can create), writes its files atomically, and writes the completion marker last; readers accept
/// only directories that carry the marker.
module RunDirectory =

    /// Written last by every run that finished: its presence says every other file of the run is in place.
    [<Literal>]
    let CompleteMarker = "run-complete.json"

    /// Created with CreateNew when a run claims its directory, removed when the run ends.
    [<Literal>]
    let private ClaimFile = ".run-claim"

    /// The default location of a new run of an experiment: runs/<experiment>/<timestamp>/ below the current directory.
    let defaultPath (experiment: string) (started: DateTime) =
        Path.Combine("runs", experiment, started.ToString("yyyyMMdd-HHmmss", Globalization.CultureInfo.InvariantCulture))

    /// Whether a run finished writing into `path` (its completion marker exists).
    let isComplete (path: string) = File.Exists(Path.Combine(path, CompleteMarker))

    /// The summary.json of a finished run; refuses a directory whose run did not finish.
    /// Raises InvalidDataException naming the directory and what is missing.
    let readSummary (path: string) : JsonDocument =
        if not (isComplete path) then
            raise (InvalidDataException(sprintf "run directory '%s' is incomplete: it has no %s, so its run was interrupted or stopped with a diagnosis" path CompleteMarker))
        JsonDocument.Parse(File.ReadAllText(Path.Combine(path, "summary.json")))

    let private claimant (full: string) =
        try
            match Int32.TryParse(File.ReadAllText(Path.Combine(full, ClaimFile)).Trim()) with
            | true, pid ->
                try
                    use p = Diagnostics.Process.GetProcessById pid
                    if p.HasExited then None else Some pid
                with :? ArgumentException -> None
            | _ -> None
        with :? IOException | :? UnauthorizedAccessException -> None

    /// Whether `path` lies in the directory `dir` (or is it), after resolving both to full paths.
    let contains (dir: string) (path: string) =
        try
            let d = Path.TrimEndingDirectorySeparator(Path.GetFullPath dir)
            let p = Path.TrimEndingDirectorySeparator(Path.GetFullPath path)
            p = d || p.StartsWith(d + string Path.DirectorySeparatorChar, StringComparison.Ordinal)
        with :? ArgumentException | :? NotSupportedException -> false

    /// Whether `--force` on `path` would remove files: a directory that exists and is not empty.
    let wouldClear (path: string) =
        try Directory.Exists path && Directory.GetFileSystemEntries(path).Length > 0
        with :? IOException | :? UnauthorizedAccessException -> false

    /// Claims `path` for a new run: creates it, proves it writable and takes it with a claim file that only one
    /// process can create. A directory that already holds files is refused, unless `force` is set and they are an
    /// earlier Hybrid run that nobody is writing (then they are removed first).
    let claim (force: bool) (path: string) : Result<RunDirectory, string> =
        try
            let full = Path.GetFullPath path
            if File.Exists full then
                Error(sprintf "output directory '%s' is a file; give a directory path that can be created and written" path)
            else
                Directory.CreateDirectory full |> ignore
                let entries = Directory.GetFileSystemEntries full
                let earlierRun = [ "config.json"; CompleteMarker; ClaimFile ] |> List.exists (fun f -> File.Exists(Path.Combine(full, f)))
                let blocked =
                    if entries.Length = 0 then None
                    else
                        match claimant full with
                        | Some pid -> Some(sprintf "output directory '%s' is in use by another run (process %d)" path pid)
                        | None when not force -> Some(sprintf "output directory '%s' is not empty; give a new directory, or add --force to replace the earlier run in it" path)
                        | None when not earlierRun -> Some(sprintf "output directory '%s' holds files that are not a Hybrid run; --force replaces only an earlier run" path)
                        | None ->
                            for e in entries do
                                if Directory.Exists e then Directory.Delete(e, true) else File.Delete e
                            None
                match blocked with
                | Some message -> Error message
                | None ->
                    use claimStream = new FileStream(Path.Combine(full, ClaimFile), FileMode.CreateNew, FileAccess.Write)
                    let pid = Text.Encoding.ASCII.GetBytes(string Environment.ProcessId)
                    claimStream.Write(pid, 0, pid.Length)
                    Ok { Path = full }
        with
        | :? IOException when Directory.Exists path && File.Exists(Path.Combine(Path.GetFullPath path, ClaimFile)) ->
            Error(sprintf "output directory '%s' is in use by another run" path)
        | :? UnauthorizedAccessException
        | :? ArgumentException
        | :? NotSupportedException
        | :? IOException as e ->
            Error(sprintf "output directory '%s' cannot be written (%s); give a directory path that can be created and written" path e.Message)

    /// Claims the default directory of a run started at `started`: runs/<experiment>/<timestamp>/, or with a suffix
    /// -2, -3, … when another run has that name (two runs started in the same second never share a directory).
    let claimDefault (experiment: string) (started: DateTime) : Result<RunDirectory, string> =
        let basePath = defaultPath experiment started
        let rec attempt k =
            let path = if k = 1 then basePath else sprintf "%s-%d" basePath k
            let taken = Directory.Exists path && Directory.GetFileSystemEntries(path).Length > 0
            if k > 1000 then Error(sprintf "no free run directory next to '%s'" basePath)
            elif taken then attempt (k + 1)
            else
                match claim false path with
                | Ok dir -> Ok dir
                | Error _ when Directory.Exists path && Directory.GetFileSystemEntries(path).Length > 0 -> attempt (k + 1)
                | Error message -> Error message
        attempt 1

    /// A subdirectory of a claimed run (e.g. one sampler of a comparison): created and claimed the same way.
    let sub (dir: RunDirectory) (name: string) : RunDirectory =
        match claim false (dir.File name) with
        | Ok d -> d
        | Error message -> raise (IOException message)

    /// Writes the completion marker (last of all the run's files) and releases the claim.
    let complete (dir: RunDirectory) (experiment: string) =
        Json.write (dir.File CompleteMarker) (Json.object [ "experiment", Json.text experiment; "finished", Json.text (DateTime.UtcNow.ToString "o") ])
        File.Delete(dir.File ClaimFile)

    /// Releases the claim of a run that stopped without completing (its files stay for inspection).
    let release (dir: RunDirectory) =
        try File.Delete(dir.File ClaimFile) with :? IOException -> ()
