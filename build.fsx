// Hybrid's build script: `dotnet fsi build.fsx <target> [arguments]`.
//
//   build   restore (locked to packages.lock.json) and build the solution in Release
//   test    build, run every test suite, print "Tests: N passed, M failed[, K skipped]" (the scripting suite in two processes; --workers N to change)
//   run     build, then run scripts.fsx with the remaining arguments (no arguments: the main job; --quick: at toy size)
//   examples  build, then run every examples/*.fsx with --toy (the code path at toy size), one line per example with its seconds
//   pack    NuGet packages of the core and the analysis (artifacts/packages), then build and run examples/csharp-consumer against them
//   bench   build, then run the benchmarks (default hmc and flows; also conv-route, nnft, nnft-profile, nnqm, o3, o3-local-energy, o3-mc, o3-sweep; `bench flows-quality` trains for long), results in bench/results/
//   clean   remove build outputs
//
// Plain F# with no dependencies, so that it runs on a fresh machine with only the .NET SDK.

open System
open System.Diagnostics
open System.IO
open System.Text.RegularExpressions
open System.Xml.Linq

let root = __SOURCE_DIRECTORY__
let solution = Path.Combine(root, "Hybrid.sln")

/// Runs a command in the repository root, streaming its output; returns the exit code and,
/// when asked, the captured standard output.
let execEchoing (echo: string -> bool) (capture: bool) (program: string) (args: string list) =
    let info = ProcessStartInfo(program, args, WorkingDirectory = root, UseShellExecute = false, RedirectStandardOutput = capture)
    // The test suites and scripts must not inherit a half-set MSBuild environment from dotnet fsi.
    for name in [ "MSBuildSDKsPath"; "MSBUILD_EXE_PATH"; "MSBuildExtensionsPath" ] do
        info.Environment.Remove name |> ignore
    // libgomp sizes its thread pool from OMP_NUM_THREADS when it loads; one thread per two logical cores
    // measured up to 13× faster than libtorch's default on a 2-core machine (see core/Runtime/TorchRuntime.cs).
    if isNull (Environment.GetEnvironmentVariable "OMP_NUM_THREADS") then
        info.Environment.["OMP_NUM_THREADS"] <- string (max 1 (Environment.ProcessorCount / 2))
    use p = Process.Start info
    let output = Text.StringBuilder()
    if capture then
        let mutable line = p.StandardOutput.ReadLine()
        while not (isNull line) do
            if echo line then Console.WriteLine line
            output.AppendLine line |> ignore
            line <- p.StandardOutput.ReadLine()
    p.WaitForExit()
    p.ExitCode, output.ToString()

let exec (capture: bool) (program: string) (args: string list) = execEchoing (fun _ -> true) capture program args

let dotnet args = exec false "dotnet" args |> fst

let fail (message: string) =
    eprintfn "build.fsx: %s" message
    exit 1

let build () =
    if dotnet [ "build"; solution; "-c"; "Release"; "--nologo" ] <> 0 then fail "build failed"

type Counts = { Passed: int; Failed: int; Skipped: int }

let add a b = { Passed = a.Passed + b.Passed; Failed = a.Failed + b.Failed; Skipped = a.Skipped + b.Skipped }

/// xunit suites through `dotnet test`, counted from the TRX report.
let runXunit (project: string) =
    let results = Path.Combine(root, "TestResults")
    let trx = Path.GetFileNameWithoutExtension project + ".trx"
    let trxPath = Path.Combine(results, trx)
    if File.Exists trxPath then File.Delete trxPath
    let code =
        dotnet [ "test"; project; "-c"; "Release"; "--no-build"; "--nologo"
                 "--logger"; sprintf "trx;LogFileName=%s" trx; "--results-directory"; results ]
    if not (File.Exists trxPath) then
        eprintfn "%s: no test report (exit code %d)" project code
        { Passed = 0; Failed = 1; Skipped = 0 }
    else
        let counters = XDocument.Load(trxPath).Descendants() |> Seq.find (fun e -> e.Name.LocalName = "Counters")
        let get (name: string) = int (counters.Attribute(XName.Get name).Value)
        let counts = { Passed = get "passed"; Failed = get "failed" + get "error" + get "timeout" + get "aborted"; Skipped = get "notExecuted" }
        // A crashed host can exit non-zero with every counted test passed: count that as a failure.
        if code <> 0 && counts.Failed = 0 then { counts with Failed = 1 } else counts

/// Expecto's debug lines "NAME passed in h:mm:ss" as (name, seconds).
let expectoDurations (plain: string) =
    [ for m in Regex.Matches(plain, @"DBG\] (.+?) passed in (\d+):(\d+):(\d+(?:\.\d+)?)") ->
          m.Groups.[1].Value, float m.Groups.[2].Value * 3600.0 + float m.Groups.[3].Value * 60.0 + float m.Groups.[4].Value ]

/// Expecto's closing summary as (passed, ignored, failed + errored), or None if the suite printed none.
let expectoSummary (plain: string) =
    let m = Regex.Match(plain, @"(\d+) passed, (\d+) ignored, (\d+) failed, (\d+) errored")
    if m.Success then
        let n (i: int) = int m.Groups.[i].Value
        Some(n 1, n 2, n 3 + n 4)
    else None

let printSlowest (project: string) (durations: (string * float) list) =
    if not durations.IsEmpty then
        printfn "Slowest tests of %s (of %d, %.0f s summed; parallel groups overlap):" (Path.GetFileNameWithoutExtension project) durations.Length (List.sumBy snd durations)
        for name, seconds in durations |> List.sortByDescending snd |> List.truncate 10 do
            printfn "  %7.1f s  %s" seconds name

let stripColours (text: string) = Regex.Replace(text, @"\x1b\[[0-9;?]*[A-Za-z]", "")

/// Expecto suites run as executables, counted from Expecto's closing summary line. Each test's duration comes from
/// Expecto's debug lines (kept out of the log); the slowest are listed after the suite, so that the suite's time has
/// names attached.
let runExpecto (project: string) =
    let code, output =
        execEchoing (fun line -> not (line.Contains " DBG] ")) true "dotnet" [ "run"; "--project"; project; "-c"; "Release"; "--no-build"; "--"; "--colours"; "0"; "--debug" ]
    let plain = stripColours output
    printSlowest project (expectoDurations plain)
    match expectoSummary plain with
    | None ->
        eprintfn "%s: no Expecto summary (exit code %d)" project code
        { Passed = 0; Failed = 1; Skipped = 0 }
    | Some(passed, ignored, failed) ->
        let counts = { Passed = passed; Skipped = ignored; Failed = failed }
        if code <> 0 && counts.Failed = 0 then { counts with Failed = 1 } else counts

/// An Expecto suite as `workers` processes at once that share its cases through a claims folder (each case runs in
/// the first worker to reach it; see the suite's Main.fs). The first worker's log streams, the others' follow it.
/// A case one worker ran is ignored by the others, each of which records that skip in claims/elsewhere: the
/// suite's own skips (a case that calls skiptest) are the ignored counts' sum less those records. (A pending ptest
/// never runs its code, so it would count once per worker; the suite has none.)
let runExpectoShared (workers: int) (project: string) =
    let claims = Directory.CreateTempSubdirectory("hybrid-claims").FullName
    try
        let start (i: int) =
            Threading.Tasks.Task.Run(fun () ->
                execEchoing (fun line -> i = 0 && not (line.Contains " DBG] ")) true "dotnet"
                    [ "run"; "--project"; project; "-c"; "Release"; "--no-build"; "--"; "--colours"; "0"; "--debug"; "--claims"; claims ])
        let results = [ for i in 0 .. workers - 1 -> start i ] |> List.map (fun t -> t.Result)
        for i, (_, output) in List.indexed results |> List.tail do
            printfn "--- worker %d of %s ---" (i + 1) (Path.GetFileNameWithoutExtension project)
            for line in output.Split('\n') do
                if not (line.Contains " DBG] ") && line.Trim() <> "" then printfn "%s" (line.TrimEnd())
        let plains = results |> List.map (snd >> stripColours)
        printSlowest project (plains |> List.collect expectoDurations)
        let elsewhere = Path.Combine(claims, "elsewhere")
        let skippedForOthers = if Directory.Exists elsewhere then Directory.GetFiles(elsewhere).Length else 0
        match plains |> List.map expectoSummary with
        | summaries when summaries |> List.forall Option.isSome ->
            let passed, ignored, failed = summaries |> List.choose id |> List.reduce (fun (a, b, c) (d, e, f) -> a + d, b + e, c + f)
            let counts = { Passed = passed; Skipped = ignored - skippedForOthers; Failed = failed }
            if results |> List.exists (fun (code, _) -> code <> 0) && counts.Failed = 0 then { counts with Failed = 1 } else counts
        | _ ->
            eprintfn "%s: a worker printed no Expecto summary (exit codes %A)" project (results |> List.map fst)
            { Passed = 0; Failed = 1; Skipped = 0 }
    finally
        Directory.Delete(claims, true)

/// Every suite; the scripting suite in `workers` processes (default 2, one per core of a laptop-sized machine; each
/// runs its cases one at a time with the finaliser thread held, see the suite's Main.fs and docs/runtime.md).
let test (workers: int) =
    build ()
    let suites =
        [ runXunit "tests/Hybrid.Core.Tests/Hybrid.Core.Tests.csproj"
          runExpecto "tests/Hybrid.Analysis.Tests/Hybrid.Analysis.Tests.fsproj"
          (if workers > 1 then runExpectoShared workers else runExpecto) "tests/Hybrid.Scripting.Tests/Hybrid.Scripting.Tests.fsproj" ]
    let total = suites |> List.fold add { Passed = 0; Failed = 0; Skipped = 0 }
    let skipped = if total.Skipped > 0 then sprintf ", %d skipped" total.Skipped else ""
    printfn "Tests: %d passed, %d failed%s" total.Passed total.Failed skipped
    if total.Failed > 0 || total.Passed = 0 then exit 1

/// The scripting layer and everything below it, which scripts.fsx and examples/*.fsx load from its build output.
let buildScripting () =
    if dotnet [ "build"; "scripting/Hybrid.Scripting.fsproj"; "-c"; "Release"; "--nologo"; "-v"; "quiet" ] <> 0 then fail "build failed"

let runScripts (args: string list) =
    buildScripting ()
    exit (dotnet ([ "fsi"; "scripts.fsx" ] @ args))

/// Every F# script in examples/ at toy size (`--toy`), run as a user runs it, one after another; then one line per
/// example with its seconds. Fails if any exits non-zero (an example exits non-zero when its check fails).
let examples () =
    buildScripting ()
    let scripts = Directory.GetFiles(Path.Combine(root, "examples"), "*.fsx") |> Array.map Path.GetFileName |> Array.sort |> List.ofArray
    if scripts.IsEmpty then fail "no examples/*.fsx"
    let results =
        [ for script in scripts ->
              printfn "\n=== examples/%s --toy" script
              let clock = Stopwatch.StartNew()
              let code = dotnet [ "fsi"; "examples/" + script; "--toy" ]
              script, code, clock.Elapsed.TotalSeconds ]
    printfn ""
    for script, code, seconds in results do
        printfn "%-26s %7.1f s  %s" script seconds (if code = 0 then "ok" else sprintf "FAILED (exit code %d)" code)
    let failed = results |> List.filter (fun (_, code, _) -> code <> 0)
    if not failed.IsEmpty then fail (sprintf "%d of %d examples failed" failed.Length results.Length)
    printfn "Examples: %d ran at toy size, all ok" results.Length

let bench (args: string list) =
    if dotnet [ "build"; "bench/Hybrid.Bench/Hybrid.Bench.csproj"; "-c"; "Release"; "--nologo"; "-v"; "quiet" ] <> 0 then fail "build failed"
    exit (dotnet ([ "run"; "--project"; "bench/Hybrid.Bench/Hybrid.Bench.csproj"; "-c"; "Release"; "--no-build"; "--" ] @ args))

/// NuGet packages of the core and the analysis in artifacts/packages, then the consumer project outside the solution
/// (examples/csharp-consumer) restored from them, built and run: HMC at the tutorial point through the packages.
let pack () =
    let output = Path.Combine(root, "artifacts", "packages")
    if Directory.Exists output then Directory.Delete(output, true)
    for project in [ "core/Hybrid.Core.csproj"; "analysis/Hybrid.Analysis.fsproj" ] do
        if dotnet [ "pack"; project; "-c"; "Release"; "--nologo"; "-o"; output ] <> 0 then fail (sprintf "dotnet pack %s failed" project)
    // NuGet keeps one copy per id and version in its global cache: without this, the consumer would restore the
    // previous pack of the same version.
    let version = XDocument.Load(Path.Combine(root, "Directory.Build.props")).Descendants() |> Seq.find (fun e -> e.Name.LocalName = "Version") |> fun e -> e.Value
    let _, locals = exec true "dotnet" [ "nuget"; "locals"; "global-packages"; "--list" ]
    let cache = locals.Substring(locals.IndexOf(':') + 1).Trim()
    for id in [ "hybrid.core"; "hybrid.analysis" ] do
        let cached = Path.Combine(cache, id, version)
        if Directory.Exists cached then Directory.Delete(cached, true)
    let consumer = "examples/csharp-consumer/CsharpConsumer.csproj"
    if dotnet [ "build"; consumer; "-c"; "Release"; "--nologo"; "-v"; "quiet" ] <> 0 then fail "the consumer project did not build against the packages"
    if dotnet [ "run"; "--project"; consumer; "-c"; "Release"; "--no-build" ] <> 0 then fail "the consumer project failed"
    printfn "packages in %s; the consumer restored, built and ran against them" output

let clean () =
    dotnet [ "clean"; solution; "-c"; "Release"; "--nologo"; "-v"; "quiet" ] |> ignore
    for dir in Directory.EnumerateDirectories(root, "*", SearchOption.AllDirectories) |> Seq.toList do
        let name = Path.GetFileName dir
        if (name = "bin" || name = "obj") && Directory.Exists dir && not (dir.Contains "/.git/") then
            Directory.Delete(dir, true)
    let results = Path.Combine(root, "TestResults")
    if Directory.Exists results then Directory.Delete(results, true)

let usage =
    "usage: dotnet fsi build.fsx <target> [arguments]\n\ntargets:\n  build   build the solution (Release)\n  test    run every test suite (the scripting suite in two processes; `test --workers 1` in one)\n  run     run scripts.fsx (no arguments: the main job; `run --quick`: the same at toy size; `run help` lists experiments)\n  bench   run the benchmarks (default hmc, flows; also conv-route, flows-quality, nnft, nnft-profile, nnqm, o3, o3-local-energy, o3-mc, o3-sweep); results in bench/results/\n  examples  run every examples/*.fsx at toy size (--toy), one line per example with its seconds\n  pack    NuGet packages of the core and the analysis in artifacts/packages, checked by examples/csharp-consumer\n  clean   remove build outputs"

match List.ofArray fsi.CommandLineArgs |> List.tail with
| [ "build" ] -> build ()
| [ "test" ] -> test 2
| [ "test"; "--workers"; n ] when fst (Int32.TryParse n) && int n >= 1 && int n <= 8 -> test (int n)
| "test" :: rest -> fail (sprintf "test takes no arguments or --workers N (N in 1..8), not %s" (String.concat " " rest))
// `dotnet fsi` parses options that come right after a script name, so scripts.fsx takes the word `quick`.
| "run" :: "--quick" :: rest -> runScripts ("quick" :: rest)
| "run" :: rest -> runScripts rest
| "bench" :: rest -> bench rest
| [ "examples" ] -> examples ()
| [ "pack" ] -> pack ()
| [ "clean" ] -> clean ()
| [] | [ "--help" ] | [ "-h" ] | [ "help" ] -> printfn "%s" usage
| other ->
    eprintfn "build.fsx: unknown target '%s'\n\n%s" (String.concat " " other) usage
    exit 2
