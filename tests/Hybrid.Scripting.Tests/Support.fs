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

/// Runs the command line with stderr captured; returns (exit code, stderr text).
let runCapturingErrors (argv: string list) =
    let original = Console.Error
    use writer = new StringWriter()
    Console.SetError writer
    try
        let code = Catalog.main argv
        code, writer.ToString()
    finally
        Console.SetError original

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

/// Runs `dotnet fsi scripts.fsx ARGS` in the repository root, as a user would (against the Release build of
/// scripting/); returns (exit code, standard output, standard error).
let runScript (argv: string list) =
    let info = Diagnostics.ProcessStartInfo("dotnet", [ "fsi"; "scripts.fsx" ] @ argv, WorkingDirectory = repositoryRoot.Value,
                                            UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true)
    for name in [ "MSBuildSDKsPath"; "MSBUILD_EXE_PATH"; "MSBuildExtensionsPath" ] do
        info.Environment.Remove name |> ignore
    use p = Diagnostics.Process.Start info
    let stdout = p.StandardOutput.ReadToEndAsync()
    let stderr = p.StandardError.ReadToEndAsync()
    if not (p.WaitForExit(TimeSpan.FromMinutes 10.0)) then
        p.Kill true
        failwithf "dotnet fsi scripts.fsx %s did not finish within 10 minutes" (String.concat " " argv)
    p.ExitCode, stdout.Result, stderr.Result
