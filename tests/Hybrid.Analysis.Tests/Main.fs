module Hybrid.Analysis.Tests.Main

open Expecto

let tests =
    testList "Hybrid.Analysis" [
        EstimateTests.tests
        GammaMethodTests.tests
        BootstrapTests.tests
        CorrelatorTests.tests
        Phi4Tests.tests
        TableTests.tests
        PlotsTests.tests
        FittingTests.tests
    ]

[<EntryPoint>]
let main argv = runTestsWithCLIArgs [] argv tests
