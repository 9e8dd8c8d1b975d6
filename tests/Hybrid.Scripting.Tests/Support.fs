/// What the scripting test suites share: running the command line into a fresh directory and reading its summary.
module Hybrid.Scripting.Tests.Support

open System
open System.IO
open System.Text.Json
open Expecto
open Hybrid.Scripting
open Hybrid.Scripting.Pipeline
open Hybrid.Scripting.Phi4

let private created = System.Collections.Concurrent.ConcurrentQueue<string>()

/// A fresh temporary directory, removed when the suites end (a failed test would otherwise leave its run behind, and
/// a passing one that forgot to clean up would fill the temporary folder run after run).
let newDirectory (prefix: string) =
    let dir = Directory.CreateTempSubdirectory(prefix).FullName
    created.Enqueue dir
    dir

/// Removes every directory `newDirectory` made that is still there; one that cannot be removed is named on stderr.
let removeDirectories () =
    for dir in created do
        if Directory.Exists dir then
            try Directory.Delete(dir, true)
            with e -> eprintfn "could not remove %s: %s" dir e.Message

/// Runs the command line with `--out` set to a fresh directory, expects success, returns the directory.
let runInto (argv: string list) =
    let dir = newDirectory "hybrid-run"
    Expect.equal (Catalog.main (argv @ [ "--out"; dir ])) 0 (sprintf "the run %A succeeds" argv)
    dir

/// (mean, error, τ_int) of an observable in a run's summary.json.
let observable (dir: string) (name: string) =
    use summary = RunDirectory.readSummary dir
    let o = summary.RootElement.GetProperty("observables").GetProperty(name)
    o.GetProperty("mean").GetDouble(), o.GetProperty("error").GetDouble(), o.GetProperty("tau_int").GetDouble()

/// Runs the command line with one console stream redirected; returns (exit code, what it wrote there).
let private runCapturing (get: unit -> TextWriter) (set: TextWriter -> unit) (argv: string list) =
    let original = get ()
    use writer = new StringWriter()
    set writer
    try
        let code = Catalog.main argv
        code, writer.ToString()
    finally
        set original

/// Runs the command line with stderr captured; returns (exit code, stderr text).
let runCapturingErrors (argv: string list) = runCapturing (fun () -> Console.Error) Console.SetError argv

/// Runs the command line with stdout captured; returns (exit code, standard output: the progress and resume lines).
let runCapturingOutput (argv: string list) = runCapturing (fun () -> Console.Out) Console.SetOut argv

/// The chart part of a run's HTML plot (after the inlined plotly.js): what the axes, traces and lines say.
let chartOf (dir: string) (file: string) =
    let html = File.ReadAllText(Path.Combine(dir, file))
    html.Substring(html.IndexOf "<div id=\"hybrid-chart\"")

/// The repository root (the folder holding scripts.fsx), found upwards from the test binary.
let repositoryRoot =
    lazy
        (let rec up (dir: DirectoryInfo) =
            if isNull dir then failwith "scripts.fsx not found above the test binary"
            elif File.Exists(Path.Combine(dir.FullName, "scripts.fsx")) then dir.FullName
            else up dir.Parent
         up (DirectoryInfo AppContext.BaseDirectory))

/// Runs `dotnet fsi ARGS` in the repository root (without the MSBuild environment a test host may carry); returns
/// (exit code, standard output, standard error), or fails after `minutes`.
let private runFsi (args: string list) (minutes: float) =
    let info = Diagnostics.ProcessStartInfo("dotnet", "fsi" :: args, WorkingDirectory = repositoryRoot.Value,
                                            UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true)
    for name in [ "MSBuildSDKsPath"; "MSBUILD_EXE_PATH"; "MSBuildExtensionsPath" ] do
        info.Environment.Remove name |> ignore
    use p = Diagnostics.Process.Start info
    let stdout = p.StandardOutput.ReadToEndAsync()
    let stderr = p.StandardError.ReadToEndAsync()
    if not (p.WaitForExit(TimeSpan.FromMinutes minutes)) then
        p.Kill true
        failwithf "dotnet fsi %s did not finish within %g minutes" (String.concat " " args) minutes
    p.ExitCode, stdout.Result, stderr.Result

/// Runs `dotnet fsi scripts.fsx ARGS` in the repository root, as a user would (against the Release build of
/// scripting/); returns (exit code, standard output, standard error).
let runScript (argv: string list) = runFsi ("scripts.fsx" :: argv) 10.0

/// Runs several command lines through scripts.fsx in ONE `dotnet fsi` process (its F# start-up, 5–10 s, is paid once):
/// scripts.fsx itself, with its closing `exit (Catalog.main …)` replaced by a loop over the command lines, so the
/// runs go through the same references, runtime loader and entry point as a user's. Returns (exit code, standard
/// output) per command line, in order; a command whose marker is missing (the process died) gets exit code −1.
let runScripts (commands: string list list) : (int * string) list =
    let root = repositoryRoot.Value
    let script = File.ReadAllText(Path.Combine(root, "scripts.fsx"))
    let entry = script.LastIndexOf "exit (Catalog.main"
    if entry < 0 then failwith "scripts.fsx no longer ends in exit (Catalog.main …): update runScripts"
    let dir = newDirectory "hybrid-batch"
    let list = Path.Combine(dir, "commands.txt")
    File.WriteAllLines(list, commands |> List.map (String.concat "\t"))
    let batch =
        script.Substring(0, entry).Replace("#I \"scripting/bin/Release/net10.0\"", sprintf "#I %s" (JsonSerializer.Serialize(Path.Combine(root, "scripting/bin/Release/net10.0"))))
        + sprintf "for i, line in Array.indexed (System.IO.File.ReadAllLines %s) do\n" (JsonSerializer.Serialize list)
        + "    printfn \"@@hybrid-run %d\" i\n"
        + "    let code = try Catalog.main (List.ofArray (line.Split '\\t')) with e -> eprintfn \"%O\" e; 99\n"
        + "    printfn \"@@hybrid-exit %d %d\" i code\n"
    let file = Path.Combine(dir, "batch.fsx")
    File.WriteAllText(file, batch)
    let code, out, err = runFsi [ file ] 20.0
    if code <> 0 then failwithf "the batch of scripts.fsx runs exited %d; stderr:\n%s" code err
    [ for i in 0 .. commands.Length - 1 ->
          let start = out.IndexOf(sprintf "@@hybrid-run %d\n" i)
          let exit = out.IndexOf(sprintf "@@hybrid-exit %d " i)
          if start < 0 || exit < 0 then -1, err
          else
              let codeText = out.Substring(exit).Split('\n').[0].Split(' ').[2]
              int codeText, out.Substring(start, exit - start) ]

/// Starts `dotnet fsi scripts.fsx ARGS`, kills it (as kill -9 would: no cleanup) as soon as `ready ()` holds, and
/// waits for it to be gone.
let killWhen (args: string list) (ready: unit -> bool) =
    let info = Diagnostics.ProcessStartInfo("dotnet", [ "fsi"; "scripts.fsx" ] @ args, WorkingDirectory = repositoryRoot.Value, UseShellExecute = false, RedirectStandardOutput = true)
    for name in [ "MSBuildSDKsPath"; "MSBUILD_EXE_PATH"; "MSBuildExtensionsPath" ] do info.Environment.Remove name |> ignore
    use p = Diagnostics.Process.Start info
    p.OutputDataReceived.Add ignore
    p.BeginOutputReadLine()
    let clock = Diagnostics.Stopwatch.StartNew()
    while not (ready ()) && not p.HasExited && clock.Elapsed.TotalMinutes < 5.0 do
        Threading.Thread.Sleep 20
    let killedEarly = not p.HasExited
    p.Kill true
    p.WaitForExit()
    killedEarly
