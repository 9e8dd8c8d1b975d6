namespace Hybrid.Scripting.Nnqm

open System
open Deedle
open Hybrid.Analysis.Statistics
open Hybrid.Analysis.Fitting
open Hybrid.Analysis.Nnqm
open Hybrid.Analysis.Reporting
open Hybrid.Nnqm
open Hybrid.Runtime
open Hybrid.Sampling
open Hybrid.Training
open Hybrid.Scripting.Pipeline
open TorchSharp

/// Configuration of training a deep NN-QM to a target quantum system.
type NnqmTrainConfig =
    { G: float
      Inputs: int
      Width: int
      Steps: int
      LearningRate: float
      /// Matching times 0, Δ, …, TMax.
      TMax: float
      MatchPoints: int
      /// The sampled check: paths of the trained model, their spacing and length, the fit's states.
      Paths: int
      Dt: float
      Length: float
      FitUntil: float
      States: int
      /// The seed in use: --seed, or a replica's seed derived from it.
      Seed: int64
      RootSeed: int64
      Replica: Replica option
      /// Where the network is trained and its paths sampled.
      Device: ComputeDevice
      Checkpoint: CheckpointChoice }

type NnqmTrainResult =
    { Config: NnqmTrainConfig
      /// Loss per step.
      Losses: float[]
      Rates: float[]
      /// The trained model's own spectrum (Hermite expansion; exact for the model), lowest first.
      ModelSpectrum: (float * float) list
      Truncation: float
      /// The spectrum read off sampled paths of the trained model by the Källén–Lehmann fit.
      Recovered: SpectralFit
      ExactGaps: float[]
      ExactWeights: float[]
      /// Connected four-point functions G₄c(0, τ, 2τ, 3τ): of the trained model's paths, and the target's exact one.
      FourPoint: Estimate
      ExactFourPoint: float
      FourPointTau: float
      MatchTimes: float[]
      Target: float[]
      Trained: float[]
      Seconds: float }

/// `nnqm-train`: train a deep NN-QM (OU input rates and an odd tanh network with a linear skip) so that its Euclidean
/// two-point function matches the anharmonic oscillator's, then read the spectrum off the trained model twice: from
/// its exact Hermite expansion and, as a user would, by a Källén–Lehmann fit to sampled paths, each against exact
/// diagonalisation.
module NnqmTrain =

    let options =
        [ CommandLine.option "target" TextOption "anharmonic" "anharmonic (p²/2 + x²/2 + g x⁴)"
          CommandLine.option "g" FloatOption "1" "coupling g ≥ 0 of the target"
          CommandLine.option "inputs" IntOption "1" "independent OU inputs d, 1..3 (with 2 or more, two-point data alone may split one state between nearby rates)"
          CommandLine.option "width" IntOption "16" "hidden width of the network"
          CommandLine.option "steps" IntOption "8000" "Adam steps (rate ×0.2 at half and at five sixths)"
          CommandLine.option "lr" FloatOption "0.02" "initial learning rate"
          CommandLine.option "t-max" FloatOption "3" "largest matching time"
          CommandLine.option "match-points" IntOption "31" "matching times 0 … t-max"
          yield! NnqmOptions.pathOptions "20000" "paths of the trained model for the sampled spectrum, ≥ 4"
          yield! CommonOptions.optionsWith
                     (CommonOptions.notMerged "each replica trains its own network from its own initialisation, so their spectra are separate results to compare, not samples of one model")
                     "where the network is trained and its paths are sampled"
          yield! CheckpointOptions.optionsWith "continue training from --checkpoint up to --steps (the same target, network, --lr, --steps and --seed)" ]

    /// What a checkpoint of this training must match: the target, the network and everything the steps already taken
    /// ran with (the learning-rate schedule depends on --steps).
    let checkpointHeader (c: NnqmTrainConfig) =
        let model =
            Json.object
                [ "inputs", Json.integer c.Inputs; "width", Json.integer c.Width; "steps", Json.integer c.Steps
                  "lr", Json.number c.LearningRate; "seed", Json.integer c.Seed ]
        Hybrid.IO.CheckpointHeader("nnqm-train", model.ToJsonString(),
                                   sprintf "anharmonic g=%s, %d matching times to t=%s" (c.G.ToString("R", Globalization.CultureInfo.InvariantCulture)) c.MatchPoints (c.TMax.ToString("R", Globalization.CultureInfo.InvariantCulture)), "Float64")

    /// Validates the command line into a configuration.
    let configure (o: ParsedOptions) : NnqmTrainConfig =
        match (CommandLine.text o "target" |> Option.defaultValue "anharmonic").ToLowerInvariant() with
        | "anharmonic" -> ()
        | other -> raise (UsageError(sprintf "--target %s is not known; allowed: anharmonic" other))
        let g = NnqmOptions.coupling o
        let dt, length, until, states = NnqmOptions.configurePaths o
        { G = g
          Inputs = CommandLine.intIn o "inputs" 1L 3L |> CommandLine.required "inputs" |> int
          Width = CommandLine.intIn o "width" 1L 4096L |> CommandLine.required "width" |> int
          Steps = CommandLine.intIn o "steps" 1L 10_000_000L |> CommandLine.required "steps" |> int
          LearningRate = CommandLine.positive o "lr"
          TMax = CommandLine.positive o "t-max"
          MatchPoints = CommandLine.intIn o "match-points" 2L 10_000L |> CommandLine.required "match-points" |> int
          Paths = CommandLine.intIn o "paths" 4L 100_000_000L |> CommandLine.required "paths" |> int
          Dt = dt; Length = length; FitUntil = until; States = states
          Seed = CommonOptions.seed o; RootSeed = CommonOptions.rootSeed o; Replica = CommonOptions.replica o; Device = CommonOptions.device o
          Checkpoint = { File = None; Resume = false } }
        |> fun c -> { c with Checkpoint = CheckpointOptions.choice o (checkpointHeader c) }

    /// The configuration as written to config.json.
    let describe (c: NnqmTrainConfig) =
        Json.object
            ([ "target", Json.text "anharmonic"; "g", Json.number c.G; "inputs", Json.integer c.Inputs; "width", Json.integer c.Width
               "steps", Json.integer c.Steps; "lr", Json.number c.LearningRate; "t_max", Json.number c.TMax; "match_points", Json.integer c.MatchPoints
               "paths", Json.integer c.Paths; "dt", Json.number c.Dt; "T", Json.number c.Length; "fit_until", Json.number c.FitUntil
               "states", Json.integer c.States; CommonOptions.describeDevice c.Device ]
             @ CommonOptions.describeSeeds c.RootSeed c.Replica @ CheckpointOptions.describe c.Checkpoint)

    /// Trains, samples and fits.
    let run (c: NnqmTrainConfig) (dir: RunDirectory) : NnqmTrainResult =
        let clock = Diagnostics.Stopwatch.StartNew()
        // The target: G(t) = Σₙ |⟨0|x|n⟩|² e^{−(Eₙ − E₀)t} over the odd levels, from exact diagonalisation.
        let aho = AnharmonicOscillator.Solve(c.G, SpectralSums.levels (c.States + 5))
        let odd = [ 1 .. 2 .. 2 * c.States + 9 ]
        let matchTimes = Array.init c.MatchPoints (fun i -> c.TMax * float i / float (c.MatchPoints - 1))
        let target = matchTimes |> Array.map (fun t -> odd |> List.sumBy (fun n -> aho.PositionElements.[n] ** 2.0 * exp (-(aho.Energies.[n] - aho.Energies.[0]) * t)))
        let exactGaps, exactWeights = SpectralSums.oddSpectrum aho.Energies aho.PositionElements c.States
        // Initial rates 1, 5, 9 …: apart, so that the inputs start on different time scales.
        use model = new DeepNnqm(c.Inputs, c.Width, Array.init c.Inputs (fun i -> 1.0 + 4.0 * float i), Seeds.Derive(c.Seed, "model"))
        let objective = TwoPointMatching(model, matchTimes, target)
        let schedule = LearningRateSchedule(c.LearningRate, [| c.Steps / 2; 5 * c.Steps / 6 |], 0.2)
        let device = TorchRuntime.Resolve c.Device
        use trainer = new Trainer(model, objective, TrainerOptions(Schedule = schedule, DType = torch.ScalarType.Float64), Seeds.Derive(c.Seed, "trainer"), device)
        let curve = ResizeArray<float>()
        // The training curve is kept whatever happens: a run stopped for divergence leaves loss.csv up to its stop.
        let writeCurve () =
            let losses = curve.ToArray()
            Measurements.write (dir.File "loss.csv") (Measurements.ofColumns [ "step", [| Array.init losses.Length (fun i -> float (i + 1)) |]; "loss", [| losses |] ])
        let plan =
            { Name = "the network"; Label = "train"; Steps = c.Steps; Checkpoint = Some(c.Checkpoint.PathIn dir, checkpointHeader c)
              Resume = c.Checkpoint.Resume; Saves = 10 }
        TrainingDriver.run plan trainer
            (fun r -> sprintf "loss %.3e  ω %s" r.Loss (r.Diagnostics |> Seq.map (fun kv -> sprintf "%.5f" kv.Value) |> String.concat ", "))
            (fun r -> curve.Add r.Loss)
            writeCurve
        |> ignore
        let losses = curve.ToArray()
        let rates = (use r = model.Rates.detach() in use host = r.cpu() in host.data<float>().ToArray())
        // A loss that ends above where it started, or a rate that is no longer finite, is a training that ran away
        // (a too large step throws the rates to 10²⁶¹ and leaves the loss finite but large): stop before the spectral
        // fit, whose failure would hide the cause.
        if losses.Length > 1 && (losses.[losses.Length - 1] > losses.[0] || rates |> Array.exists (fun w -> not (Double.IsFinite w))) then
            writeCurve ()
            raise (Hybrid.Diagnostics.RunStoppedException(
                    sprintf "training diverged: the loss went from %.3g at step 1 to %.3g at step %d (OU rates ω = %s); try a smaller learning rate (now --lr %g)"
                        losses.[0] losses.[losses.Length - 1] losses.Length (rates |> Array.map (sprintf "%.3g") |> String.concat ", ") c.LearningRate))
        let trained =
            (use _ = torch.no_grad() in use t = torch.tensor(matchTimes, dtype = torch.ScalarType.Float64, device = device) in use g = model.TwoPoint(t) in use host = g.cpu() in host.data<float>().ToArray())
        // The sampled check, as a user would read the spectrum of any process.
        let steps = int (c.Length / c.Dt) + 1
        use generator = new torch.Generator(uint64 (Seeds.Derive(c.Seed, "paths")), device)
        let values = (use paths = model.SamplePaths(int64 c.Paths, steps, c.Dt, generator) in paths.data<float>().ToArray())
        let _, _, recovered = PathCorrelators.fitSpectrum values c.Paths steps c.Dt (int (c.FitUntil / c.Dt)) c.States false
        // What matching the two-point function leaves open: the four-point function, not trained on.
        let fourLag = max 1 (int (Math.Round(0.3 / c.Dt)))
        let tau = float fourLag * c.Dt
        let fourPoint = PathCorrelators.connectedFourPoint values c.Paths steps fourLag (int (Seeds.Derive(c.Seed, "four-point") % 1_000_000_007L))
        let exactFour = SpectralSums.connectedFourPoint (fun s -> aho.EuclideanCorrelator s) tau
        { Config = c; Losses = losses; Rates = rates
          ModelSpectrum = model.Spectrum(1e-10) |> Seq.map (fun struct (g, w) -> g, w) |> List.ofSeq
          Truncation = model.TruncationError()
          Recovered = recovered; ExactGaps = exactGaps; ExactWeights = exactWeights
          FourPoint = fourPoint; ExactFourPoint = exactFour; FourPointTau = tau
          MatchTimes = matchTimes; Target = target; Trained = trained; Seconds = clock.Elapsed.TotalSeconds }

    /// The Markdown report.
    let report (r: NnqmTrainResult) =
        let c = r.Config
        let modelGap n = if n < r.ModelSpectrum.Length then sprintf "%.6g" (fst r.ModelSpectrum.[n]) else "—"
        let modelWeight n = if n < r.ModelSpectrum.Length then sprintf "%.6g" (snd r.ModelSpectrum.[n]) else "—"
        let rows =
            Frame.ofRows
                [ for n in 0 .. c.States - 1 ->
                      sprintf "state %d" (n + 1),
                      series
                          [ "gap (exact)", box (sprintf "%.6g" r.ExactGaps.[n])
                            "gap (trained model)", box (modelGap n)
                            "gap (fit to its paths)", box (Estimate.format r.Recovered.Energies.[n])
                            "weight (exact)", box (sprintf "%.6g" r.ExactWeights.[n])
                            "weight (trained model)", box (modelWeight n)
                            "weight (fit to its paths)", box (Estimate.format r.Recovered.Amplitudes.[n]) ] ]
        let relative (model: float) (exact: float) = 100.0 * (model - exact) / exact
        String.concat "\n"
            [ yield sprintf "## A deep NN-QM trained to the anharmonic oscillator, g = %g\n" c.G
              yield sprintf "%d OU input(s), odd tanh network of width %d with a linear skip; %d Adam steps on the two-point function at %d times in [0, %g]: final loss %.3e, rates %s, Hermite truncation %.1e; %.1f s.\n"
                        c.Inputs c.Width c.Steps c.MatchPoints c.TMax (Array.last r.Losses) (r.Rates |> Array.map (sprintf "%.6g") |> String.concat ", ") r.Truncation r.Seconds
              yield Table.toMarkdown rows
              yield ""
              if not r.ModelSpectrum.IsEmpty then
                  yield sprintf "Trained model against exact: lowest gap %+.3f%%, its weight %+.3f%% (targets: 1%% and 2%%)."
                            (relative (fst r.ModelSpectrum.[0]) r.ExactGaps.[0]) (relative (snd r.ModelSpectrum.[0]) r.ExactWeights.[0])
              yield sprintf "Fit to %d paths of the trained model (length %g, Δt = %g, lags to %g): χ²/dof = %.2f, %s."
                        c.Paths c.Length c.Dt c.FitUntil r.Recovered.Fit.ChiSquaredPerDof (if r.Recovered.Fit.Converged then "converged" else "NOT converged")
              yield sprintf "Not trained on: the connected four-point function G₄c(0, τ, 2τ, 3τ) at τ = %g is %s for the model's paths against %.6g for the oscillator; two-point data fix the spectrum and the weights |⟨0|x|n⟩|², not the interaction's other matrix elements."
                        r.FourPointTau (Estimate.format r.FourPoint) r.ExactFourPoint
              match r.Recovered.Warning with Some w -> yield "**" + w + "**" | None -> () ]

    /// Writes the run.
    let write (dir: RunDirectory) (r: NnqmTrainResult) =
        let list (es: Estimate[]) = Json.array [ for e in es -> Study.estimateJson e ]
        Json.write (dir.File "summary.json")
            (Json.object
                [ "experiment", Json.text "nnqm-train"
                  "parameters", describe r.Config
                  "recovered", Json.object [ "gaps", list r.Recovered.Energies; "weights", list r.Recovered.Amplitudes
                                             "chi2_per_dof", Json.number r.Recovered.Fit.ChiSquaredPerDof
                                             "converged", System.Text.Json.Nodes.JsonValue.Create r.Recovered.Fit.Converged ]
                  "model", Json.object [ "gaps", Json.numbers [| for (g, _) in r.ModelSpectrum -> g |]; "weights", Json.numbers [| for (_, w) in r.ModelSpectrum -> w |]
                                         "rates", Json.numbers r.Rates; "truncation", Json.number r.Truncation; "final_loss", Json.number (Array.last r.Losses) ]
                  "exact", Json.object [ "gaps", Json.numbers r.ExactGaps; "weights", Json.numbers r.ExactWeights; "four_point_connected", Json.number r.ExactFourPoint ]
                  "observables", Study.estimatesJson [ "four_point_connected", r.FourPoint ]
                  "four_point_tau", Json.number r.FourPointTau
                  "warning", (match r.Recovered.Warning with Some w -> Json.text w | None -> null)
                  "runtime", Json.text TorchRuntime.Description ])
        Measurements.write (dir.File "measurements.csv")
            (Measurements.ofColumns [ "t", [| r.MatchTimes |]; "target", [| r.Target |]; "trained", [| r.Trained |] ])
        Measurements.write (dir.File "loss.csv")
            (Measurements.ofColumns [ "step", [| Array.init r.Losses.Length (fun i -> float (i + 1)) |]; "loss", [| r.Losses |] ])
        AtomicFile.writeText (dir.File "summary.md") (report r)
        Study.writePlot dir "two-point.html" "Two-point function: target and trained model" (sprintf "g = %g" r.Config.G)
            (Plots.againstTarget "t" "G(t)" r.MatchTimes ("target (exact)", r.Target) ("trained model", r.Trained))
        Study.writePlot dir "loss.html" "Training loss" "mean (Δ ln G)² per step" (Plots.historyAgainst "optimiser step" [ "loss", r.Losses ])

    /// The experiment as the command line knows it.
    let experiment : Experiment<NnqmTrainConfig, NnqmTrainResult> =
        { Name = "nnqm-train"
          Description = "train a deep NN-QM to the anharmonic oscillator's two-point function; its spectrum against exact diagonalisation"
          Options = options
          Configure = configure
          Describe = describe
          Run = fun c dir -> let r = run c dir in write dir r; r
          Report = report }
