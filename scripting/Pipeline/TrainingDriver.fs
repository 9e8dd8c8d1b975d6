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

/// A trainer as the driver sees it: one step and its record, the step count, whether a hook has ended training, and
/// its checkpoints. `Trainee.ofTrainer` adapts the generic `Trainer`; a trainer that reports its steps in its own
/// record (the reverse-KL flow trainer's `TrainingStep`) is adapted where it is used.
type Trainee<'record> =
    { /// One optimiser step.
      Step: unit -> 'record
      /// The 1-based step a record is of (the checkpoint cadence counts these).
      StepOf: 'record -> int
      /// Steps taken so far, those restored from a checkpoint included.
      CompletedSteps: unit -> int
      /// Whether a hook has ended training (e.g. the ODE solver guard); the loop then stops short of the plan.
      HasEnded: unit -> bool
      Save: string -> CheckpointHeader -> unit
      /// Restores a checkpoint; raises InvalidDataException for one that does not fit the header.
      Load: string -> CheckpointHeader -> unit }

[<RequireQualifiedAccess>]
module Trainee =

    /// The generic trainer, whose steps are `TrainingRecord`s.
    let ofTrainer (trainer: Trainer) : Trainee<TrainingRecord> =
        { Step = trainer.Step
          StepOf = fun r -> r.Step
          CompletedSteps = fun () -> trainer.CompletedSteps
          HasEnded = fun () -> trainer.HasEnded
          Save = fun file header -> trainer.SaveCheckpoint(file, header)
          Load = fun file header -> trainer.LoadCheckpoint(file, header) }

/// The one training loop of every experiment that trains: resume from a checkpoint, step to the planned count with a
/// progress line, checkpoint at a fixed cadence (so a killed run loses at most a tenth of its steps), and on a stop
/// (divergence, a failed self-check) let the caller write its curve before the diagnosis propagates.
[<RequireQualifiedAccess>]
module TrainingDriver =

    /// Runs `trainee` to `plan.Steps` completed steps, or until a hook ends training. `record` receives each step's
    /// record before it is checkpointed and reported (the caller keeps its curve there, and says what the step did),
    /// `describe` formats the progress line, `onStop` runs before a stop propagates.
    let runWith (plan: TrainingPlan) (trainee: Trainee<'record>) (describe: 'record -> string) (record: 'record -> unit) (onStop: unit -> unit) : TrainingOutcome =
        let resumedFrom =
            match plan.Checkpoint with
            | Some(file, header) when plan.Resume ->
                try
                    trainee.Load file header
                with :? InvalidDataException as e ->
                    raise (Hybrid.Diagnostics.RunStoppedException(sprintf "%s (remove it to train %s from the start)" e.Message plan.Name))
                printfn "resumed %s from %s at step %d" plan.Name file (trainee.CompletedSteps())
                trainee.CompletedSteps()
            | _ -> 0
        let remaining = max 0 (plan.Steps - trainee.CompletedSteps())
        let progress = ProgressReporter(plan.Label, remaining)
        let every = max 1 (plan.Steps / max 1 plan.Saves)
        let save () = plan.Checkpoint |> Option.iter (fun (file, header) -> trainee.Save file header)
        let mutable taken = 0
        try
            while taken < remaining && not (trainee.HasEnded()) do
                let r = trainee.Step()
                taken <- taken + 1
                record r
                if trainee.StepOf r % every = 0 then save ()
                progress.Report(taken, describe r)
        with
        | :? Hybrid.Diagnostics.RunStoppedException
        | :? TrainingDivergenceException ->
            onStop ()
            reraise ()
        save ()
        { ResumedFrom = resumedFrom; StepsRun = taken; Seconds = progress.Elapsed }

    /// `runWith` for the generic trainer.
    let run (plan: TrainingPlan) (trainer: Trainer) (describe: TrainingRecord -> string) (record: TrainingRecord -> unit) (onStop: unit -> unit) : TrainingOutcome =
        runWith plan (Trainee.ofTrainer trainer) describe record onStop
