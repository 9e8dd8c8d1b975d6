module Hybrid.Scripting.Tests.Main

open System
open System.IO
open Expecto

/// Runs each of `test`'s cases with the finaliser thread held (Hybrid.Runtime.FinaliserHold): TorchSharp's temporary
/// scalars cannot be freed under libtorch by a collection that another thread of this process triggers (the test
/// runner's own, the readers of child processes' output; docs/runtime.md). What dies during a case is finalised when
/// it ends.
let private holdingFinalisers (test: Test) =
    let around (run: unit -> 'a) =
        use _ = Hybrid.Runtime.FinaliserHold.Enter()
        run ()
    let rec wrap (test: Test) =
        match test with
        | TestCase(code, state) ->
            let code =
                match code with
                | Sync run -> Sync(fun () -> around run)
                | SyncWithCancel run -> SyncWithCancel(fun token -> around (fun () -> run token))
                | Async run -> Async(async { return around (fun () -> Async.RunSynchronously run) })
                | AsyncFsCheck(config, stress, run) -> AsyncFsCheck(config, stress, fun c -> async { return around (fun () -> Async.RunSynchronously(run c)) })
            TestCase(code, state)
        | TestLabel(label, inner, state) -> TestLabel(label, wrap inner, state)
        | TestList(tests, state) -> TestList(tests |> List.map wrap, state)
        | Test.Sequenced(method, inner) -> Test.Sequenced(method, wrap inner)
    wrap test

/// Marks `test`'s cases so that each runs in the first worker process to reach it: a case claims its name by creating
/// a file in `folder` (atomic on every file system the suites run on); a worker that finds the claim taken skips the
/// case and records the skip in `folder/elsewhere`, so that the skips can be told from the suite's own ignored cases
/// when the workers' counts are added up. Two workers walking the same list in the same order thus share it as they
/// go, each taking the next case nobody has started, which balances them whatever the cases cost.
let private claimEach (folder: string) (test: Test) =
    let elsewhere = Directory.CreateDirectory(Path.Combine(folder, "elsewhere")).FullName
    let claim (name: string) =
        let digest = Security.Cryptography.SHA256.HashData(Text.Encoding.UTF8.GetBytes name) |> Convert.ToHexString
        try
            use _ = new FileStream(Path.Combine(folder, digest), FileMode.CreateNew)
            true
        with :? IOException ->
            use _ = new FileStream(Path.Combine(elsewhere, sprintf "%s.%d" digest Environment.ProcessId), FileMode.CreateNew)
            false
    let rec wrap (path: string list) (test: Test) =
        match test with
        | TestCase(code, state) ->
            let name = path |> List.rev |> String.concat "/"
            let guard () = if not (claim name) then skiptest "run by the other worker"
            let code =
                match code with
                | Sync run -> Sync(fun () -> guard (); run ())
                | SyncWithCancel run -> SyncWithCancel(fun token -> guard (); run token)
                | Async run -> Async(async { guard (); return! run })
                | AsyncFsCheck(config, stress, run) -> AsyncFsCheck(config, stress, fun c -> async { guard (); return! run c })
            TestCase(code, state)
        | TestLabel(label, inner, state) -> TestLabel(label, wrap (label :: path) inner, state)
        | TestList(tests, state) -> TestList(tests |> List.map (wrap path), state)
        | Test.Sequenced(method, inner) -> Test.Sequenced(method, wrap path inner)
    wrap [] test

[<EntryPoint>]
let main argv =
    // Tests that run experiments in this process share one TorchSharp runtime and the console (stderr is captured by
    // swapping Console.Error), so they run one after another. The end-to-end tests through `dotnet fsi` run in their
    // own processes and touch neither; they run beside the others, on the second core that single-threaded torch
    // leaves idle.
    let outOfProcess = set [ "scripts.fsx end to end" ]
    let tests =
        match Impl.testFromAssembly (System.Reflection.Assembly.GetExecutingAssembly()) with
        | Some(TestLabel(_, TestList(lists, _), _)) | Some(TestList(lists, _)) ->
            lists
            |> List.map (fun t ->
                match t with
                | TestLabel(name, _, _) when outOfProcess.Contains name -> testSequencedGroup "out-of-process" t
                | _ -> testSequencedGroup "in-process" (holdingFinalisers t))
            |> testList "scripting"
        | Some other -> testSequencedGroup "in-process" (holdingFinalisers other)
        | None -> testList "scripting" []
    // `--claims FOLDER`: one of several worker processes sharing the cases through FOLDER (`build.fsx test` starts
    // two). A case another worker ran is reported as ignored here, and recorded in FOLDER/elsewhere. A worker runs
    // its cases one at a time, the end-to-end ones included, without the console spinner; the workers together keep
    // both cores busy.
    let tests, argv, settings =
        match Array.tryFindIndex ((=) "--claims") argv with
        | Some i when i + 1 < argv.Length && Directory.Exists argv.[i + 1] ->
            claimEach argv.[i + 1] tests, Array.append argv.[.. i - 1] argv.[i + 2 ..], [ Parallel_Workers 1; No_Spinner ]
        | Some i ->
            eprintfn "--claims needs an existing folder, not %s" (if i + 1 < argv.Length then argv.[i + 1] else "nothing")
            exit 2
        | None -> tests, argv, [ Parallel_Workers 2 ]
    try runTestsWithCLIArgs settings argv tests
    finally Hybrid.Scripting.Tests.Support.removeDirectories ()
