namespace Hybrid.Scripting.Pipeline

open System.IO
open Hybrid.IO
open Hybrid.Training

/// What a training run is asked to do: how many steps in all, and where it keeps its checkpoint.
type TrainingPlan =
    { /// Names the run in the resume line ("resumed NAME from FILE at step N").
      Name: string
      /// The progress line's label.
      Label: string
      /// Optimiser steps in all, counting those a resumed checkpoint already holds.
      Steps: int
      /// The checkpoint file and the header it must carry (None: no checkpoint).
      Checkpoint: (string * CheckpointHeader) option
      /// Continue from the checkpoint.
      Resume: bool
      /// Checkpoints written over the run (one every Steps/Saves steps, and one at the end).
      Saves: int }

/// What the loop did.
type TrainingOutcome =
    { /// The step the run continued from (0 when it started afresh).
      ResumedFrom: int
      /// Steps taken in this process.
      StepsRun: int
      /// Seconds spent in them.
      Seconds: float }

/// The one training loop of every experiment that trains: resume from a checkpoint, step to the planned count with a
/// progress line, checkpoint at a fixed cadence (so a killed run loses at most a tenth of its steps), and on a stop
/// (divergence, a failed self-check) let the caller write its curve before the diagnosis propagates.
[<RequireQualifiedAccess>]
module TrainingDriver =

    /// Runs `trainer` to `plan.Steps` completed steps. `record` receives each step's record (the caller keeps its
    /// curve), `describe` formats the progress line, `onStop` runs before a stop propagates.
    let run (plan: TrainingPlan) (trainer: Trainer) (describe: TrainingRecord -> string) (record: TrainingRecord -> unit) (onStop: unit -> unit) : TrainingOutcome =
        let resumedFrom =
            match plan.Checkpoint with
            | Some(file, header) when plan.Resume ->
                try
                    trainer.LoadCheckpoint(file, header)
                with :? InvalidDataException as e ->
                    raise (Hybrid.Diagnostics.RunStoppedException(sprintf "%s (remove it to train %s from the start)" e.Message plan.Name))
                printfn "resumed %s from %s at step %d" plan.Name file trainer.CompletedSteps
                trainer.CompletedSteps
            | _ -> 0
        let remaining = max 0 (plan.Steps - trainer.CompletedSteps)
        let progress = ProgressReporter(plan.Label, remaining)
        let every = max 1 (plan.Steps / max 1 plan.Saves)
        let save () = plan.Checkpoint |> Option.iter (fun (file, header) -> trainer.SaveCheckpoint(file, header))
        try
            for i in 1 .. remaining do
                let r = trainer.Step()
                record r
                if r.Step % every = 0 then save ()
                progress.Report(i, describe r)
        with
        | :? Hybrid.Diagnostics.RunStoppedException
        | :? TrainingDivergenceException ->
            onStop ()
            reraise ()
        save ()
        { ResumedFrom = resumedFrom; StepsRun = remaining; Seconds = progress.Elapsed }
