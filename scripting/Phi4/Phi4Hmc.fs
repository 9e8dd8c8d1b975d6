namespace Hybrid.Scripting.Phi4

open System
open Hybrid.Analysis.Statistics
open Hybrid.Lattice
open Hybrid.Phi4
open Hybrid.Runtime
open Hybrid.Sampling
open Hybrid.Scripting
open Hybrid.Scripting.Pipeline

/// Configuration of an HMC study of lattice φ⁴ (validated; build it with Phi4Hmc.configure or from Phi4Hmc.defaults).
type Phi4HmcConfig =
    { Lattice: SquareLattice
      Couplings: Phi4Parameters
      Chains: int
      Thermalization: int
      Trajectories: int
      Hmc: HmcOptions
      /// The seed in use: the root seed, or a replica's seed derived from it.
      Seed: int64
      /// The root seed (--seed).
      RootSeed: int64
      /// Which of several independent runs this is (seeds derived from the root seed), if any.
      Replica: Replica option
      Device: ComputeDevice }

/// Raw output of the HMC chains.
type Phi4HmcSamples =
    { Series: Phi4Series
      /// Accepted.[chain].[trajectory] as 0/1.
      Accepted: float[][]
      DeltaH: float[][]
      StepSize: float
      StepsPerTrajectory: int
      ThermalizationSeconds: float
      MeasurementSeconds: float
      Device: string }

/// Results of an HMC study.
type Phi4HmcResult =
    { Config: Phi4HmcConfig
      Samples: Phi4HmcSamples
      Physics: Phi4Physics
      /// Physics and sampler estimates, in the order of the summary table.
      Observables: (string * Estimate) list }

/// Hybrid Monte Carlo of 2D lattice φ⁴ with Γ-method analysis.
module Phi4Hmc =

    let options =
        Phi4Options.theory
        @ [ CommandLine.option "chains" IntOption "32" "independent Markov chains, run as one batch"
            CommandLine.option "thermalization" IntOption "200" "trajectories discarded per chain while the step size adapts"
            CommandLine.option "trajectories" IntOption "4000" "measured trajectories per chain"
            CommandLine.option "trajectory-length" FloatOption "1" "molecular-dynamics time τ per trajectory"
            CommandLine.option "integrator" TextOption "omelyan" "omelyan | leapfrog"
            CommandLine.option "target-acceptance" FloatOption "0.8" "acceptance the step size adapts to, in (0, 1)" ]
        @ CommonOptions.options

    /// Validates the command line into a configuration; every error names the value and what is allowed.
    let configure (o: ParsedOptions) : Phi4HmcConfig =
        let integrator =
            match (CommandLine.text o "integrator" |> Option.defaultValue "omelyan").ToLowerInvariant() with
            | "omelyan" -> MolecularDynamicsIntegrator.Omelyan
            | "leapfrog" -> MolecularDynamicsIntegrator.Leapfrog
            | other -> raise (UsageError(sprintf "--integrator %s is not known; allowed: omelyan, leapfrog" other))
        let hmc =
            HmcOptions(
                TrajectoryLength = (CommandLine.float o "trajectory-length" |> CommandLine.required "trajectory-length"),
                TargetAcceptance = (CommandLine.float o "target-acceptance" |> CommandLine.required "target-acceptance"),
                Integrator = integrator)
        CommandLine.validate hmc.Validate
        { Lattice = Phi4Options.lattice o
          Couplings = Phi4Options.couplings o
          Chains = CommandLine.intIn o "chains" 1L 1_000_000L |> CommandLine.required "chains" |> int
          Thermalization = CommandLine.intIn o "thermalization" 0L 100_000_000L |> CommandLine.required "thermalization" |> int
          Trajectories = CommandLine.intIn o "trajectories" 2L 100_000_000L |> CommandLine.required "trajectories" |> int
          Hmc = hmc
          Seed = CommonOptions.seed o
          RootSeed = CommonOptions.rootSeed o
          Replica = CommonOptions.replica o
          Device = CommonOptions.device o }

    /// The main job's configuration (every option at its default), to modify with `{ Phi4Hmc.defaults with ... }`.
    let defaults : Phi4HmcConfig = configure (CommandLine.parse options [])

    /// The configuration as written to config.json.
    let describe (c: Phi4HmcConfig) =
        Json.object (
            Phi4Options.describe c.Lattice c.Couplings
            @ [ "chains", Json.integer c.Chains
                "thermalization", Json.integer c.Thermalization
                "trajectories", Json.integer c.Trajectories
                "trajectory_length", Json.number c.Hmc.TrajectoryLength
                "integrator", Json.text (string c.Hmc.Integrator)
                "target_acceptance", Json.number c.Hmc.TargetAcceptance
                "seed", Json.integer c.Seed
                "root_seed", Json.integer c.RootSeed
                "replica", (match c.Replica with Some r -> Json.integer r.Index | None -> null)
                "replicas", (match c.Replica with Some r -> Json.integer r.Count | None -> null)
                "device", Json.text ((string c.Device).ToLowerInvariant()) ])

    /// Runs thermalisation and measurement, showing progress; returns the raw measurements.
    let sample (c: Phi4HmcConfig) : Phi4HmcSamples =
        let device = TorchRuntime.Resolve c.Device
        let action = Phi4Action(c.Lattice, c.Couplings)
        use hmc = new HybridMonteCarlo(action, c.Chains, c.Hmc, c.Seed, device)
        let thermalization = ProgressReporter("thermalise", c.Thermalization, "traj")
        hmc.Thermalize(
            c.Thermalization,
            true,
            fun t outcome -> thermalization.Report(t, sprintf "acc %.2f  ε %.4f" outcome.AcceptanceRate hmc.StepSize))
        let thermalizationSeconds = thermalization.Elapsed
        let n, chains = c.Trajectories, c.Chains
        let collector = Phi4Study.Collector(chains, n, c.Lattice.Extent)
        let accepted = Array.init chains (fun _ -> Array.zeroCreate<float> n)
        let deltaH = Array.init chains (fun _ -> Array.zeroCreate<float> n)
        let progress = ProgressReporter("measure", n, "traj")
        let mutable acceptedSoFar, chiSum = 0, 0.0
        for i in 0 .. n - 1 do
            let outcome = hmc.Trajectory()
            let x = Phi4Observables.Measure hmc.Fields
            collector.Add(i, x)
            for k in 0 .. chains - 1 do
                accepted.[k].[i] <- if outcome.Accepted.[k] then 1.0 else 0.0
                deltaH.[k].[i] <- outcome.DeltaH.[k]
                if outcome.Accepted.[k] then acceptedSoFar <- acceptedSoFar + 1
            chiSum <- chiSum + Array.sum x.MagnetizationSquared / float chains / float c.Lattice.Volume
            progress.Report(i + 1, sprintf "acc %.3f  χ₂ %.4f" (float acceptedSoFar / float ((i + 1) * chains)) (chiSum / float (i + 1)))
        { Series = collector.Series; Accepted = accepted; DeltaH = deltaH; StepSize = hmc.StepSize
          StepsPerTrajectory = hmc.StepsPerTrajectory; ThermalizationSeconds = thermalizationSeconds
          MeasurementSeconds = progress.Elapsed; Device = string device.``type`` }

    /// Γ-method analysis: the physics, plus the acceptance and ⟨e^{−ΔH}⟩ (exactness check).
    let analyse (c: Phi4HmcConfig) (s: Phi4HmcSamples) : Phi4HmcResult =
        let physics = Phi4Study.analyse c.Lattice s.Series
        let boltzmann = s.DeltaH |> Array.map (Array.map (fun d -> exp -d))
        { Config = c; Samples = s; Physics = physics
          Observables = physics.Observables @ [ "acceptance", GammaMethod.analyze s.Accepted; "exp_minus_delta_h", GammaMethod.analyze boltzmann ] }

    /// HMC's own exactness checks on a finished run: the chains must move (acceptance ≥ 1%, else every Γ-method
    /// error is meaningless) and ⟨e^{−ΔH}⟩ must be 1 within 5 standard errors (Creutz's equality, which any exact,
    /// area-preserving and reversible integrator satisfies). The second check needs an error bar it can trust: e^{−ΔH}
    /// is heavy-tailed when ΔH fluctuates by several units (rare ΔH < 0 dominate the mean), so it applies only with at
    /// least 1000 measurements at acceptance ≥ 0.5 (Var ΔH ≲ 2), the regime of every tuned run; a 20-trajectory run
    /// with an unadapted step size gave 0.39(11). None when the checks pass; otherwise the diagnosis.
    let exactnessProblem (c: Phi4HmcConfig) (stepSize: float) (acceptance: Estimate) (boltzmann: Estimate) : string option =
        if not (acceptance.Mean >= 0.01) then
            Some(sprintf "HMC's chains barely moved: acceptance %s (target %g) at step size ε = %.4g; no error bar of this run can be trusted. Thermalise longer (--thermalization) so that the step size can adapt, or check the couplings" (Estimate.format acceptance) c.Hmc.TargetAcceptance stepSize)
        elif boltzmann.Samples >= 1000 && acceptance.Mean >= 0.5
             && (not (Double.IsFinite boltzmann.Mean) || abs (boltzmann.Mean - 1.0) > 5.0 * boltzmann.Error || (boltzmann.Error = 0.0 && boltzmann.Mean <> 1.0)) then
            Some(sprintf "HMC's exactness check failed: ⟨e^{−ΔH}⟩ = %s where an exact integrator gives 1 within errors; the molecular dynamics is not reversible or not area-preserving at this step size, so the chains do not sample e^{−S}" (Estimate.format boltzmann))
        else None

    /// Seconds of HMC per trajectory of one chain (all chains run as one batch).
    let secondsPerTrajectory (r: Phi4HmcResult) = r.Samples.MeasurementSeconds / float (r.Config.Trajectories * r.Config.Chains)

    /// The Markdown report.
    let report (r: Phi4HmcResult) =
        let c, s = r.Config, r.Samples
        let header =
            sprintf "## φ⁴ HMC: L = %d, %O\n\n%d chains × %d trajectories (after %d thermalisation), %O integrator, ε = %.4f (%d steps, τ = %g), device %s\n"
                c.Lattice.Extent c.Couplings c.Chains c.Trajectories c.Thermalization c.Hmc.Integrator s.StepSize s.StepsPerTrajectory c.Hmc.TrajectoryLength s.Device
        let timing =
            sprintf "\nTiming: thermalisation %.1f s, measurement %.1f s (%.0f trajectories/s of all chains, %.3g site-trajectories/s).\n"
                s.ThermalizationSeconds s.MeasurementSeconds (float c.Trajectories / s.MeasurementSeconds)
                (float c.Trajectories * float c.Chains * float c.Lattice.Volume / s.MeasurementSeconds)
        String.concat "\n" [ header; Phi4Study.markdown r.Observables r.Physics; timing ]

    /// Writes measurements.csv, summary.json, summary.md, the tables as CSV and the plots.
    let write (dir: RunDirectory) (r: Phi4HmcResult) =
        let c, s = r.Config, r.Samples
        Phi4Study.writeMeasurements (dir.File "measurements.csv") [ "accepted", s.Accepted; "delta_h", s.DeltaH ] s.Series
        Json.write
            (dir.File "summary.json")
            (Json.object
                [ "experiment", Json.text "phi4-hmc"
                  "parameters", describe c
                  "observables", Study.estimatesJson r.Observables
                  "correlator", Phi4Study.correlatorJson r.Physics
                  "sampler",
                  Json.object
                      [ "step_size", Json.number s.StepSize
                        "steps_per_trajectory", Json.integer s.StepsPerTrajectory
                        "gradients_per_trajectory", Json.integer (int64 (s.StepsPerTrajectory * MolecularDynamics.GradientsPerStep c.Hmc.Integrator)) ]
                  "timing",
                  Json.object
                      [ "thermalization_seconds", Json.number s.ThermalizationSeconds
                        "measurement_seconds", Json.number s.MeasurementSeconds
                        "trajectories_per_second", Json.number (float c.Trajectories / s.MeasurementSeconds)
                        "seconds_per_trajectory_per_chain", Json.number (secondsPerTrajectory r)
                        "device", Json.text s.Device
                        "runtime", Json.text TorchRuntime.Description ] ])
        Phi4Study.writeTables dir (report r) r.Observables r.Physics
        Phi4Study.writePlots dir c.Lattice (sprintf "HMC, L = %d, %O" c.Lattice.Extent c.Couplings) s.Series r.Physics

    /// Samples, analyses and writes a run.
    let run (c: Phi4HmcConfig) (dir: RunDirectory) : Phi4HmcResult =
        let result = sample c |> analyse c
        write dir result
        let estimate name = result.Observables |> List.find (fst >> (=) name) |> snd
        match exactnessProblem c result.Samples.StepSize (estimate "acceptance") (estimate "exp_minus_delta_h") with
        | Some diagnosis -> raise (Hybrid.Diagnostics.RunStoppedException diagnosis)
        | None -> result

    /// The experiment as the command line knows it.
    let experiment : Experiment<Phi4HmcConfig, Phi4HmcResult> =
        { Name = "phi4-hmc"
          Description = "Hybrid Monte Carlo of 2D lattice φ⁴ with Γ-method errors"
          Options = options
          Configure = configure
          Describe = describe
          Run = run
          Report = report }
