module Hybrid.Scripting.Tests.Main

open Expecto

[<EntryPoint>]
let main argv =
    // The suites share one TorchSharp runtime and the console; run them one after another.
    try runTestsInAssemblyWithCLIArgs [ Sequenced ] argv
    finally Hybrid.Scripting.Tests.Support.removeDirectories ()
