module Hybrid.Scripting.Tests.Pipeline.TrainingDriverTests

open System
open System.IO
open Expecto
open Hybrid.IO
open Hybrid.Training
open Hybrid.Scripting.Pipeline

/// A trainer that counts: each step's record is its step number; what the driver asks of it is logged.
type private Counter(?failAt: int, ?endAt: int, ?checkpointAt: int) =
    let mutable completed = 0
    member val Saved = ResizeArray<int>()
    member val Loaded = 0 with get, set
    member c.Trainee : Trainee<int> =
        { Step =
            fun () ->
                if failAt = Some(completed + 1) then raise (TrainingDivergenceException(sprintf "step %d: the loss is NaN" (completed + 1)))
                completed <- completed + 1
                completed
          StepOf = id
          CompletedSteps = fun () -> completed
          HasEnded = fun () -> endAt |> Option.exists (fun e -> completed >= e)
          Save = fun _ _ -> c.Saved.Add completed
          Load =
            fun file _ ->
                match checkpointAt with
                | Some step ->
                    c.Loaded <- c.Loaded + 1
                    completed <- step
                | None -> raise (InvalidDataException(sprintf "%s is not a checkpoint" file)) }

let private header = CheckpointHeader("counter", "{}", "none", "Float64")

let private plan steps resume =
    { Name = "the counter"; Label = "count"; Steps = steps; Checkpoint = Some("counter.ckpt", header); Resume = resume; Saves = 10 }

/// Runs the driver with stdout captured; returns (outcome, stdout, records passed on).
let private drive (p: TrainingPlan) (counter: Counter) (onStop: unit -> unit) =
    let records = ResizeArray<int>()
    let original = Console.Out
    use writer = new StringWriter()
    Console.SetOut writer
    let outcome =
        try TrainingDriver.runWith p counter.Trainee string records.Add onStop
        finally Console.SetOut original
    outcome, writer.ToString(), List.ofSeq records

[<Tests>]
let tests =
    testList
        "training driver"
        [ test "a checkpoint every tenth of the steps and one at the end" {
              let counter = Counter()
              let outcome, _, records = drive (plan 20 false) counter ignore
              Expect.equal records [ 1 .. 20 ] "every step's record is passed on, in order"
              Expect.equal (List.ofSeq counter.Saved) [ 2; 4; 6; 8; 10; 12; 14; 16; 18; 20; 20 ] "steps 2, 4, …, 20, then the end"
              Expect.equal (outcome.ResumedFrom, outcome.StepsRun) (0, 20) "a fresh run of 20 steps"
          }

          test "resuming continues from the checkpoint's step, says so, and keeps the cadence of the whole plan" {
              let counter = Counter(checkpointAt = 6)
              let outcome, out, records = drive (plan 20 true) counter ignore
              Expect.equal counter.Loaded 1 "the checkpoint is loaded once"
              Expect.stringContains out "resumed the counter from counter.ckpt at step 6" "the resume line"
              Expect.equal records [ 7 .. 20 ] "steps 7 to 20"
              Expect.equal (List.ofSeq counter.Saved) [ 8; 10; 12; 14; 16; 18; 20; 20 ] "the cadence counts steps of the whole plan"
              Expect.equal (outcome.ResumedFrom, outcome.StepsRun) (6, 14) "resumed at 6, 14 steps run"
          }

          test "a checkpoint that cannot be loaded stops the run, naming how to start afresh" {
              let counter = Counter()
              let e = Expect.throwsC (fun () -> drive (plan 20 true) counter ignore |> ignore) id
              Expect.isTrue (e :? Hybrid.Diagnostics.RunStoppedException) (sprintf "a diagnosis, not a crash: %O" e)
              Expect.stringContains e.Message "counter.ckpt is not a checkpoint (remove it to train the counter from the start)" "the message"
              Expect.isEmpty counter.Saved "nothing written over it"
          }

          test "a hook that ends training stops the loop early; the end is still checkpointed" {
              let counter = Counter(endAt = 7)
              let outcome, _, records = drive (plan 20 false) counter ignore
              Expect.equal records [ 1 .. 7 ] "no step after the end"
              Expect.equal outcome.StepsRun 7 "seven steps run"
              Expect.equal (List.ofSeq counter.Saved) [ 2; 4; 6; 7 ] "the cadence, then the end"
          }

          test "a divergence runs the caller's stop (its curve) before it propagates, and writes no final checkpoint" {
              let counter = Counter(failAt = 5)
              let stopped = ref 0
              Expect.throwsT<TrainingDivergenceException> (fun () -> drive (plan 20 false) counter (fun () -> stopped.Value <- stopped.Value + 1) |> ignore) "the divergence propagates"
              Expect.equal stopped.Value 1 "the caller wrote its curve once"
              Expect.equal (List.ofSeq counter.Saved) [ 2; 4 ] "the checkpoint stays at the last cadence step before the divergence"
          } ]
