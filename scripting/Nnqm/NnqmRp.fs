namespace Hybrid.Scripting.Nnqm

open System
open Deedle
open Hybrid.Analysis.Statistics
open Hybrid.Analysis.Nnqm
open Hybrid.Analysis.Reporting
open Hybrid.Nnft
open Hybrid.Nnqm
open Hybrid.Runtime
open Hybrid.Sampling
open Hybrid.Scripting.Pipeline
open TorchSharp

/// A process whose reflection positivity is tested.
type RpProcess =
    /// Ornstein–Uhlenbeck (the Euclidean harmonic oscillator).
    | RpOu
    /// erf(a u) of the standardised OU u: deep NN-QM with a fixed network.
    | RpErfOu
    /// φ_θ(u) with u a vector of independent standardised OU inputs and φ_θ one random erf network.
    | RpDeepOu
    /// The Karhunen–Loève-built OU process x(t) = Σ_k √λ_k θ_k f_k(t).
    | RpKl
    /// The anharmonic oscillator's ground-state diffusion.
    | RpAnharmonic
    /// A stationary Gaussian process with kernel e^{−t²/(2ℓ²)}: smooth, hence not reflection positive.
    | RpGaussianKernel

/// Configuration of the reflection-positivity tests.
type NnqmRpConfig =
    { Processes: RpProcess list
      Paths: int
      /// Spacing τ of the test functions' times 0, τ, 2τ, …
      Tau: float
      Points: int
      Omega: float
      A: float
      G: float
      Width: int
      Inputs: int
      Modes: int
      KernelLength: float
      Substeps: int
      /// Standard errors below zero of λ_min that count as a violation.
      Threshold: float
      /// Separation D of the clustering check.
      ClusterDistance: float
      /// The seed in use: --seed, or a replica's seed derived from it.
      Seed: int64
      RootSeed: int64
      Replica: Replica option
      /// Where the processes are sampled and the random network evaluated.
      Device: ComputeDevice }

/// One process's test, with what theory expects of it.
type RpOutcome =
    { Process: RpProcess
      Description: string
      Test: ReflectionPositivityTest
      Expected: ReflectionVerdict
      /// Connected ⟨f(x(0)) f(x(D))⟩ at the cluster distance.
      Clustering: Estimate }

type NnqmRpResult =
    { Config: NnqmRpConfig
      Outcomes: RpOutcome list
      Seconds: float }

/// `nnqm-rp`: the Osterwalder–Schrader reflection-positivity test (Gram matrices of bounded test functions and their
/// time reflections) for the processes of NN-QM side by side: those that are quantum mechanics (OU, deep NN-QM on
/// OU, the KL-built process, the anharmonic diffusion) and one that is not (a Gaussian kernel).
module NnqmRp =

    let private names =
        [ RpOu, "ou"; RpErfOu, "erf-ou"; RpDeepOu, "deep-ou"; RpKl, "kl"; RpAnharmonic, "anharmonic"; RpGaussianKernel, "gaussian-kernel" ]

    let name p = names |> List.find (fst >> (=) p) |> snd

    let options =
        [ CommandLine.option "processes" TextOption "ou,erf-ou,deep-ou,kl,anharmonic,gaussian-kernel" "comma-separated: ou, erf-ou, deep-ou, kl, anharmonic, gaussian-kernel"
          CommandLine.option "paths" IntOption "20000" "independent samples of each process"
          CommandLine.option "tau" FloatOption "0.25" "spacing τ > 0 of the test functions' times 0, τ, 2τ, …"
          CommandLine.option "points" IntOption "3" "test functions (times) per Gram matrix, 2..8"
          CommandLine.option "omega" FloatOption "1" "ω > 0 of the OU processes"
          CommandLine.option "a" FloatOption "1" "erf-ou: erf(a u)"
          CommandLine.option "g" FloatOption "1" "anharmonic: coupling g ≥ 0"
          CommandLine.option "width" IntOption "16" "deep-ou: hidden width of the random network"
          CommandLine.option "inputs" IntOption "3" "deep-ou: independent OU inputs, rates ω, 1.5ω, 2ω, …"
          CommandLine.option "modes" IntOption "64" "kl: Karhunen–Loève modes kept"
          CommandLine.option "length" FloatOption "1" "gaussian-kernel: ℓ of e^{−t²/(2ℓ²)}"
          CommandLine.option "substeps" IntOption "20" "anharmonic: Langevin steps per τ"
          CommandLine.option "threshold" FloatOption "3" "standard errors below zero of λ_min that count as a violation"
          CommandLine.option "cluster-distance" FloatOption "10" "separation D > 0 at which connected correlations must have died out"
          yield! CommonOptions.optionsWith
                     (CommonOptions.notMerged "each replica is an independent test of every process; compare their λ_min/σ (or give one run more --paths)")
                     "where the processes are sampled and the random network evaluated (the anharmonic diffusion's potential, a Hermite series, is evaluated on the CPU)" ]

    /// Validates the command line into a configuration.
    let configure (o: ParsedOptions) : NnqmRpConfig =
        let processes =
            (CommandLine.text o "processes" |> Option.defaultValue "").Split(',', StringSplitOptions.RemoveEmptyEntries ||| StringSplitOptions.TrimEntries)
            |> Array.map (fun s ->
                match names |> List.tryFind (snd >> (=) (s.ToLowerInvariant())) with
                | Some(p, _) -> p
                | None -> raise (UsageError(sprintf "--processes %s is not known; allowed: %s" s (names |> List.map snd |> String.concat ", "))))
            |> Array.distinct |> List.ofArray
        if processes.IsEmpty then raise (UsageError "--processes is empty; name at least one of ou, erf-ou, deep-ou, kl, anharmonic, gaussian-kernel")
        let g = NnqmOptions.coupling o
        { Processes = processes
          Paths = CommandLine.intIn o "paths" 10L 100_000_000L |> CommandLine.required "paths" |> int
          Tau = CommandLine.positive o "tau"
          Points = CommandLine.intIn o "points" 2L 8L |> CommandLine.required "points" |> int
          Omega = CommandLine.positive o "omega"; A = CommandLine.positive o "a"; G = g
          Width = CommandLine.intIn o "width" 1L 4096L |> CommandLine.required "width" |> int
          Inputs = CommandLine.intIn o "inputs" 1L 64L |> CommandLine.required "inputs" |> int
          Modes = CommandLine.intIn o "modes" 1L 512L |> CommandLine.required "modes" |> int
          KernelLength = CommandLine.positive o "length"
          Substeps = CommandLine.intIn o "substeps" 1L 10_000L |> CommandLine.required "substeps" |> int
          Threshold = CommandLine.positive o "threshold"
          ClusterDistance = CommandLine.positive o "cluster-distance"
          Seed = CommonOptions.seed o; RootSeed = CommonOptions.rootSeed o; Replica = CommonOptions.replica o; Device = CommonOptions.device o }

    /// The configuration as written to config.json.
    let describe (c: NnqmRpConfig) =
        Json.object
            ([ "processes", Json.array [ for p in c.Processes -> Json.text (name p) ]
               "paths", Json.integer c.Paths; "tau", Json.number c.Tau; "points", Json.integer c.Points
               "omega", Json.number c.Omega; "a", Json.number c.A; "g", Json.number c.G; "width", Json.integer c.Width
               "inputs", Json.integer c.Inputs; "modes", Json.integer c.Modes; "length", Json.number c.KernelLength
               "substeps", Json.integer c.Substeps; "threshold", Json.number c.Threshold; "cluster_distance", Json.number c.ClusterDistance
               CommonOptions.describeDevice c.Device ]
            @ CommonOptions.describeSeeds c.RootSeed c.Replica)

    let private rows (t: torch.Tensor) =
        let width = int t.shape.[1]
        let v = (use host = t.cpu() in host.data<float>().ToArray())
        Array.init (int t.shape.[0]) (fun s -> v.[s * width .. (s + 1) * width - 1])

    /// Independent windows of a process at times (k − c)τ, k = 0 … 2c, c = points − 1: [paths][2c + 1].
    let windows (c: NnqmRpConfig) (p: RpProcess) : float[][] * string =
        let centre = c.Points - 1
        let steps = 2 * centre + 1
        let times = Array.init steps (fun k -> float (k - centre) * c.Tau)
        let device = TorchRuntime.Resolve c.Device
        use generator = new torch.Generator(uint64 (Seeds.Derive(c.Seed, "rp-" + name p)), device)
        match p with
        | RpOu ->
            (use y = OrnsteinUhlenbeck(c.Omega).Sample(int64 c.Paths, steps, c.Tau, generator, device) in rows y), sprintf "OU, ω = %g" c.Omega
        | RpErfOu ->
            (use u = OrnsteinUhlenbeck.SampleStandardised([| c.Omega |], int64 c.Paths, steps, c.Tau, generator, device) in use z = u.squeeze(2).mul(TorchSharp.Scalar.op_Implicit c.A).erf() in rows z), sprintf "erf(%g u), u standardised OU" c.A
        | RpDeepOu ->
            let rates = Array.init c.Inputs (fun i -> c.Omega * (1.0 + 0.5 * float i))
            use stacked = OrnsteinUhlenbeck.SampleStandardised(rates, int64 c.Paths, steps, c.Tau, generator, device)   // [paths, steps, d]
            let network = SingleLayerNetwork(NetworkActivation.Erf, c.Inputs, c.Width, 1.5, 0.5)
            use z = torch.randn([| 1L; int64 network.ParameterCount |], dtype = torch.ScalarType.Float64, device = device, generator = generator)
            use y = network.EvaluateStandardised(z, stacked.reshape(-1L, int64 c.Inputs))
            (use w = y.reshape(int64 c.Paths, int64 steps) in rows w),
            sprintf "one random erf network (width %d) of %d OU inputs, rates %s" c.Width c.Inputs (rates |> Array.map (sprintf "%g") |> String.concat ", ")
        | RpKl ->
            let half = float centre * c.Tau
            let omega = c.Omega
            let kl = KarhunenLoeve.Compute(Func<float, float, float>(fun t s -> exp (-omega * abs (t - s)) / (2.0 * omega)), half, c.Modes, max 16 ((c.Modes + 3) / 4))
            (use x = kl.Sample(times, int64 c.Paths, generator, device) in rows x), sprintf "Karhunen–Loève OU on [−%g, %g], %d modes" half half c.Modes
        | RpAnharmonic ->
            let aho = AnharmonicOscillator.Solve(c.G, 2)
            use diffusion = new ReversibleDiffusion(GroundStatePotential(aho), c.Tau / float c.Substeps, c.Paths, Seeds.Derive(c.Seed, "rp-anharmonic"), device)
            diffusion.Equilibrate(10.0 / (aho.Energies.[1] - aho.Energies.[0]))
            (use x = diffusion.Record(steps, c.Substeps) in use flat = x.squeeze(2) in rows flat),
            sprintf "anharmonic ground-state diffusion, g = %g (acceptance %.4f)" c.G diffusion.Acceptance
        | RpGaussianKernel ->
            let gp = StationaryGaussianProcess.GaussianKernel(c.KernelLength)
            (use x = gp.Sample(times, int64 c.Paths, generator, device) in rows x), sprintf "Gaussian process, kernel e^(−t²/(2·%g²))" c.KernelLength

    /// Runs every process's test.
    let run (c: NnqmRpConfig) (_: RunDirectory) : NnqmRpResult =
        let clock = Diagnostics.Stopwatch.StartNew()
        let progress = ProgressReporter("reflection positivity", c.Processes.Length, "processes")
        let outcomes =
            c.Processes |> List.mapi (fun i p ->
                let data, description = windows c p
                let test = ReflectionPositivity.test c.Tau c.Points c.Threshold (int (Seeds.Derive(c.Seed, "bootstrap-" + name p) % 1_000_000_007L)) 200 data
                // Clustering: the same sampler on windows of three points spaced D/2 (fresh seeds), x(−D/2) against x(D/2).
                let far, _ = windows { c with Points = 2; Tau = c.ClusterDistance / 2.0; Seed = Seeds.Derive(c.Seed, "clustering") } p
                let clustering = ReflectionPositivity.clustering (int (Seeds.Derive(c.Seed, "bootstrap-clustering-" + name p) % 1_000_000_007L)) 200 (far |> Array.map (fun w -> w.[0], w.[2]))
                progress.Report(i + 1, sprintf "%s: λ_min %s (%.3gσ)" (name p) (Estimate.format test.MinEigenvalue) test.Significance)
                { Process = p; Description = description; Test = test; Clustering = clustering
                  Expected = if p = RpGaussianKernel then Violated else PositiveWithinErrors })
        { Config = c; Outcomes = outcomes; Seconds = clock.Elapsed.TotalSeconds }

    /// The Markdown report.
    let report (r: NnqmRpResult) =
        let c = r.Config
        let table =
            Frame.ofRows
                [ for o in r.Outcomes ->
                      name o.Process,
                      series
                          [ "process", box o.Description
                            "λ_min", box (Estimate.format o.Test.MinEigenvalue)
                            "λ_min/σ", box (sprintf "%.1f" o.Test.Significance)
                            "λ_max", box (sprintf "%.4g" (Array.last o.Test.Eigenvalues))
                            "stationarity (max pull)", box (sprintf "%.1f" o.Test.StationarityPull)
                            "t → −t symmetry (max pull)", box (sprintf "%.1f" o.Test.ReflectionPull)
                            sprintf "connected ⟨ff⟩ at D = %g" c.ClusterDistance, box (Estimate.format o.Clustering)
                            "verdict", box (ReflectionPositivity.describe o.Test.Verdict)
                            "expected", box (ReflectionPositivity.describe o.Expected) ] ]
        String.concat "\n"
            [ "## Reflection positivity (Osterwalder–Schrader)\n"
              sprintf "Gram matrices M_ij = ⟨f(x(t_i)) f(x(−t_j))⟩ with f = tanh(x/σ) at t = 0, τ, …, %dτ (τ = %g), %d independent samples per process; λ_min with a bootstrap error; a violation is λ_min below −%g standard errors. Stationarity and t → −t symmetry: the largest pull of ⟨f(x(t))⟩ − ⟨f(x(0))⟩ and of the same for f² over the window and of ⟨F_iΘF_j⟩ − ⟨F_jΘF_i⟩ over pairs (each about N(0, 1) when the property holds; the largest of several runs to about 2–3). Clustering: the connected ⟨f(x(0)) f(x(D))⟩ at D = %g, 0 within errors when correlations die out. %.1f s.\n"
                  (c.Points - 1) c.Tau c.Paths c.Threshold c.ClusterDistance r.Seconds
              Table.toMarkdown table ]

    /// Writes the run.
    let write (dir: RunDirectory) (r: NnqmRpResult) =
        Json.write (dir.File "summary.json")
            (Json.object
                [ "experiment", Json.text "nnqm-rp"
                  "parameters", describe r.Config
                  "observables",
                  Json.object
                      [ for o in r.Outcomes ->
                            name o.Process,
                            Json.object
                                [ "min_eigenvalue", Study.estimateJson o.Test.MinEigenvalue
                                  "significance", Json.number o.Test.Significance
                                  "stationarity_pull", Json.number o.Test.StationarityPull
                                  "reflection_symmetry_pull", Json.number o.Test.ReflectionPull
                                  "clustering", Study.estimateJson o.Clustering
                                  "eigenvalues", Json.numbers o.Test.Eigenvalues
                                  "verdict", Json.text (match o.Test.Verdict with PositiveWithinErrors -> "positive" | Violated -> "violated")
                                  "expected", Json.text (match o.Expected with PositiveWithinErrors -> "positive" | Violated -> "violated")
                                  "description", Json.text o.Description ] ]
                  "runtime", Json.text TorchRuntime.Description ])
        Measurements.write (dir.File "measurements.csv")
            (Measurements.ofColumns
                [ "process", [| [| for o in r.Outcomes do for _ in o.Test.Eigenvalues -> float (List.findIndex ((=) o.Process) r.Config.Processes) |] |]
                  "eigenvalue_index", [| [| for o in r.Outcomes do for k in 0 .. o.Test.Eigenvalues.Length - 1 -> float k |] |]
                  "eigenvalue", [| [| for o in r.Outcomes do yield! o.Test.Eigenvalues |] |] ])
        AtomicFile.writeText (dir.File "summary.md") (report r)
        // λ_min in units of its own error: a violation is a point below the threshold line, whatever the scale of
        // each process's Gram matrix (a signed quantity, so a linear axis).
        Study.writePlot dir "min-eigenvalue.html" "Smallest Gram eigenvalue per process, in units of its error"
            (sprintf "%d samples per process; reflection positivity is violated below −%gσ" r.Config.Paths r.Config.Threshold)
            (Plots.significance "λ<sub>min</sub> / σ(λ<sub>min</sub>)" [ for o in r.Outcomes -> name o.Process, o.Test.Significance ]
                 [ "0", 0.0; sprintf "violation threshold −%gσ" r.Config.Threshold, -r.Config.Threshold ])

    /// The experiment as the command line knows it.
    let experiment : Experiment<NnqmRpConfig, NnqmRpResult> =
        { Name = "nnqm-rp"
          Description = "reflection positivity (Osterwalder–Schrader Gram matrices) of OU, deep NN-QM, KL, the anharmonic diffusion and a Gaussian kernel side by side"
          Options = options
          Configure = configure
          Describe = describe
          Run = fun c dir -> let r = run c dir in write dir r; r
          Report = report }
