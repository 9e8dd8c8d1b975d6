namespace Hybrid.Scripting.O3

open System
open System.Diagnostics
open Hybrid.Analysis.Statistics
open Hybrid.Analysis.Reporting
open Hybrid.IO
open Hybrid.O3
open Hybrid.Runtime
open Hybrid.Sampling
open Hybrid.Training
open Hybrid.Vmc
open Hybrid.Scripting.Pipeline
open TorchSharp

/// The optimiser of a variational state.
type VmcOptimizer =
    /// Stochastic reconfiguration (natural gradient; minSR when parameters outnumber samples) with plain steps.
    | Sr
    /// Adam on the energy gradient: the first-order baseline.
    | Adam

/// How a variational state is trained and measured.
type VmcSettings =
    { Ansatz: AnsatzSpec
      Optimizer: VmcOptimizer
      /// Stochastic-reconfiguration steps.
      Steps: int
      /// Imaginary-time step η of SR (constant).
      LearningRate: float
      /// SR's diagonal shift λ.
      DiagonalShift: float
      /// Independent Metropolis chains.
      Chains: int
      /// Configurations per chain per training step.
      SamplesPerChain: int
      /// Configurations per chain in the final measurement.
      Measurements: int
      /// Configurations per local-energy evaluation (bounds the memory); None: RotorChainHamiltonian.DefaultChunk of
      /// each chain. Like the device, no part of a state's stamp: it changes the evaluation's speed, not the state.
      Chunk: int option
      /// The root seed (--seed): what a measured state is stamped with (O3Points), so that replicas share points.
      Seed: int64
      /// Which replica this run is, if any: its states are trained and sampled with the seed derived from Seed
      /// (`O3Vmc.seed`).
      Replica: Replica option
      /// Where the network, the chains and the local energies live (auto: CUDA when available).
      Device: ComputeDevice
      /// How the chains evaluate a single-site move (--moves): Local from cached site terms where the ansatz allows
      /// it (not message passing, which falls back to Full), or Full re-evaluation of ln ψ. Both take the same decisions
      /// up to rounding, so, like the device, it is no part of a state's stamp.
      Moves: MoveEvaluation }

/// A trained and measured variational state.
type StateResult =
    { State: RotorState
      Sites: int
      G2: float
      /// The variational energy (Γ-method over the chains: τ_int, split-R̂).
      Energy: Estimate
      /// Variance of the local energy (zero for an eigenstate).
      Variance: float
      /// Fraction of local energies more than 5 standard deviations from the mean (heavy tails near nodes).
      TailFraction: float
      /// The largest |E_loc − E| in standard deviations.
      MaxDeviation: float
      Acceptance: float
      Parameters: int64
      /// Per training step: energy, its error, local-energy variance.
      Curve: (float * float * float)[]
      /// The step number of Curve's first entry (a resumed run's curve starts after its checkpoint's steps).
      FirstStep: int
      /// Thermalisation and training.
      TrainSeconds: float
      /// Seconds per optimisation step (sampling, local energies, log-derivatives, SR), thermalisation excluded.
      StepSeconds: float
      MeasureSeconds: float
      /// Peak working set of the process after this state (bytes).
      PeakMemory: int64
      /// What makes the measured energy doubtful (a stuck sampler, unmixed chains, chains too short for τ_int): shown
      /// in the report and kept in summary.json; empty for a healthy run.
      Warnings: string list }

/// Variational Monte Carlo of one state of the rotor chain, shared by every O(3) experiment: build the wavefunction,
/// thermalise Metropolis chains of random single-site rotations on its Born density, train it by stochastic
/// reconfiguration (minSR when parameters outnumber samples), then measure its energy with frozen parameters.
module O3Vmc =

    /// The seed the states of a run are trained and sampled with: --seed, or a replica's seed derived from it.
    let seed (s: VmcSettings) = CommonOptions.seedOf s.Seed s.Replica

    /// The checkpoint header of a state: training resumes only into the same ansatz, state, chain and coupling, and
    /// with the same optimiser, step, diagonal shift, chains, samples per chain and seed (what the saved optimiser and
    /// sampler were made with, and what the steps already taken ran with), so that every mismatch is named before any
    /// work. Only --steps (how far to train), --measure and --chunk may change on resume.
    let checkpointHeader (sites: int) (g2: float) (state: RotorState) (s: VmcSettings) =
        let model =
            Json.object
                [ "ansatz", AnsatzSpec.describe s.Ansatz; "state", Json.text (RotorState.name state)
                  "optimizer", Json.text (match s.Optimizer with Sr -> "sr" | Adam -> "adam"); "lr", Json.number s.LearningRate
                  "diag_shift", Json.number s.DiagonalShift; "chains", Json.integer (int64 s.Chains)
                  "samples_per_chain", Json.integer (int64 s.SamplesPerChain); "seed", Json.integer (seed s) ]
        CheckpointHeader("o3-vmc", model.ToJsonString(), RotorChainHamiltonian(sites, g2).Describe(), "Float64")

    /// The range of g² every O(3) experiment accepts. Below 0.01 exact diagonalisation at the l_max a reference can
    /// afford is off by far more than any VMC error (at g² = 0.01, L = 4, l_max = 6 it misses E₀ ≈ −395 by 26) and the
    /// Metropolis acceptance of single-site rotations falls below 5% (the wavefunction is sharply peaked); above 100
    /// the chain is a set of free rotors whose gap g² dwarfs the coupling 1/g², and SR diverges (o3-mc's range too).
    let couplingRange = 0.01, 100.0

    /// Refuses, as a diagnosis, a coupling outside `couplingRange` that a study's tuning reached.
    let checkCoupling (g2: float) =
        let lo, hi = couplingRange
        if not (g2 >= lo && g2 <= hi) then
            raise (Hybrid.Diagnostics.RunStoppedException(sprintf "the tuning reached g² = %.4g, outside %g..%g where the O(3) code works; the target coupling is out of reach at this L (try a target nearer 1)" g2 lo hi))

    // The sampler's health, checked after the measurement. Thresholds:
    // - acceptance < 0.05: a site then keeps its orientation for 20 sweeps on average, so the measured configurations
    //   barely move and the error is that of a handful of independent samples, whatever the Γ-method says;
    // - split-R̂ > 1.1: the chains' halves disagree by more than a tenth of the within-chain spread (Gelman–Rubin's
    //   usual bound), so the chains have not mixed into one distribution;
    // - measurements per chain < 10 τ_int: the Γ-method's window (4–6 τ_int) then spans a large part of each chain, so
    //   τ_int and the error are underestimated (Wolff 2004: the estimate of τ needs N ≫ τ).
    let private minAcceptance = 0.05
    let private maxRHat = 1.1
    let private minChainOverTau = 10.0

    /// The warnings for a measured state (empty when healthy).
    let healthWarnings (acceptance: float) (energy: Estimate) (measurements: int) =
        [ if acceptance < minAcceptance then
              yield sprintf "Metropolis acceptance %.3f is below %.2f: the chains barely move and the error bar is not trustworthy (a smaller --lr, or a larger g²)" acceptance minAcceptance
          if energy.RHat > maxRHat then
              yield sprintf "split-R̂ %.3f exceeds %.1f: the chains have not mixed, so the energy and its error are not trustworthy (train longer, or lower --lr)" energy.RHat maxRHat
          if Double.IsFinite energy.TauInt && float measurements < minChainOverTau * energy.TauInt then
              yield sprintf "τ_int %.3g is more than a tenth of the %d measurements per chain: τ_int and the error are underestimated (raise --measure)" energy.TauInt measurements ]

    let private tails (values: float[]) (mean: float) (variance: float) =
        let sd = sqrt variance
        if sd = 0.0 || Double.IsNaN sd then 0.0, 0.0
        else
            let deviations = values |> Array.map (fun v -> abs (v - mean) / sd)
            (deviations |> Array.filter (fun d -> d > 5.0) |> Array.length |> float) / float values.Length, Array.max deviations

    /// Trains and measures `state` on a chain of `sites` at g²; `checkpoint` (file, resume) keeps and restores training.
    let runState (sites: int) (g2: float) (state: RotorState) (s: VmcSettings) (checkpoint: (string * bool) option) : StateResult =
        checkCoupling g2
        let clock = Stopwatch.StartNew()
        let seed = Seeds.Derive(seed s, sprintf "o3 %s L=%d g2=%g" (RotorState.name state) sites g2)
        let device = TorchRuntime.Resolve s.Device
        let psi = AnsatzSpec.build sites (Seeds.Derive(seed, "ansatz")) state s.Ansatz
        let module' = psi :?> torch.nn.Module
        // On the device in float64 before the chains first evaluate ψ (the trainer would move it only later).
        module'.``to``(torch.ScalarType.Float64).``to``(device) |> ignore
        let hamiltonian = RotorChainHamiltonian(sites, g2, LaplacianRoute.Forward, Option.toNullable s.Chunk)
        use start = new torch.Generator(uint64 (Seeds.Derive(seed, "start")))
        let target = BornDensity(psi)
        let proposal = RandomRotationProposal(RotationMove.SingleSite, 1.0)
        let moves = if s.Moves = MoveEvaluation.Local && MetropolisHastings.SupportsLocal(target, proposal) then MoveEvaluation.Local else MoveEvaluation.Full
        use sampler =
            new MetropolisHastings(target, proposal, s.Chains, Seeds.Derive(seed, "sampler"),
                                   0.5, device, RotorChain.Uniform(int64 s.Chains, sites, start, device), moves)
        sampler.Thermalize(max 200 (20 * sites), true)
        let objective = VariationalEnergy(psi, hamiltonian, sampler, s.SamplesPerChain, sites)
        let transform : IGradientTransform =
            match s.Optimizer with
            | Sr -> upcast StochasticReconfiguration(objective, s.DiagonalShift)
            | Adam -> upcast IdentityGradient.Instance
        // A constant step: imaginary-time evolution needs no annealing, and a schedule tied to --steps would make a
        // resumed run differ from an uninterrupted one.
        let schedule = LearningRateSchedule.Constant s.LearningRate
        let kind = match s.Optimizer with Sr -> OptimizerKind.Sgd | Adam -> OptimizerKind.Adam
        let options = TrainerOptions(Schedule = schedule, Optimizer = kind, DType = torch.ScalarType.Float64, GradientClipNorm = 0.0)
        use trainer = new Trainer(module', objective, options, Seeds.Derive(seed, "trainer"), device, transform)
        let header = checkpointHeader sites g2 state s
        let plan =
            { Name = RotorState.name state; Label = sprintf "vmc %s L=%d" (RotorState.name state) sites; Steps = s.Steps
              Checkpoint = checkpoint |> Option.map (fun (file, _) -> file, header)
              Resume = (match checkpoint with Some(_, resume) -> resume | None -> false); Saves = 10 }
        let curve = ResizeArray()
        let get (r: TrainingRecord) name = r.Diagnostics |> Seq.find (fun kv -> kv.Key = name) |> fun kv -> kv.Value
        let outcome =
            TrainingDriver.run plan trainer
                (fun r -> sprintf "E %.6f ± %.6f  var %.2e  acc %.2f  R̂ %.3f" r.Loss r.LossError (get r "variance") (get r "acceptance") (get r "r_hat"))
                (fun r -> curve.Add((r.Loss, r.LossError, get r "variance")))
                ignore
        let stepSeconds = outcome.Seconds / float (max 1 outcome.StepsRun)
        let trainSeconds = clock.Elapsed.TotalSeconds
        // The measurement: parameters frozen, the chains go on; one sweep between configurations.
        let measured = Stopwatch.StartNew()
        let perChain = Array.init s.Chains (fun _ -> ResizeArray<float>())
        let mutable acceptance = 0.0
        let batches = max 1 (s.Measurements / 10)
        let mprogress = ProgressReporter(sprintf "measure %s L=%d" (RotorState.name state) sites, s.Measurements, "samples")
        let mutable taken = 0
        while taken < s.Measurements do
            let n = min batches (s.Measurements - taken)
            let struct (x, accepted) = objective.Draw n
            use x = x
            use local = hamiltonian.LocalValues(psi, x)
            let values = (use host = local.cpu() in host.data<float>().ToArray())
            for k in 0 .. n - 1 do
                for c in 0 .. s.Chains - 1 do perChain.[c].Add values.[k * s.Chains + c]
            acceptance <- acceptance + accepted * float n / float s.Measurements
            taken <- taken + n
            mprogress.Report(taken, sprintf "E %.6f" (values |> Array.average))
        let replicas = perChain |> Array.map Seq.toArray
        let all = Array.concat replicas
        if all |> Array.exists (fun v -> not (Double.IsFinite v)) then
            raise (Hybrid.Diagnostics.RunStoppedException(sprintf "the local energy of the %s state at L = %d, g² = %g is not finite in the measurement: the wavefunction blew up (try a smaller --lr)" (RotorState.name state) sites g2))
        let energy = GammaMethod.analyze replicas
        let mean = Array.average all
        let variance = (all |> Array.sumBy (fun v -> (v - mean) ** 2.0)) / float (all.Length - 1)
        let tail, maxDev = tails all mean variance
        let warnings = healthWarnings acceptance energy s.Measurements
        for w in warnings do
            printfn "WARNING (%s state, L = %d, g² = %g): %s" (RotorState.name state) sites g2 w
        { State = state; Sites = sites; G2 = g2; Energy = energy; Variance = variance; TailFraction = tail; MaxDeviation = maxDev
          Acceptance = acceptance; Parameters = VariationalState.ParameterCount psi
          Curve = curve.ToArray(); FirstStep = s.Steps - outcome.StepsRun + 1; TrainSeconds = trainSeconds; StepSeconds = stepSeconds; MeasureSeconds = measured.Elapsed.TotalSeconds
          PeakMemory = Process.GetCurrentProcess().PeakWorkingSet64; Warnings = warnings }

    /// One state's numbers as JSON.
    let stateJson (r: StateResult) =
        Json.object
            [ "energy", Study.estimateJson r.Energy; "variance", Json.number r.Variance; "tail_fraction_5sigma", Json.number r.TailFraction
              "max_deviation_sigma", Json.number r.MaxDeviation; "acceptance", Json.number r.Acceptance
              "parameters", Json.integer r.Parameters; "train_seconds", Json.number r.TrainSeconds
              "measure_seconds", Json.number r.MeasureSeconds; "seconds_per_step", Json.number r.StepSeconds
              "peak_memory_bytes", Json.integer r.PeakMemory; "warnings", Json.array (r.Warnings |> List.map Json.text) ]

    /// training-<state>.csv: energy, error and variance per step.
    let writeCurve (dir: RunDirectory) (r: StateResult) =
        let steps = Array.init r.Curve.Length (fun i -> float (r.FirstStep + i))
        Measurements.write (dir.File(sprintf "training-%s.csv" (RotorState.name r.State)))
            (Measurements.ofColumns
                [ "step", [| steps |]; "energy", [| r.Curve |> Array.map (fun (e, _, _) -> e) |]
                  "error", [| r.Curve |> Array.map (fun (_, e, _) -> e) |]; "variance", [| r.Curve |> Array.map (fun (_, _, v) -> v) |] ])

    /// How the replicas of a VMC experiment that trains its own states (o3-vmc, o3-gap) combine.
    let independentReplicas =
        CommonOptions.notMerged "each replica trains its own networks, so their energies are separate variational results (upper bounds for a ground state) to compare, not samples of one state"

    /// How the replicas of a VMC study that keeps its states in --points (o3-running, o3-light, o3-stepscaling) combine.
    let sharedPointsReplicas =
        CommonOptions.notMerged "replicas fill one shared --points directory (e.g. one size each; a state is stamped with --seed, not K, so any replica reuses it) and a last run on that directory collects them without measuring again; a run without --replica measures exactly the states the whole study would"

    /// The options shared by the VMC experiments; `replicas` says how the experiment's replicas combine.
    let options (steps: string) (replicas: string) =
        [ CommandLine.option "ansatz" TextOption "window" "wavefunction: jastrow | mlp | window (star and the Gram matrix of a window of sites) | mp (message passing along the chain)"
          CommandLine.option "hidden" TextOption "16,16" "hidden widths of the network, comma-separated (mlp, window, mp: an embedding, then one round of messages per further layer)"
          CommandLine.optional "window" IntOption "window width in sites, 2..L (default min(L, 6) on each chain)"
          CommandLine.option "range" IntOption "1" "message range R of mp, 1..8: each round reads the sites i − R … i + R"
          CommandLine.option "optimizer" TextOption "sr" "sr (stochastic reconfiguration, minSR when parameters outnumber samples) | adam (the first-order baseline; give a smaller --lr, e.g. 0.01)"
          CommandLine.option "steps" IntOption steps "optimisation steps"
          CommandLine.option "lr" FloatOption "0.1" "imaginary-time step η of stochastic reconfiguration (Adam: its learning rate)"
          CommandLine.option "diag-shift" FloatOption "0.001" "diagonal shift λ of the SR matrix"
          CommandLine.option "chains" IntOption "128" "independent Metropolis chains"
          CommandLine.option "samples-per-chain" IntOption "4" "configurations per chain per training step (one sweep apart)"
          CommandLine.option "measure" IntOption "400" "configurations per chain in the final measurement"
          CommandLine.option "chunk" TextOption "auto" "configurations per local-energy evaluation (bounds memory): a number ≥ 1, or auto (512/L within 16..64, fastest measured on a laptop CPU)"
          CommandLine.option "moves" TextOption "local" "how the chains evaluate a single-site move: local (from cached site terms; mp falls back to full) | full (ln ψ re-evaluated)"
          yield! CommonOptions.optionsWith replicas "where the network, the chains and the local energies live" ]

    /// --L (≥ 2).
    let sites (o: ParsedOptions) = CommandLine.intIn o "L" 2L 4096L |> CommandLine.required "L" |> int

    /// --g2 in `couplingRange`.
    let coupling (o: ParsedOptions) =
        let g2 = CommandLine.positive o "g2"
        let lo, hi = couplingRange
        if g2 < lo || g2 > hi then raise (UsageError(sprintf "--g2 %g is not allowed; it must be in %g..%g (the range where exact diagonalisation and VMC of the rotor chain work)" g2 lo hi))
        g2

    let private widths (o: ParsedOptions) = CommandLine.intList o "hidden" 1 4096 "width" "16,16" |> Option.defaultValue []

    /// The ansatz from --ansatz, --hidden and --window (an explicit window must fit the smallest chain it is used on: `minSites`).
    let ansatz (o: ParsedOptions) (minSites: int) : AnsatzSpec =
        match (CommandLine.text o "ansatz" |> Option.defaultValue "window").ToLowerInvariant() with
        | "jastrow" -> Jastrow
        | "mlp" -> Mlp(widths o)
        | "window" ->
            // Without --window each chain gets min(L, 6): the whole chain's Gram matrix on small chains.
            let w = CommandLine.intIn o "window" 2L 64L |> Option.map int |> Option.defaultValue 0
            if w > minSites then raise (UsageError(sprintf "--window %d is not allowed: it must lie in 2..L = %d" w minSites))
            Window(w, widths o)
        | "mp" ->
            let r = CommandLine.intIn o "range" 1L 8L |> Option.map int |> Option.defaultValue 1
            let h = widths o
            if h.Length < 2 then raise (UsageError(sprintf "--hidden %s is not allowed for mp: it needs at least two widths (an embedding, then rounds of messages)" (h |> List.map string |> String.concat ",")))
            Messages(r, h)
        | other -> raise (UsageError(sprintf "--ansatz %s is not known; allowed: %s" other (String.concat ", " AnsatzSpec.names)))

    /// The settings from the command line.
    let settings (o: ParsedOptions) (minSites: int) : VmcSettings =
        { Ansatz = ansatz o minSites
          Optimizer =
            match (CommandLine.text o "optimizer" |> Option.defaultValue "sr").ToLowerInvariant() with
            | "sr" -> Sr
            | "adam" -> Adam
            | other -> raise (UsageError(sprintf "--optimizer %s is not known; allowed: sr, adam" other))
          Steps = CommandLine.intIn o "steps" 0L 10_000_000L |> CommandLine.required "steps" |> int
          LearningRate = CommandLine.positive o "lr"
          DiagonalShift = CommandLine.positive o "diag-shift"
          Chains = CommandLine.intIn o "chains" 2L 1_000_000L |> CommandLine.required "chains" |> int
          SamplesPerChain = CommandLine.intIn o "samples-per-chain" 1L 100_000L |> CommandLine.required "samples-per-chain" |> int
          Measurements = CommandLine.intIn o "measure" 4L 100_000_000L |> CommandLine.required "measure" |> int
          Chunk =
            match CommandLine.text o "chunk" |> Option.map (fun t -> t.Trim().ToLowerInvariant()) with
            | None | Some "auto" -> None
            | Some _ -> CommandLine.intIn o "chunk" 1L 1_000_000L |> Option.map int
          Seed = CommonOptions.rootSeed o
          Replica = CommonOptions.replica o
          Device = CommonOptions.device o
          Moves =
            match (CommandLine.text o "moves" |> Option.defaultValue "local").ToLowerInvariant() with
            | "local" -> MoveEvaluation.Local
            | "full" -> MoveEvaluation.Full
            | other -> raise (UsageError(sprintf "--moves %s is not known; allowed: local, full" other)) }

    /// The settings as JSON: what a measured state depends on (the stamp of a points file). The device is not part of
    /// it: a state measured on a GPU and one measured on the CPU are the same measurement; nor is the replica: the
    /// seed is the root seed, so that the replicas of a study fill and reuse one points directory.
    let describeSettings (s: VmcSettings) =
        [ "ansatz", AnsatzSpec.describe s.Ansatz; "optimizer", Json.text (match s.Optimizer with Sr -> "sr" | Adam -> "adam"); "steps", Json.integer (int64 s.Steps); "lr", Json.number s.LearningRate
          "diag_shift", Json.number s.DiagonalShift; "chains", Json.integer (int64 s.Chains); "samples_per_chain", Json.integer (int64 s.SamplesPerChain)
          "measure", Json.integer (int64 s.Measurements); "seed", Json.integer s.Seed ]

    /// The settings, the seeds (the one in use, the root, the replica) and the device, for config.json.
    let describeRun (s: VmcSettings) =
        (describeSettings s |> List.filter (fun (key, _) -> key <> "seed"))
        @ CommonOptions.describeSeeds s.Seed s.Replica @ [ CommonOptions.describeDevice s.Device ]
        @ [ "chunk", (match s.Chunk with Some c -> Json.integer (int64 c) | None -> Json.text "auto") ]
        // The route the chains take: message passing has no local moves and runs the full route whatever was asked.
        @ [ "moves", Json.text (match s.Moves, s.Ansatz with
                                | MoveEvaluation.Local, AnsatzSpec.Messages _ -> "full"
                                | MoveEvaluation.Full, _ -> "full"
                                | _ -> "local") ]
