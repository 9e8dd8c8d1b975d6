namespace Hybrid.Scripting.Phi4

open System
open System.IO
open Hybrid.Analysis.Statistics
open Hybrid.Analysis.Reporting
open Hybrid.Phi4.Flows
open Hybrid.Lattice
open Hybrid.Phi4
open Hybrid.Runtime
open Hybrid.Sampling
open Hybrid.Scripting
open Hybrid.Scripting.Pipeline
open Hybrid.Training
open TorchSharp

/// Configuration of a flow study: train by reverse KL (or resume), then sample exactly by independence Metropolis.
type Phi4FlowConfig =
    { Lattice: SquareLattice
      Couplings: Phi4Parameters
      Flow: FlowSpec
      Training: FlowTrainingOptions
      /// Total optimizer steps (a resumed run continues up to this number).
      Steps: int
      /// Proposals drawn for flow-MCMC after training.
      Samples: int
      Seed: int64
      /// Which of several independent runs this is (seeds derived from the root seed), if any.
      /// The --seed the replica seeds derive from (the seed itself for a single run).
      RootSeed: int64
      Replica: Replica option
      Device: ComputeDevice
      /// Where the checkpoint is written, and whether training resumes from it.
      Checkpoint: CheckpointChoice }

/// Results of a flow study.
type Phi4FlowResult =
    { Config: Phi4FlowConfig
      History: TrainingStep list
      TrainingSeconds: float
      /// Why training ended before --steps (the solver guard's reason), if it did.
      TrainingEnd: string option
      SamplingSeconds: float
      LogWeights: float[]
      Chain: IndependenceChain
      Proposals: Phi4Series
      /// The proposals' measurements along the flow-MCMC chain.
      Series: Phi4Series
      Physics: Phi4Physics
      /// Physics along the flow-MCMC chain, then the flow's own figures of merit.
      Observables: (string * Estimate) list
      /// For continuous flows: how much log q and φ move when the RK4 steps are doubled, on 256 fresh fields.
      Solver: SolverAccuracy option
      Device: string }

/// Normalizing flows for lattice φ⁴: reverse-KL training, ESS, exact flow-MCMC.
module Phi4Flow =

    let options =
        Phi4Options.theory
        @ [ CommandLine.option "flow" TextOption "realnvp" "realnvp | cnf"
            CommandLine.option "couplings" IntOption "16" "realNVP: coupling layers"
            CommandLine.option "frequencies" IntOption "50" "cnf: field features (sine frequencies + the linear term)"
            CommandLine.option "rk-steps" IntOption "50" "cnf: RK4 steps of the ODE solver (its accuracy knob)"
            CommandLine.option "steps" IntOption "1000" "optimizer steps in total"
            CommandLine.option "batch" IntOption "64" "batch size per optimizer step"
            CommandLine.optional "lr" FloatOption "Adam learning rate (default 1e-3 for realnvp, 5e-3 for cnf)"
            CommandLine.option "lr-decay" FloatOption "1" "step schedule: factor applied to the learning rate at 80% and 95% of the steps (1: constant)"
            CommandLine.optional "adam-betas" TextOption "Adam's β₁,β₂ (default 0.9,0.999 for realnvp as in the Albergo tutorial; 0.8,0.9 for cnf as in Gerdes et al.)"
            CommandLine.option "clip" FloatOption "100" "gradient-norm clipping (0: off)"
            CommandLine.option "solver-check" IntOption "50" "cnf: every this many steps, compare log q at n and 2n RK4 steps; beyond --solver-tolerance, return to the last accurate state with half the learning rate (0: off)"
            CommandLine.option "solver-tolerance" FloatOption "0.05" "cnf: the guard's absolute tolerance on the mean |log q(n) − log q(2n)|"
            CommandLine.option "solver-relative-tolerance" FloatOption "0.1" "cnf: the guard's tolerance relative to the spread of the batch's log-weights (the larger of the two applies)"
            CommandLine.option "solver-backoffs" IntOption "4" "cnf: how often the guard may halve the learning rate; the next failed check ends training at the last accurate state"
            CommandLine.option "dtype" TextOption "float32" "float32 | float64"
            CommandLine.option "samples" IntOption "8192" "flow proposals for independence Metropolis" ]
        @ CheckpointOptions.options
        @ CommonOptions.options

    /// What a checkpoint of this flow towards this theory carries (and a resumed one must match).
    let checkpointHeader (flow: FlowSpec) (lattice: SquareLattice) (couplings: Phi4Parameters) (dtype: torch.ScalarType) =
        ReverseKlTrainer.CheckpointHeaderFor(FlowSpec.name flow, FlowSpec.definitionJson flow, Phi4Action(lattice, couplings), dtype)

    /// Validates the command line into a configuration.
    let configure (o: ParsedOptions) : Phi4FlowConfig =
        let lattice = Phi4Options.lattice o
        let flow =
            match (CommandLine.text o "flow" |> Option.defaultValue "realnvp").ToLowerInvariant() with
            | "realnvp" -> FlowSpec.realNvp (CommandLine.intIn o "couplings" 1L 1000L |> CommandLine.required "couplings" |> int)
            | "cnf" ->
                FlowSpec.continuous (CommandLine.intIn o "frequencies" 2L 10_000L |> CommandLine.required "frequencies" |> int)
                |> FlowSpec.withSolverSteps (CommandLine.intIn o "rk-steps" 1L 100_000L |> CommandLine.required "rk-steps" |> int)
            | other -> raise (UsageError(sprintf "--flow %s is not known; allowed: realnvp, cnf" other))
        CommandLine.validate (fun () -> FlowSpec.validate lattice flow)
        let steps = CommandLine.intIn o "steps" 0L 100_000_000L |> CommandLine.required "steps" |> int
        let dtype =
            match (CommandLine.text o "dtype" |> Option.defaultValue "float32").ToLowerInvariant() with
            | "float32" -> torch.ScalarType.Float32
            | "float64" -> torch.ScalarType.Float64
            | other -> raise (UsageError(sprintf "--dtype %s is not known; allowed: float32, float64" other))
        let recommended = (FlowSpec.definition flow).RecommendedTraining
        let lr = CommandLine.float o "lr" |> Option.defaultValue recommended.LearningRate
        let betas =
            match CommandLine.text o "adam-betas" with
            | None -> recommended.AdamBetas
            | Some text ->
                match text.Split(',') |> Array.map (fun x -> Double.TryParse(x, Globalization.NumberStyles.Float, Globalization.CultureInfo.InvariantCulture)) with
                | [| (true, b1); (true, b2) |] -> struct (b1, b2)
                | _ -> raise (UsageError(sprintf "--adam-betas %s is not allowed; give two numbers in [0, 1) separated by a comma, e.g. 0.9,0.999" text))
        let training =
            FlowTrainingOptions(
                AdamBetas = betas,
                BatchSize = (CommandLine.intIn o "batch" 2L 1_000_000L |> CommandLine.required "batch" |> int),
                LearningRate = lr,
                DecaySteps = [| steps * 4 / 5; steps * 19 / 20 |],
                LearningRateDecay = (CommandLine.float o "lr-decay" |> CommandLine.required "lr-decay"),
                GradientClipNorm = (CommandLine.float o "clip" |> CommandLine.required "clip"),
                SolverCheckInterval = (CommandLine.intIn o "solver-check" 0L 100_000_000L |> CommandLine.required "solver-check" |> int),
                SolverTolerance = (CommandLine.float o "solver-tolerance" |> CommandLine.required "solver-tolerance"),
                SolverRelativeTolerance = (CommandLine.float o "solver-relative-tolerance" |> CommandLine.required "solver-relative-tolerance"),
                MaxSolverBackoffs = (CommandLine.intIn o "solver-backoffs" 0L 1000L |> CommandLine.required "solver-backoffs" |> int),
                DType = dtype)
        CommandLine.validate training.Validate
        let couplings = Phi4Options.couplings o
        let checkpoint = CheckpointOptions.choice o (checkpointHeader flow lattice couplings dtype)
        { Lattice = lattice
          Couplings = couplings
          Flow = flow
          Training = training
          Steps = steps
          Samples = CommandLine.intIn o "samples" 2L 100_000_000L |> CommandLine.required "samples" |> int
          Seed = CommonOptions.seed o
          RootSeed = CommonOptions.rootSeed o
          Replica = CommonOptions.replica o
          Device = CommonOptions.device o
          Checkpoint = checkpoint }

    /// The command-line defaults (realNVP, 1000 steps), to modify with `{ Phi4Flow.defaults with ... }` or `withFlow`.
    let defaults : Phi4FlowConfig = configure (CommandLine.parse options [])

    /// The configuration with another flow trained for `steps` steps, with that kind of flow's recommended optimiser
    /// (learning rate, Adam's betas) and a schedule for `steps`; every other training setting is kept.
    let withFlow (spec: FlowSpec) (steps: int) (c: Phi4FlowConfig) : Phi4FlowConfig =
        FlowSpec.validate c.Lattice spec
        { c with Flow = spec; Steps = steps; Training = c.Training.WithOptimizer((FlowSpec.definition spec).RecommendedTraining, steps) }

    /// The configuration as written to config.json.
    let describe (c: Phi4FlowConfig) =
        Json.object (
            Phi4Options.describe c.Lattice c.Couplings
            @ [ "flow", Json.text (FlowSpec.name c.Flow)
                "definition", System.Text.Json.Nodes.JsonNode.Parse(FlowSpec.definitionJson c.Flow)
                "steps", Json.integer c.Steps
                "batch", Json.integer c.Training.BatchSize
                "lr", Json.number c.Training.LearningRate
                "lr_decay", Json.number c.Training.LearningRateDecay
                "lr_decay_steps", Json.numbers (c.Training.DecaySteps |> Seq.map float)
                "adam_betas", (let struct (b1, b2) = c.Training.AdamBetas in Json.numbers [ b1; b2 ])
                "clip", Json.number c.Training.GradientClipNorm
                "solver_check_interval", Json.integer c.Training.SolverCheckInterval
                "solver_tolerance", Json.number c.Training.SolverTolerance
                "solver_relative_tolerance", Json.number c.Training.SolverRelativeTolerance
                "solver_backoffs", Json.integer c.Training.MaxSolverBackoffs
                "dtype", Json.text (string c.Training.DType)
                "samples", Json.integer c.Samples ]
            @ CommonOptions.describeSeeds c.RootSeed c.Replica
            @ [ "device", Json.text ((string c.Device).ToLowerInvariant()) ]
            @ CheckpointOptions.describe c.Checkpoint)

    let private header (c: Phi4FlowConfig) = checkpointHeader c.Flow c.Lattice c.Couplings c.Training.DType

    /// training.csv: one row per step of this run.
    let writeTrainingCurve (dir: RunDirectory) (history: TrainingStep list) =
        AtomicFile.write (dir.File "training.csv") (fun w ->
            w.WriteLine "step,free_energy_q,free_energy_q_error,ess,gradient_norm,learning_rate,solver_log_q_shift,solver_tolerance,rolled_back"
            for s in history do
                let shift, tolerance =
                    if isNull s.Solver then "", ""
                    else FormattableString.Invariant $"{s.Solver.LogQShiftMean:G6}", FormattableString.Invariant $"{s.SolverTolerance:G6}"
                w.WriteLine(FormattableString.Invariant $"{s.Step},{s.FreeEnergy:G10},{s.FreeEnergyError:G10},{s.EffectiveSampleSize:G10},{s.GradientNorm:G10},{s.LearningRate:G10},{shift},{tolerance},{s.RolledBack}"))

    /// The reverse-KL trainer as the training driver sees it.
    let private trainee (trainer: ReverseKlTrainer) : Trainee<TrainingStep> =
        { Step = trainer.Step
          StepOf = fun s -> s.Step
          CompletedSteps = fun () -> trainer.CompletedSteps
          HasEnded = fun () -> trainer.HasEnded
          Save = fun file header -> trainer.SaveCheckpoint(file, header)
          Load = fun file header -> trainer.LoadCheckpoint(file, header) }

    /// Trains (or resumes) through the training driver; returns the model, the steps of this run and their seconds.
    /// Training that stops with a diagnosis leaves its curve so far in training.csv; the solver guard may end it
    /// before --steps.
    let train (c: Phi4FlowConfig) (checkpoint: string) (dir: RunDirectory) =
        let device = TorchRuntime.Resolve c.Device
        let action = Phi4Action(c.Lattice, c.Couplings)
        let model = FlowDistribution(FlowSpec.build c.Lattice c.Seed c.Flow, c.Lattice)
        use trainer = new ReverseKlTrainer(model, action, c.Training, c.Seed, device)
        let history = ResizeArray<TrainingStep>()
        let plan =
            { Name = sprintf "the %s flow" (FlowSpec.displayName c.Flow); Label = "train " + FlowSpec.name c.Flow; Steps = c.Steps
              Checkpoint = Some(checkpoint, header c); Resume = c.Checkpoint.Resume; Saves = 10 }
        let outcome =
            TrainingDriver.runWith plan (trainee trainer)
                (fun s -> sprintf "F_q %.3f ± %.3f  ESS %.3f  lr %.1e" s.FreeEnergy s.FreeEnergyError s.EffectiveSampleSize s.LearningRate)
                (fun s ->
                    history.Add s
                    if s.RolledBack && not trainer.HasEnded then
                        eprintfn "step %d: log q moved by %.3g on average between %d and %d RK4 steps (tolerance %.3g); back to the last accurate state, learning rate halved"
                            s.Step s.Solver.LogQShiftMean s.Solver.Steps (2 * s.Solver.Steps) s.SolverTolerance)
                (fun () -> writeTrainingCurve dir (List.ofSeq history))
        let ending = Option.ofObj trainer.EndReason
        ending |> Option.iter (eprintfn "%s")
        model, action, device, List.ofSeq history, outcome.Seconds, ending

    /// Draws proposals without gradients, measures them, runs independence Metropolis over them.
    let sample (c: Phi4FlowConfig) (model: FlowDistribution) (action: Phi4Action) (device: torch.Device) =
        let clock = Diagnostics.Stopwatch.StartNew()
        let batches = ResizeArray<Phi4Measurement>()
        use generator = new torch.Generator(uint64 (c.Seed + 1L), device)
        let batch = c.Training.BatchSize * 4
        let progress = ProgressReporter("sample " + FlowSpec.name c.Flow, (c.Samples + batch - 1) / batch, "batches")
        let logWeights =
            model.Propose(action, c.Samples, batch, generator, c.Training.DType, device, fun phi ->
                batches.Add(Phi4Observables.Measure phi)
                progress.Report(batches.Count, sprintf "%d proposals" (batches.Count * batch |> min c.Samples)))
        let random = Random(int (c.Seed % int64 Int32.MaxValue))
        let uniforms = Array.init c.Samples (fun _ -> random.NextDouble())
        let chain = IndependenceMetropolis.Run(logWeights, uniforms)
        logWeights, chain, Phi4Study.ofProposals c.Lattice.Extent (List.ofSeq batches), clock.Elapsed.TotalSeconds

    /// Compares the trained continuous flow at n and 2n RK4 steps on 256 fresh latent fields.
    let solverCheck (c: Phi4FlowConfig) (model: FlowDistribution) (device: torch.Device) : SolverAccuracy option =
        match box model.Flow with
        | :? IOdeFlow as flow ->
            use generator = new torch.Generator(uint64 (c.Seed + 2L), device)
            let l = int64 c.Lattice.Extent
            use z = torch.randn([| 256L; l; l |], dtype = c.Training.DType, device = device, generator = generator)
            Some(SolverAccuracy.Measure(flow, z))
        | _ -> None

    let private solverWarning (check: SolverAccuracy) =
        sprintf "warning: log q moves by %.3g on average (max %.3g) between %d and %d RK4 steps; flow-MCMC is exact only up to this solver error, and training may have exploited it. Increase --rk-steps."
            check.LogQShiftMean check.LogQShiftMax check.Steps (2 * check.Steps)

    /// The flow's figures of merit with errors: ESS (bootstrap), F_q, reweighted −ln Z and χ₂, acceptance along the chain.
    let flowEstimates (c: Phi4FlowConfig) (logWeights: float[]) (chain: IndependenceChain) (proposals: Phi4Series) =
        let n = logWeights.Length
        // Bootstrap resamples from the run's seed, so replicas resample independently (offsets 3 and 4: the training,
        // the sample and the solver check use 0–2).
        let bootstrapSeed offset = int ((c.Seed + offset) % int64 Int32.MaxValue)
        let ess = Bootstrap.estimateStatistic (bootstrapSeed 3L) 200 (fun s -> ImportanceWeights.EffectiveSampleSizeFraction(ReadOnlySpan s.[0])) [| logWeights |]
        let struct (free, freeError) = ImportanceWeights.VariationalFreeEnergy(ReadOnlySpan logWeights)
        let reweightedFree = Bootstrap.estimateStatistic (bootstrapSeed 4L) 200 (fun s -> ImportanceWeights.ReweightedFreeEnergy(ReadOnlySpan s.[0])) [| logWeights |]
        // Weights normalised by their maximum (cancels in ratios); χ₂ = Σ w M²/V / Σ w as a derived ratio of iid means.
        let top = Array.max logWeights
        let w = logWeights |> Array.map (fun l -> exp (l - top))
        let chiW = Array.init n (fun i -> w.[i] * proposals.MagnetizationSquared.[0].[i] / float c.Lattice.Volume)
        let chi2Reweighted = GammaMethod.derived (fun m -> m.[0] / m.[1]) [| [| chiW |]; [| w |] |]
        let accepted = [| chain.Accepted |> Array.map (fun a -> if a then 1.0 else 0.0) |]
        [ "acceptance", GammaMethod.analyze accepted
          "ess", ess
          "free_energy_q", Estimate.independent free freeError n
          "free_energy_reweighted", reweightedFree
          "chi2_reweighted", chi2Reweighted ]

    /// A warning when the flow-MCMC chain holds too few independent samples for its Γ-method errors to be trusted
    /// (fewer than 100 accepted moves, or N/(2τ_int(χ₂)) < 100); independence Metropolis stays exact, but a poor flow's
    /// chain sticks, and a stuck chain shows tiny errors around a wrong value.
    let chainWarning (samples: int) (chain: IndependenceChain) (observables: (string * Estimate) list) : string option =
        let moves = chain.Accepted |> Array.filter id |> Array.length
        let tau = (observables |> List.find (fst >> (=) "chi2") |> snd).TauInt
        let independent = float samples / (2.0 * tau)
        if moves < 100 || not (independent >= 100.0) then
            Some(sprintf "warning: the flow-MCMC chain moved %d times in %d proposals (about %.0f independent samples by τ_int(χ₂) = %.3g): too few for trustworthy error bars. Train the flow longer or draw more proposals."
                    moves samples independent tau)
        else None

    /// Trains, samples and analyses; writes into the run directory.
    let rec run (c: Phi4FlowConfig) (dir: RunDirectory) : Phi4FlowResult =
        let checkpoint = c.Checkpoint.PathIn dir
        let model, action, device, history, trainingSeconds, ending = train c checkpoint dir
        let solver = solverCheck c model device
        solver |> Option.filter (fun s -> not (s.IsWithin c.Training.SolverTolerance)) |> Option.iter (solverWarning >> eprintfn "%s")
        let logWeights, chain, proposals, samplingSeconds = sample c model action device
        let series = Phi4Study.alongChain chain.State proposals
        let physics = Phi4Study.analyse c.Lattice series
        let result =
            { Config = c; History = history; TrainingSeconds = trainingSeconds; TrainingEnd = ending; SamplingSeconds = samplingSeconds
              LogWeights = logWeights; Chain = chain; Proposals = proposals; Series = series; Physics = physics
              Observables = physics.Observables @ flowEstimates c logWeights chain proposals; Solver = solver; Device = string device.``type`` }
        write dir result
        chainWarning c.Samples chain result.Observables |> Option.iter (eprintfn "%s")
        result

    /// The Markdown report.
    and report (r: Phi4FlowResult) =
        let c = r.Config
        let head =
            sprintf "## φ⁴ flow (%s): L = %d, %O\n\n%d training steps this run (%.1f s, batch %d, %O), %d proposals for independence Metropolis (%.1f s), device %s\n"
                (FlowSpec.name c.Flow) c.Lattice.Extent c.Couplings r.History.Length r.TrainingSeconds c.Training.BatchSize c.Training.DType c.Samples r.SamplingSeconds r.Device
        let note =
            "\nF_q = ⟨S + log q⟩ is the training loss: it omits ln Z, bounds −ln Z from above and can be negative. Physics rows come from the exact flow-MCMC chain; τ_int counts proposals.\n"
        let solver =
            match r.Solver with
            | Some check when not (check.IsWithin c.Training.SolverTolerance) -> "\n**" + solverWarning check + "**\n"
            | Some check ->
                sprintf "\nODE solver: doubling the RK4 steps (%d → %d) moves log q by %.2g on average (max %.2g) and φ by at most %.2g.\n"
                    check.Steps (2 * check.Steps) check.LogQShiftMean check.LogQShiftMax check.FieldShiftMax
            | None -> ""
        let ending = r.TrainingEnd |> Option.map (fun reason -> "\nTraining ended early: " + reason + "\n") |> Option.defaultValue ""
        let chain = chainWarning c.Samples r.Chain r.Observables |> Option.map (fun w -> "\n**" + w + "**\n") |> Option.defaultValue ""
        String.concat "\n" [ head; Phi4Study.markdown r.Observables r.Physics; note + solver + ending + chain ]

    /// Writes training.csv, measurements.csv, summary.json, summary.md, tables and plots.
    and write (dir: RunDirectory) (r: Phi4FlowResult) =
        let c = r.Config
        writeTrainingCurve dir r.History
        let accepted = [| r.Chain.Accepted |> Array.map (fun a -> if a then 1.0 else 0.0) |]
        Phi4Study.writeMeasurements (dir.File "measurements.csv") [ "log_w", [| r.LogWeights |]; "accepted", accepted; "state", [| r.Chain.State |> Array.map float |] ] r.Proposals
        Json.write
            (dir.File "summary.json")
            (Json.object
                [ "experiment", Json.text "phi4-flow"
                  "parameters", describe c
                  "observables", Study.estimatesJson r.Observables
                  "correlator", Phi4Study.correlatorJson r.Physics
                  "warnings", Json.array (chainWarning c.Samples r.Chain r.Observables |> Option.toList |> List.map Json.text)
                  "solver",
                  (match r.Solver with
                   | Some check ->
                       Json.object
                           [ "rk4_steps", Json.integer check.Steps
                             "log_q_shift_mean", Json.number check.LogQShiftMean
                             "log_q_shift_max", Json.number check.LogQShiftMax
                             "field_shift_max", Json.number check.FieldShiftMax ]
                   | None -> null)
                  "timing",
                  Json.object
                      [ "training_seconds", Json.number r.TrainingSeconds
                        "training_steps", Json.integer r.History.Length
                        "training_end", (match r.TrainingEnd with Some reason -> Json.text reason | None -> null)
                        "sampling_seconds", Json.number r.SamplingSeconds
                        "seconds_per_proposal", Json.number (r.SamplingSeconds / float c.Samples)
                        "device", Json.text r.Device
                        "runtime", Json.text TorchRuntime.Description ] ])
        Phi4Study.writeTables dir (report r) r.Observables r.Physics
        let context = sprintf "%s, L = %d, %O" (FlowSpec.displayName c.Flow) c.Lattice.Extent c.Couplings
        Phi4Study.writePlots dir c.Lattice context r.Series r.Physics
        if not r.History.IsEmpty then
            let steps = r.History |> List.map (fun s -> float s.Step) |> Array.ofList
            let curve =
                Plots.trainingCurve steps (r.History |> List.map (fun s -> s.FreeEnergy) |> Array.ofList) (r.History |> List.map (fun s -> s.EffectiveSampleSize) |> Array.ofList)
            Study.writePlot dir "training.html" "Reverse-KL training" context curve
    /// The experiment as the command line knows it.
    let experiment : Experiment<Phi4FlowConfig, Phi4FlowResult> =
        { Name = "phi4-flow"
          Description = "normalizing flow for 2D lattice φ⁴: reverse-KL training, ESS, exact flow-MCMC"
          Options = options
          Configure = configure
          Describe = describe
          Run = run
          Report = report }
