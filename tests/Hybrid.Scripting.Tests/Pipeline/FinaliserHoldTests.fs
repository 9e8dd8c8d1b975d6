module Hybrid.Scripting.Tests.Pipeline.FinaliserHoldTests

open System
open System.Runtime.CompilerServices
open System.Threading
open Expecto

/// Sets its flag when finalised.
type private Finalisable(finalised: ManualResetEventSlim) =
    override _.Finalize() = finalised.Set()

[<MethodImpl(MethodImplOptions.NoInlining)>]
let private drop (finalised: ManualResetEventSlim) = Finalisable(finalised) |> ignore

/// Every case of this suite runs with the finaliser thread held (Hybrid.Runtime.FinaliserHold, Main.fs), so that no collection on another thread can
/// free one of TorchSharp's temporary scalars under libtorch (docs/runtime.md). Without the hold, the finaliser of a
/// dropped object runs within milliseconds of a collection.
[<Tests>]
let tests =
    testList
        "finaliser hold"
        [ test "no finaliser runs while a case runs" {
              use finalised = new ManualResetEventSlim(false)
              drop finalised
              GC.Collect()
              Expect.isFalse (finalised.Wait(TimeSpan.FromMilliseconds 500.0)) "the dropped object is not finalised during the case"
              // A collection on another thread, as the test runner's and the readers of child processes' output do.
              let other = Thread(fun () -> GC.Collect())
              other.Start()
              other.Join()
              Expect.isFalse (finalised.Wait(TimeSpan.FromMilliseconds 200.0)) "nor after a collection on another thread"
          } ]
