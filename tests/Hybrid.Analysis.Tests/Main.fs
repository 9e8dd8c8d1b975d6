module Hybrid.Analysis.Tests.Main

open Expecto

/// Every [<Tests>] list of the assembly, one per module tested.
[<EntryPoint>]
let main argv = runTestsInAssemblyWithCLIArgs [] argv
