namespace Hybrid.Scripting.Phi4

open System
open Deedle
open Hybrid.Analysis.Statistics
open Hybrid.Analysis.Reporting
open Hybrid.Scripting
open Hybrid.Scripting.Pipeline

/// Configuration of a side-by-side comparison of HMC and flow samplers at one parameter point.
type Phi4CompareConfig =
    { Hmc: Phi4HmcConfig
      Flows: Phi4FlowConfig list }

/// One sampler's line of the comparison.
type SamplerSummary =
    { Name: string
      Observables: (string * Estimate) list
      /// Wall-clock seconds per configuration (per chain and trajectory for HMC, per proposal for flows).
      SecondsPerConfiguration: float
      /// Seconds spent before sampling: thermalisation for HMC, training for flows.
      SetupSeconds: float
      SamplingSeconds: float
      Configurations: int
      /// What the sampler's own checks found doubtful (e.g. a flow-MCMC chain too short for its error bars).
      Warnings: string list }

/// Results of a comparison.
type Phi4CompareResult =
    { Config: Phi4CompareConfig
      Samplers: SamplerSummary list }

/// HMC and normalizing flows side by side: same observables, same analysis, and the cost per independent sample.
module Phi4Compare =

    let options =
        Phi4Options.theory
        @ [ CommandLine.option "chains" IntOption "32" "HMC chains"
            CommandLine.option "trajectories" IntOption "4000" "HMC trajectories per chain"
            CommandLine.option "realnvp-steps" IntOption "2000" "realNVP training steps"
            CommandLine.option "cnf-steps" IntOption "500" "continuous-flow training steps"
            CommandLine.option "rk-steps" IntOption "50" "continuous flow: RK4 steps"
            CommandLine.option "batch" IntOption "64" "flow training batch size"
            CommandLine.optional "realnvp-lr" FloatOption "realNVP's Adam learning rate (default as phi4-flow: 1e-3)"
            CommandLine.optional "cnf-lr" FloatOption "continuous flow's Adam learning rate (default as phi4-flow: 5e-3)"
            CommandLine.option "dtype" TextOption "float32" "flows: float32 | float64"
            CommandLine.option "samples" IntOption "8192" "proposals per flow for independence Metropolis"
            CommandLine.optional "checkpoint" TextOption "directory for the flows' checkpoints, realnvp.ckpt and cnf.ckpt (default: checkpoint.bin in each flow's run subdirectory; an existing one is replaced only with --force)"
            CommandLine.optional "resume" FlagOption "continue each flow from its checkpoint in --checkpoint up to its steps (a flow without one trains from the start; HMC runs again)" ]
        @ CommonOptions.optionsWith (CommonOptions.notMerged "each replica is an independent comparison (its own HMC chains and flows); compare their tables, or merge replicas of phi4-hmc and phi4-flow run separately") "where the tensors live"

    /// Validates the command line: one parse feeds every sampler, so they share theory, seed and device.
    let configure (o: ParsedOptions) : Phi4CompareConfig =
        // Options whose names differ from phi4-flow's are checked here, so that a message names what the user typed
        // (--realnvp-steps, not phi4-flow's --steps). The rest (--rk-steps, --batch, --samples, --dtype, the theory)
        // keep their names and are checked by phi4-hmc's and phi4-flow's own configuration.
        for name in [ "realnvp-steps"; "cnf-steps" ] do CommandLine.intIn o name 0L 100_000_000L |> ignore
        for name in [ "realnvp-lr"; "cnf-lr" ] do
            match CommandLine.float o name with
            | Some lr when not (lr > 0.0) -> raise (UsageError(sprintf "--%s %g is not allowed; it must be a number > 0" name lr))
            | _ -> ()
        let pass names = [ for n in names do match CommandLine.text o n with Some v when CommandLine.has o n -> yield! [ "--" + n; v ] | _ -> () ]
        let shared = pass [ "L"; "m2"; "lambda"; "kappa"; "lambda-tilde"; "seed"; "replica"; "replicas"; "device" ]
        let value n = CommandLine.text o n |> Option.get
        let hmc = Phi4Hmc.configure (CommandLine.parse Phi4Hmc.options (shared @ [ "--chains"; value "chains"; "--trajectories"; value "trajectories" ]))
        // One checkpoint per flow in the --checkpoint directory, each checked as phi4-flow checks its own (not over a
        // foreign file or, unless --force, an earlier checkpoint; a resumed one must fit its flow). --resume continues
        // each flow whose checkpoint is there: a run killed while training the continuous flow trains realNVP no
        // further (its checkpoint holds its last step) and the continuous flow from its last checkpoint on.
        let checkpoints = CommandLine.text o "checkpoint"
        let resume = CommandLine.switch o "resume"
        match checkpoints, resume with
        | None, true -> raise (UsageError "--resume needs --checkpoint DIR")
        | Some d, _ when IO.File.Exists d -> raise (UsageError(sprintf "--checkpoint %s is a file; give a directory (phi4-compare keeps one checkpoint per flow there)" d))
        | Some d, true when not (IO.Directory.Exists d) -> raise (UsageError(sprintf "--checkpoint %s does not exist, so there is nothing to resume" d))
        | _ -> ()
        let checkpoint name =
            match checkpoints with
            | Some d ->
                let file = IO.Path.Combine(d, name + ".ckpt")
                [ "--checkpoint"; file ]
                @ (if resume && IO.File.Exists file then [ "--resume" ] else [])
                @ (if CommandLine.switch o "force" then [ "--force" ] else [])
            | None -> []
        let flowOptions = Phi4Flow.options @ [ CommandLine.optional "force" FlagOption "replace an earlier checkpoint" ]
        let flow name steps lr extra =
            let learningRate = match CommandLine.text o lr with Some v -> [ "--lr"; v ] | None -> []
            Phi4Flow.configure (
                CommandLine.parse flowOptions
                    (shared @ [ "--flow"; name; "--steps"; value steps; "--batch"; value "batch"; "--samples"; value "samples"; "--dtype"; value "dtype" ]
                     @ learningRate @ extra @ checkpoint name))
        { Hmc = hmc
          Flows = [ flow "realnvp" "realnvp-steps" "realnvp-lr" []; flow "cnf" "cnf-steps" "cnf-lr" [ "--rk-steps"; value "rk-steps" ] ] }

    /// The configuration as written to config.json.
    let describe (c: Phi4CompareConfig) =
        Json.object ([ "hmc", Phi4Hmc.describe c.Hmc ] @ [ for f in c.Flows -> FlowSpec.name f.Flow, Phi4Flow.describe f ])

    let private find name (observables: (string * Estimate) list) = observables |> List.tryFind (fst >> (=) name) |> Option.map snd

    /// Cost per statistically independent measurement of χ₂: seconds per configuration × 2τ_int(χ₂),
    /// without and with the setup (thermalisation or training) spread over the samples drawn.
    let costPerIndependentSample (s: SamplerSummary) =
        let tau = (find "chi2" s.Observables |> Option.get).TauInt
        let independent = float s.Configurations / (2.0 * tau)
        s.SecondsPerConfiguration * 2.0 * tau, (s.SetupSeconds + s.SamplingSeconds) / independent

    /// The comparison table: rows are quantities, columns samplers.
    let frame (r: Phi4CompareResult) : Frame<string, string> =
        let physics = [ "chi2"; "abs_magnetization"; "binder"; "ising_energy"; "xi" ]
        let reference = r.Samplers.Head
        let cell (s: SamplerSummary) (row: string) : obj =
            let estimate n = find n s.Observables
            match row with
            | n when List.contains n physics ->
                let e = (estimate n).Value
                let refE = (find n reference.Observables).Value
                let pull = abs (e.Mean - refE.Mean) / sqrt (e.Error * e.Error + refE.Error * refE.Error)
                if Object.ReferenceEquals(s, reference) || not (Double.IsFinite pull) then box (Estimate.format e)
                else box (sprintf "%s (%.3gσ)" (Estimate.format e) pull)
            | "acceptance" -> box (Estimate.format (estimate "acceptance").Value)
            | "ess" -> estimate "ess" |> Option.map (Estimate.format >> box) |> Option.defaultValue (box "—")
            | "tau_int_abs_m" -> box (sprintf "%.2f" (estimate "abs_magnetization").Value.TauInt)
            | "tau_int_chi2" -> box (sprintf "%.2f" (estimate "chi2").Value.TauInt)
            | "seconds_per_configuration" -> box (sprintf "%.3g" s.SecondsPerConfiguration)
            | "setup_seconds" -> box (sprintf "%.1f" s.SetupSeconds)
            | "cost_per_independent_sample" -> box (sprintf "%.3g" (fst (costPerIndependentSample s)))
            | "cost_with_setup" -> box (sprintf "%.3g" (snd (costPerIndependentSample s)))
            | other -> box other
        let rows =
            physics
            @ [ "acceptance"; "ess"; "tau_int_abs_m"; "tau_int_chi2"; "seconds_per_configuration"; "setup_seconds"
                "cost_per_independent_sample"; "cost_with_setup" ]
        Frame.ofColumns [ for s in r.Samplers -> s.Name, Series.ofObservations [ for row in rows -> row, cell s row ] ]

    /// The Markdown report.
    let report (r: Phi4CompareResult) =
        let c = r.Config.Hmc
        String.concat
            "\n"
            [ yield sprintf "## φ⁴ samplers side by side: L = %d, %O\n" c.Lattice.Extent c.Couplings
              yield Table.toMarkdown (frame r)
              yield "Physics rows: value(error); for flows, the distance to HMC in combined standard deviations. τ_int in configurations"
              + " (trajectories for HMC, proposals for independence Metropolis). Costs in seconds of this machine: per configuration,"
              + " per independent χ₂ sample (× 2τ_int), and with thermalisation/training spread over the samples drawn."
              + " Independence Metropolis is exact at any ESS; a poor flow shows as a long τ_int, not as a bias.\n"
              yield! [ for s in r.Samplers do for w in s.Warnings -> sprintf "**%s: %s**\n" s.Name w ] ]

    /// Runs HMC and each flow into subdirectories, then writes the comparison.
    let run (c: Phi4CompareConfig) (dir: RunDirectory) : Phi4CompareResult =
        // Each sampler writes a complete run of its own experiment into a subdirectory.
        let inSub name experiment (f: RunDirectory -> 'r) =
            let d = RunDirectory.sub dir name
            let r = f d
            RunDirectory.complete d experiment
            r
        let hmc = inSub "hmc" "phi4-hmc" (Phi4Hmc.run c.Hmc)
        let hmcSummary =
            { Name = "HMC"; Observables = hmc.Observables; SecondsPerConfiguration = Phi4Hmc.secondsPerTrajectory hmc
              SetupSeconds = hmc.Samples.ThermalizationSeconds; SamplingSeconds = hmc.Samples.MeasurementSeconds
              Configurations = c.Hmc.Trajectories * c.Hmc.Chains; Warnings = [] }
        let flows =
            [ for f in c.Flows ->
                  let r = inSub (FlowSpec.name f.Flow) "phi4-flow" (Phi4Flow.run f)
                  { Name = FlowSpec.displayName f.Flow
                    Observables = r.Observables; SecondsPerConfiguration = r.SamplingSeconds / float f.Samples
                    SetupSeconds = r.TrainingSeconds; SamplingSeconds = r.SamplingSeconds; Configurations = f.Samples
                    Warnings = Phi4Flow.chainWarning f.Samples r.Chain r.Observables |> Option.toList } ]
        let result = { Config = c; Samplers = hmcSummary :: flows }
        AtomicFile.writeText (dir.File "summary.md") (report result)
        AtomicFile.writeText (dir.File "comparison.csv") (Table.toCsv (frame result))
        Json.write
            (dir.File "summary.json")
            (Json.object
                [ "experiment", Json.text "phi4-compare"
                  "parameters", describe c
                  "samplers",
                  Json.object
                      [ for s in result.Samplers ->
                            s.Name,
                            Json.object
                                [ "observables", Study.estimatesJson s.Observables
                                  "seconds_per_configuration", Json.number s.SecondsPerConfiguration
                                  "setup_seconds", Json.number s.SetupSeconds
                                  "sampling_seconds", Json.number s.SamplingSeconds
                                  "cost_per_independent_sample", Json.number (fst (costPerIndependentSample s))
                                  "cost_with_setup", Json.number (snd (costPerIndependentSample s)) ] ] ])
        result

    /// The experiment as the command line knows it.
    let experiment : Experiment<Phi4CompareConfig, Phi4CompareResult> =
        { Name = "phi4-compare"
          Description = "HMC, realNVP and the equivariant continuous flow side by side at one parameter point"
          Options = options
          Configure = configure
          Describe = describe
          Run = run
          Report = report }
