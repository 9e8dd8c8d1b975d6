module Hybrid.Scripting.Tests.Main

open Expecto

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
                | _ -> testSequencedGroup "in-process" t)
            |> testList "scripting"
        | Some other -> testSequencedGroup "in-process" other
        | None -> testList "scripting" []
    try runTestsWithCLIArgs [ Parallel_Workers 2 ] argv tests
    finally Hybrid.Scripting.Tests.Support.removeDirectories ()
