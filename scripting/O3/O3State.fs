namespace Hybrid.Scripting.O3

open System
open Deedle
open Hybrid.Analysis.Statistics
open Hybrid.Analysis.Reporting
open Hybrid.O3
open Hybrid.Runtime
open Hybrid.Scripting.Pipeline

type O3StateConfig =
    { Sites: int
      G2: float
      State: RotorState
      Vmc: VmcSettings
      Checkpoint: CheckpointChoice }

type O3StateResult =
    { Config: O3StateConfig
      Result: StateResult
      Exact: RotorChainConvergence option }

/// `o3-vmc`: one variational state of the rotor chain (the ground state or the l = 1 state) trained by stochastic
/// reconfiguration and measured, beside exact diagonalisation where the chain is small enough.
module O3State =

    let options =
        [ CommandLine.option "L" IntOption "4" "chain length L ≥ 2"
          CommandLine.option "g2" FloatOption "1" "coupling g², 0.01..100"
          CommandLine.option "state" TextOption "ground" "ground (singlet) | l1 (lowest l = 1 state at zero momentum)"
          yield! O3Vmc.options "1500" O3Vmc.independentReplicas
          yield! CheckpointOptions.options ]

    let configure (o: ParsedOptions) : O3StateConfig =
        let sites = O3Vmc.sites o
        let g2 = O3Vmc.coupling o
        let state =
            match (CommandLine.text o "state" |> Option.defaultValue "ground").ToLowerInvariant() with
            | "ground" -> Ground
            | "l1" -> Isovector
            | other -> raise (UsageError(sprintf "--state %s is not known; allowed: ground, l1" other))
        let vmc = O3Vmc.settings o sites
        CommandLine.validate (fun () -> AnsatzSpec.build sites 1L state vmc.Ansatz |> ignore)
        { Sites = sites; G2 = g2; State = state; Vmc = vmc; Checkpoint = CheckpointOptions.choice o (O3Vmc.checkpointHeader sites g2 state vmc) }

    let describe (c: O3StateConfig) =
        Json.object
            ([ "L", Json.integer (int64 c.Sites); "g2", Json.number c.G2; "state", Json.text (RotorState.name c.State) ]
             @ O3Vmc.describeRun c.Vmc @ CheckpointOptions.describe c.Checkpoint)

    let run (c: O3StateConfig) (dir: RunDirectory) : O3StateResult =
        let exact = O3Reference.reference c.Sites c.G2 O3Reference.memoryLimit
        let checkpoint = Some(c.Checkpoint.PathIn dir, c.Checkpoint.Resume)
        { Config = c; Result = O3Vmc.runState c.Sites c.G2 c.State c.Vmc checkpoint; Exact = exact }

    /// The ED level of the state with its truncation shift.
    let private exactEnergy (r: O3StateResult) =
        match r.Config.State with
        | Ground -> r.Exact |> Option.map (fun e -> e.Levels.GroundEnergy, e.GroundShift)
        | Isovector -> r.Exact |> Option.map (fun e -> e.Levels.ExcitedEnergy, e.Levels.ExcitedEnergy - e.Coarser.ExcitedEnergy)
        | Moving _ -> None

    /// Every warning of the run: the sampler's health, then an unconverged reference.
    let warnings (r: O3StateResult) =
        r.Result.Warnings
        @ (match exactEnergy r with
           | Some(_, shift) when not (O3Reference.isConverged shift r.Result.Energy.Error) ->
               [ O3Reference.referenceWarning (sprintf "%s energy" (RotorState.name r.Config.State)) r.Exact.Value.Levels.LMax shift r.Result.Energy.Error ]
           | _ -> [])

    let report (r: O3StateResult) =
        let c = r.Config
        let s = r.Result
        String.concat "\n"
            [ yield sprintf "## VMC of the O(3) rotor chain: %s state, L = %d, g² = %g\n" (RotorState.name c.State) c.Sites c.G2
              yield sprintf "Ansatz %s (%d parameters); %d %s steps (η = %g, λ = %g) on %d chains × %d samples, then %d samples per chain measured: %.1f s training (%.3f s per step), %.1f s measuring; peak memory %.0f MiB.\n"
                        (AnsatzSpec.describeText c.Vmc.Ansatz) s.Parameters c.Vmc.Steps (match c.Vmc.Optimizer with Sr -> "SR" | Adam -> "Adam") c.Vmc.LearningRate c.Vmc.DiagonalShift c.Vmc.Chains c.Vmc.SamplesPerChain c.Vmc.Measurements s.TrainSeconds s.StepSeconds s.MeasureSeconds (float s.PeakMemory / 1048576.0)
              yield sprintf "| quantity | value |\n|---|---|\n| energy | %s |\n| local-energy variance | %.3e |\n| beyond 5σ / largest deviation | %.2e / %.1fσ |\n| acceptance | %.3f |\n| τ_int, split-R̂ | %.2f, %.3f |"
                        (Estimate.format s.Energy) s.Variance s.TailFraction s.MaxDeviation s.Acceptance s.Energy.TauInt s.Energy.RHat
              match exactEnergy r with
              | Some(e, shift) ->
                  let converged = O3Reference.isConverged shift s.Energy.Error
                  yield sprintf "| %s | %.10f (truncation shift %.1e) |\n| VMC − ED | %.2e (%.3gσ of the VMC error and the truncation shift; relative %.1e) |"
                            (sprintf (if converged then "exact (ED, l_max = %d)" else "ED at l_max = %d, NOT converged") r.Exact.Value.Levels.LMax) e (abs shift) (s.Energy.Mean - e) (O3Reference.sigmaDistance s.Energy e shift) ((s.Energy.Mean - e) / abs e)
              | None -> ()
              for w in warnings r do
                  yield sprintf "\n**WARNING**: %s." w ]

    let write (dir: RunDirectory) (r: O3StateResult) =
        Json.write (dir.File "summary.json")
            (Json.object
                [ "experiment", Json.text "o3-vmc"; "parameters", describe r.Config
                  "observables", Study.estimatesJson [ "E", r.Result.Energy ]
                  "state", O3Vmc.stateJson r.Result
                  "exact", (match r.Exact with Some e -> O3Reference.referenceJson e | None -> null)
                  "exact_converged", (match exactEnergy r with Some(_, shift) -> System.Text.Json.Nodes.JsonValue.Create(O3Reference.isConverged shift r.Result.Energy.Error) :> System.Text.Json.Nodes.JsonNode | None -> null)
                  "distance_sigma", (match exactEnergy r with Some(e, shift) -> Json.number (O3Reference.sigmaDistance r.Result.Energy e shift) | None -> null)
                  "warnings", Json.array (warnings r |> List.map Json.text)
                  "runtime", Json.text TorchRuntime.Description ])
        O3Vmc.writeCurve dir r.Result
        AtomicFile.writeText (dir.File "summary.md") (report r)
        Study.writePlot dir "training.html" "VMC training" (sprintf "%s state, L = %d, g² = %g" (RotorState.name r.Config.State) r.Config.Sites r.Config.G2)
            (Plots.historyAgainst "optimiser step" [ "energy", r.Result.Curve |> Array.map (fun (e, _, _) -> e); "variance", r.Result.Curve |> Array.map (fun (_, _, v) -> v) ])

    let experiment : Experiment<O3StateConfig, O3StateResult> =
        { Name = "o3-vmc"
          Description = "one variational state of the O(3) rotor chain (ground or l = 1) by stochastic reconfiguration, against exact diagonalisation"
          Options = options
          Configure = configure
          Describe = describe
          Run = fun c dir -> let r = run c dir in write dir r; r
          Report = report }
