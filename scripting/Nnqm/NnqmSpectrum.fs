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
open Hybrid.Scripting.Pipeline

/// Which process the spectrum is read from.
type SpectrumProcess =
    /// Ornstein–Uhlenbeck: one state, gap ω, weight 1/(2ω).
    | Ou
    /// z = erf(a u), u the standardised OU process (deep NN-QM with a fixed network): gaps ω, 3ω, 5ω, … (Mehler).
    | ErfOu of a: float
    /// Deep NN-QM over an ensemble: y = φ_θ(u) with a fresh random erf network θ (σ_b = 0) for every path, so the
    /// correlator is the ensemble-and-path average σ_W² E_w[erf(wu_t) erf(wu_0)] at any width: gaps ω, 3ω, … (φ is odd).
    | DeepOu of width: int * sigmaW: float
    /// The anharmonic oscillator p²/2 + x²/2 + g x⁴ as the reversible diffusion of its ground state: gaps E₁ − E₀,
    /// E₃ − E₀, … with weights |⟨0|x|n⟩|², from exact diagonalisation.
    | Anharmonic of g: float

/// Configuration of a spectrum measurement.
type NnqmSpectrumConfig =
    { Process: SpectrumProcess
      Omega: float
      Paths: int
      Dt: float
      /// Path length in time.
      Length: float
      /// Langevin steps per Δt (anharmonic diffusion): h = Δt/substeps.
      Substeps: int
      /// Lags fitted: from Dt to this time.
      FitUntil: float
      /// States in the fit, or with SelectStates the most tried.
      States: int
      /// Choose the states (1 … States) and the first lag of the fit by AIC with cut points counted.
      SelectStates: bool
      /// The seed in use: --seed, or a replica's seed derived from it.
      Seed: int64
      RootSeed: int64
      Replica: Replica option
      /// Where the paths are sampled and the networks evaluated.
      Device: ComputeDevice }

/// The fitted spectrum and the exact one.
type NnqmSpectrumResult =
    { Config: NnqmSpectrumConfig
      Times: float[]
      Correlator: FitData
      Fit: SpectralFit
      ExactGaps: float[]
      ExactWeights: float[]
      /// −[G′(0⁺) − G′(0⁻)] from the paths' increments, = 2 Σₙ ΔEₙ |⟨0|x|n⟩|²: 1 for a canonical position
      /// ([x, p] = i, the Thomas–Reiche–Kuhn sum rule), with its exact value.
      Kink: Estimate
      ExactKink: float
      /// Δx Δp over the fitted states, Δx² = Σₙ Aₙ and Δp² = Σₙ ΔEₙ² Aₙ, and its exact value where known.
      Uncertainty: Estimate
      ExactUncertainty: float option
      /// Prior-free cross-check: GEVP of the 3 × 3 correlator matrix of y, y³, y⁵ (odd: they reach the states that y
      /// reaches), t₀ = Δt; the two lowest are reported.
      Gevp: GevpResult
      ExactGevpGaps: float[]
      /// The connected four-point function at times 0, τ, 2τ, 3τ (τ = FourPointLag·Δt), and its exact value where known.
      FourPoint: Estimate
      ExactFourPoint: float option
      FourPointLag: int
      /// Fraction of Langevin steps accepted (anharmonic diffusion only).
      Acceptance: float option
      Seconds: float }

/// `nnqm-spectrum`: sample a Euclidean process, measure its two-point function, and read the quantum spectrum off it
/// with a Källén–Lehmann fit, beside the exact gaps and weights.
module NnqmSpectrum =

    let options =
        [ CommandLine.option "process" TextOption "erf-ou" "ou | erf-ou | deep-ou | anharmonic"
          CommandLine.option "omega" FloatOption "1" "ω > 0 of the OU input"
          CommandLine.option "a" FloatOption "1" "erf-ou: z = erf(a u)"
          CommandLine.option "width" IntOption "16" "deep-ou: hidden width of each path's random erf network"
          CommandLine.option "sigma-w" FloatOption "1" "deep-ou: σ_W > 0 of the networks (σ_b = 0)"
          CommandLine.option "g" FloatOption "1" "anharmonic: coupling g ≥ 0 of g x⁴"
          CommandLine.option "substeps" IntOption "40" "anharmonic: Langevin steps per Δt (the dynamics err by O(Δt/substeps))"
          yield! NnqmOptions.pathOptions "4000" "independent stationary paths, ≥ 4 (the jackknife needs them)"
          CommandLine.optional "select-states" FlagOption "choose the states (1 … --states, then the most tried) and the fit's first lag (first third) by AIC with cut points counted"
          yield! CommonOptions.optionsWith CommonOptions.merged
                     "where the paths are sampled and the networks evaluated (the anharmonic diffusion's potential, a Hermite series, is evaluated on the CPU)" ]

    /// Validates the command line into a configuration.
    let configure (o: ParsedOptions) : NnqmSpectrumConfig =
        let omega = CommandLine.positive o "omega"
        let dt, length, until, states = NnqmOptions.configurePaths o
        let proc =
            match (CommandLine.text o "process" |> Option.defaultValue "erf-ou").ToLowerInvariant() with
            | "ou" -> Ou
            | "erf-ou" -> ErfOu(CommandLine.positive o "a")
            | "deep-ou" -> DeepOu(CommandLine.intIn o "width" 1L 4096L |> CommandLine.required "width" |> int, CommandLine.positive o "sigma-w")
            | "anharmonic" -> Anharmonic(NnqmOptions.coupling o)
            | other -> raise (UsageError(sprintf "--process %s is not known; allowed: ou, erf-ou, deep-ou, anharmonic" other))
        { Process = proc; Omega = omega; Dt = dt; Length = length; FitUntil = until; States = states
          SelectStates = CommandLine.has o "select-states"
          Substeps = CommandLine.intIn o "substeps" 1L 10_000L |> CommandLine.required "substeps" |> int
          Paths = CommandLine.intIn o "paths" 4L 100_000_000L |> CommandLine.required "paths" |> int
          Seed = CommonOptions.seed o; RootSeed = CommonOptions.rootSeed o; Replica = CommonOptions.replica o; Device = CommonOptions.device o }

    let private processName p = match p with Ou -> "ou" | ErfOu _ -> "erf-ou" | DeepOu _ -> "deep-ou" | Anharmonic _ -> "anharmonic"

    /// The configuration as written to config.json.
    let describe (c: NnqmSpectrumConfig) =
        Json.object
            ([ "process", Json.text (processName c.Process)
               "a", (match c.Process with ErfOu a -> Json.number a | _ -> null)
               "g", (match c.Process with Anharmonic g -> Json.number g | _ -> null)
               "width", (match c.Process with DeepOu(width, _) -> Json.integer width | _ -> null)
               "sigma_w", (match c.Process with DeepOu(_, sigmaW) -> Json.number sigmaW | _ -> null)
               "substeps", (match c.Process with Anharmonic _ -> Json.integer c.Substeps | _ -> null)
               "omega", Json.number c.Omega; "paths", Json.integer c.Paths; "dt", Json.number c.Dt; "T", Json.number c.Length
               "fit_until", Json.number c.FitUntil; "states", Json.integer c.States
               "select_states", System.Text.Json.Nodes.JsonValue.Create c.SelectStates; CommonOptions.describeDevice c.Device ]
            @ CommonOptions.describeSeeds c.RootSeed c.Replica)

    /// The exact gaps and weights (lowest first), as many as the fit has states (OU has only one); `oscillator` is
    /// the diagonalised oscillator of an anharmonic run.
    let exact (c: NnqmSpectrumConfig) (oscillator: AnharmonicOscillator option) =
        match c.Process with
        | Ou -> [| c.Omega |], [| 1.0 / (2.0 * c.Omega) |]
        | ErfOu a -> Mehler.oddGaps c.Omega c.States, Mehler.erfWeights a c.States
        | DeepOu(_, sigmaW) ->
            let weights = Mehler.ensembleWeights (Hybrid.Numerics.GaussHermite.Probabilists 160) sigmaW (2 * c.States)
            Mehler.oddGaps c.Omega c.States, Array.init c.States (fun m -> weights.[2 * m + 1])
        | Anharmonic _ -> let aho = oscillator.Value in SpectralSums.oddSpectrum aho.Energies aho.PositionElements c.States

    /// The exact kink −[G′(0⁺) − G′(0⁻)] and Δx Δp (where known), summed over all states, not only the fitted ones.
    let exactKinkAndUncertainty (c: NnqmSpectrumConfig) (oscillator: AnharmonicOscillator option) =
        match c.Process with
        | Ou -> 1.0, Some 0.5
        | ErfOu a -> Mehler.erfKink a c.Omega, None
        | DeepOu(_, sigmaW) -> Mehler.ensembleKink (Hybrid.Numerics.GaussHermite.Probabilists 160) sigmaW c.Omega, None
        | Anharmonic _ ->
            let aho = oscillator.Value
            let kink, uncertainty = SpectralSums.kinkAndUncertainty aho.Energies aho.PositionElements
            kink, Some uncertainty

    /// Samples the paths of the configuration's process: [paths × steps] row-major, and the Langevin acceptance of
    /// the anharmonic diffusion.
    let sample (c: NnqmSpectrumConfig) : float[] * float option =
        let steps = int (c.Length / c.Dt) + 1
        let device = TorchRuntime.Resolve c.Device
        // The observable's paths [paths, steps]: y itself, erf(a u) of the standardised u = y √(2ω), or the
        // ground-state diffusion of the anharmonic oscillator.
        let observed, acceptance =
            match c.Process with
            | DeepOu(width, sigmaW) ->
                use generator = new TorchSharp.torch.Generator(uint64 (Seeds.Derive(c.Seed, "paths")), device)
                use u = OrnsteinUhlenbeck.SampleStandardised([| c.Omega |], int64 c.Paths, steps, c.Dt, generator, device)
                let network = Hybrid.Nnft.SingleLayerNetwork(Hybrid.Nnft.NetworkActivation.Erf, 1, width, sigmaW, 0.0)
                use z = TorchSharp.torch.randn([| int64 c.Paths; int64 network.ParameterCount |], dtype = TorchSharp.torch.ScalarType.Float64, device = device, generator = generator)
                network.EvaluateEachStandardised(z, u), None
            | Ou | ErfOu _ ->
                use generator = new TorchSharp.torch.Generator(uint64 (Seeds.Derive(c.Seed, "paths")), device)
                use paths = OrnsteinUhlenbeck(c.Omega).Sample(int64 c.Paths, steps, c.Dt, generator, device)
                (match c.Process with
                 | ErfOu a -> paths.mul(TorchSharp.Scalar.op_Implicit (a * sqrt (2.0 * c.Omega))).erf()
                 | _ -> paths.alias()), None
            | Anharmonic g ->
                let gaps, _ = exact c (Some(AnharmonicOscillator.Solve(g, SpectralSums.levels c.States)))
                let potential = GroundStatePotential(AnharmonicOscillator.Solve(g, 2))
                use diffusion = new ReversibleDiffusion(potential, c.Dt / float c.Substeps, c.Paths, Seeds.Derive(c.Seed, "paths"), device)
                // Equilibrium from a narrow start: ten relaxation times of the slowest mode (the lowest gap).
                diffusion.Equilibrate(10.0 / gaps.[0])
                let progress = ProgressReporter("diffusion", steps, "points")
                let recorded = diffusion.Record(steps, c.Substeps, Action<int>(fun k -> progress.Report(k, sprintf "acceptance %.4f" diffusion.Acceptance)))
                recorded.squeeze(2), Some diffusion.Acceptance
        (use o = observed in use host = o.cpu() in host.data<float>().ToArray()), acceptance

    /// Measures and fits sampled paths ([paths × steps] row-major, c.Paths of them): of one run, or of merged replicas.
    let analyse (c: NnqmSpectrumConfig) (values: float[]) (acceptance: float option) (seconds: float) : NnqmSpectrumResult =
        let steps = int (c.Length / c.Dt) + 1
        if values.Length <> c.Paths * steps then
            invalidArg "values" (sprintf "%d values are not %d paths of %d steps" values.Length c.Paths steps)
        let lags = int (c.FitUntil / c.Dt)
        let oscillator = match c.Process with Anharmonic g -> Some(AnharmonicOscillator.Solve(g, SpectralSums.levels c.States)) | _ -> None
        let gaps, weights = exact c oscillator
        let times, data, fit = PathCorrelators.fitSpectrum values c.Paths steps c.Dt lags c.States c.SelectStates
        let kink = PathCorrelators.kink values c.Paths steps c.Dt
        let gevp = Spectral.gevp c.Dt 1 (PathCorrelators.operatorMatrices values c.Paths steps (lags + 1))
        let exactGevp =
            match c.Process with
            | Ou | ErfOu _ -> [| c.Omega; 3.0 * c.Omega |]
            // A mixture of systems (one per network): the level ω carries a full-rank 3 × 3 matrix E_θ[v vᵀ] of
            // overlaps, so every principal correlator falls as e^{−ωt}: the GEVP sees ω twice, not 3ω.
            | DeepOu _ -> [| c.Omega; c.Omega |]
            | Anharmonic _ -> let e = oscillator.Value.Energies in [| e.[1] - e.[0]; e.[3] - e.[0] |]
        let uncertainty = PathCorrelators.uncertaintyProduct fit
        let fourLag = max 1 (int (Math.Round(0.3 / c.Dt)))
        let fourPoint = PathCorrelators.connectedFourPoint values c.Paths steps fourLag (int (Seeds.Derive(c.Seed, "four-point") % 1_000_000_007L))
        let exactFourPoint =
            let tau = float fourLag * c.Dt
            match c.Process with
            | Ou -> Some 0.0   // Gaussian: Wick's theorem leaves nothing connected
            | Anharmonic _ -> Some(SpectralSums.connectedFourPoint (fun s -> oscillator.Value.EuclideanCorrelator s) tau)
            | ErfOu _ | DeepOu _ -> None
        let exactKink, exactUncertainty = exactKinkAndUncertainty c oscillator
        { Config = c; Times = times; Correlator = data; Fit = fit; ExactGaps = gaps; ExactWeights = weights
          Gevp = gevp; ExactGevpGaps = exactGevp
          Kink = kink; ExactKink = exactKink; Uncertainty = uncertainty; ExactUncertainty = exactUncertainty
          FourPoint = fourPoint; ExactFourPoint = exactFourPoint; FourPointLag = fourLag
          Acceptance = acceptance; Seconds = seconds }

    /// The paths as measurements: one replica per path (each an independent draw), indexed by its time step, in the
    /// column y. What `merge` joins: the paths of several replicas are one set of independent paths.
    let toMeasurements (c: NnqmSpectrumConfig) (values: float[]) =
        let steps = int (c.Length / c.Dt) + 1
        Measurements.ofColumns [ "y", Array.init c.Paths (fun p -> values.[p * steps .. (p + 1) * steps - 1]) ]

    /// The paths of measurements written by `toMeasurements` ([paths × steps] row-major) and their number.
    let ofMeasurements (m: Measurements) : float[] * int =
        let paths = m.["y"]
        Array.concat paths, paths.Length

    /// Samples, writes the paths to measurements.csv (before the fit, so that they survive a failed one), measures
    /// and fits.
    let run (c: NnqmSpectrumConfig) (dir: RunDirectory) : NnqmSpectrumResult =
        let clock = Diagnostics.Stopwatch.StartNew()
        let values, acceptance = sample c
        Measurements.write (dir.File "measurements.csv") (toMeasurements c values)
        analyse c values acceptance clock.Elapsed.TotalSeconds

    /// The Markdown report.
    let report (r: NnqmSpectrumResult) =
        let c = r.Config
        let rows =
            Frame.ofRows
                [ for n in 0 .. r.Fit.States - 1 ->
                      sprintf "state %d" (n + 1),
                      series
                          [ "gap (fit)", box (Estimate.format r.Fit.Energies.[n])
                            "gap (exact)", box (if n < r.ExactGaps.Length then sprintf "%.6g" r.ExactGaps.[n] else "— (none)")
                            "weight (fit)", box (Estimate.format r.Fit.Amplitudes.[n])
                            "weight (exact)", box (if n < r.ExactWeights.Length then sprintf "%.6g" r.ExactWeights.[n] else "0") ] ]
        String.concat "\n"
            [ yield
                match c.Process with
                | Ou -> sprintf "## Spectrum of Ornstein–Uhlenbeck: ω = %g\n" c.Omega
                | ErfOu a -> sprintf "## Spectrum of erf(%g u), u standardised OU: ω = %g\n" a c.Omega
                | DeepOu(width, sigmaW) -> sprintf "## Spectrum of deep NN-QM over an ensemble: a random erf network (width %d, σ_W = %g, σ_b = 0) per path of a standardised OU, ω = %g\n" width sigmaW c.Omega
                | Anharmonic g -> sprintf "## Spectrum of the anharmonic oscillator p²/2 + x²/2 + %g x⁴ (ground-state diffusion, h = Δt/%d)\n" g c.Substeps
              yield sprintf "%d paths of length %g (Δt = %g), correlator at lags %g … %g from each path (errors: the spread over paths, correlated); %d-state Källén–Lehmann fit%s: χ²/dof = %.2f, %s; %.1f s.\n"
                        c.Paths c.Length c.Dt r.Times.[0] c.FitUntil r.Fit.States (if c.SelectStates then sprintf " (states and first lag chosen by AIC with cut points counted, among 1 … %d states)" c.States else "") r.Fit.Fit.ChiSquaredPerDof (if r.Fit.Fit.Converged then "converged" else "NOT converged") r.Seconds
              yield Table.toMarkdown rows
              yield ""
              yield sprintf "Kink −[G′(0⁺) − G′(0⁻)] from the increments at Δt, 2Δt, 3Δt extrapolated to 0: %s (exact %.6g; 1 means [x, p] = i). Δx Δp over the fitted states: %s%s."
                        (Estimate.format r.Kink) r.ExactKink (Estimate.format r.Uncertainty)
                        (match r.ExactUncertainty with Some u -> sprintf " (exact %.6g)" u | None -> " (Δp is infinite: no canonical momentum)")
              yield ""
              yield sprintf "GEVP of (y, y³, y⁵), t₀ = Δt, no priors: lowest gap %s (exact %.6g, plateau over lags %d…%d), next %s (exact %.6g, lags %d…%d; exact only when the three operators span the states y reaches, as for OU: otherwise biased upwards by states above the third, by up to e^{−(E₄ − E₂)t₀})."
                        (Estimate.format r.Gevp.Energies.[0]) r.ExactGevpGaps.[0] (fst r.Gevp.Windows.[0]) (snd r.Gevp.Windows.[0] + 1)
                        (Estimate.format r.Gevp.Energies.[1]) r.ExactGevpGaps.[1] (fst r.Gevp.Windows.[1]) (snd r.Gevp.Windows.[1] + 1)
              yield ""
              yield sprintf "Connected four-point function G₄c(0, τ, 2τ, 3τ), τ = %g: %s%s."
                        (float r.FourPointLag * c.Dt) (Estimate.format r.FourPoint)
                        (match r.ExactFourPoint with Some v -> sprintf " (exact %.6g)" v | None -> " (no closed form here)")
              match r.Acceptance with Some a -> yield sprintf "Langevin acceptance %.4f." a | None -> ()
              match r.Fit.Warning with Some w -> yield "**" + w + "**" | None -> () ]

    /// Writes the analysis of the paths (summary, correlator.csv, report, plot); run writes the paths themselves.
    let write (dir: RunDirectory) (r: NnqmSpectrumResult) =
        let list (es: Estimate[]) = Json.array [ for e in es -> Study.estimateJson e ]
        Json.write (dir.File "summary.json")
            (Json.object
                [ "experiment", Json.text "nnqm-spectrum"
                  "parameters", describe r.Config
                  "fit", Json.object [ "gaps", list r.Fit.Energies; "weights", list r.Fit.Amplitudes; "chi2_per_dof", Json.number r.Fit.Fit.ChiSquaredPerDof; "converged", System.Text.Json.Nodes.JsonValue.Create r.Fit.Fit.Converged ]
                  "exact", Json.object [ "gaps", Json.numbers r.ExactGaps; "weights", Json.numbers r.ExactWeights; "kink", Json.number r.ExactKink
                                         "uncertainty_product", (match r.ExactUncertainty with Some u -> Json.number u | None -> null)
                                         "four_point_connected", (match r.ExactFourPoint with Some v -> Json.number v | None -> null) ]
                  "observables", Study.estimatesJson [ "kink", r.Kink; "uncertainty_product", r.Uncertainty; "four_point_connected", r.FourPoint ]
                  "four_point_tau", Json.number (float r.FourPointLag * r.Config.Dt)
                  "gevp", Json.object [ "gaps", list r.Gevp.Energies.[0..1]; "exact_gaps", Json.numbers r.ExactGevpGaps
                                        "windows", Json.array [ for (a, b) in r.Gevp.Windows -> Json.array [ Json.integer (int64 a); Json.integer (int64 (b + 1)) ] ] ]
                  "acceptance", (match r.Acceptance with Some a -> Json.number a | None -> null)
                  "warning", (match r.Fit.Warning with Some w -> Json.text w | None -> null)
                  "runtime", Json.text TorchRuntime.Description ])
        AtomicFile.write (dir.File "correlator.csv") (fun w ->
            w.WriteLine "t,correlator,error"
            for i in 0 .. r.Times.Length - 1 do
                w.WriteLine(FormattableString.Invariant $"{r.Times.[i]:R},{r.Correlator.Values.[i]:R},{sqrt r.Correlator.Covariance.[i, i]:R}"))
        AtomicFile.writeText (dir.File "summary.md") (report r)
        let estimates = [ for i in 0 .. r.Times.Length - 1 -> Estimate.independent r.Correlator.Values.[i] (sqrt r.Correlator.Covariance.[i, i]) r.Config.Paths ]
        Study.writePlot dir "correlator.html" "Euclidean two-point function" (sprintf "ω = %g, Δt = %g (index = lag/Δt − 1)" r.Config.Omega r.Config.Dt) (Plots.correlator (Array.ofList estimates))
    /// The experiment as the command line knows it.
    let experiment : Experiment<NnqmSpectrumConfig, NnqmSpectrumResult> =
        { Name = "nnqm-spectrum"
          Description = "sample OU, erf(a·OU) or the anharmonic oscillator's ground-state diffusion, measure the two-point function, fit its Källén–Lehmann spectrum against the exact gaps and weights"
          Options = options
          Configure = configure
          Describe = describe
          Run = fun c dir -> let r = run c dir in write dir r; r
          Report = report }
