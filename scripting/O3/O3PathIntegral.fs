namespace Hybrid.Scripting.O3

open System
open Deedle
open Hybrid.Analysis.Statistics
open Hybrid.Analysis.Reporting
open Hybrid.Analysis.O3
open Hybrid.O3
open Hybrid.Sampling
open Hybrid.Scripting.Pipeline

/// Configuration of the path-integral reference of the rotor chain.
type O3McConfig =
    { Sites: int
      G2: float
      /// The time steps a_t, coarsest first.
      Spacings: float list
      /// The Euclidean time extent T (the same at every a_t); None: 12/m with m from a short pilot run.
      Extent: float option
      /// A heat-bath sweep after every this many sweeps of clusters (0: none).
      HeatBathEvery: int
      ThermalSweeps: int
      Sweeps: int
      Blocks: int
      Chains: int
      /// The root seed (--seed): what a stored gap of a step-scaling study is stamped with, so that replicas share it.
      Seed: int64
      /// Which replica this run is, if any: it samples with the seed derived from Seed (`O3PathIntegral.seed`).
      Replica: Replica option
      /// The fit starts at this many 1/m.
      FitStart: float
      /// l_max of the exact diagonalisation printed beside the result (0: none).
      EdLMax: int }

/// What one time step gave.
type O3McSpacing =
    { TimeStep: float
      Lattice: RotorPathIntegral
      Gap: TimeCorrelatorGap
      Energy: Estimate
      /// τ_int (in sweeps) of the susceptibility measured without clusters: how fast the chain forgets.
      SusceptibilityTau: Estimate
      ClustersPerSweep: int
      ClusterFraction: float
      /// Second-moment correlation lengths ξ_x (sites) and ξ_τ (time), and c = ξ_x/ξ_τ: the speed of light of the
      /// infinite chain where the box holds at least 8 of each (L ≥ 8ξ_x, T ≥ 8ξ_τ), a finite-volume number otherwise.
      SpatialLength: Estimate
      TemporalLength: Estimate
      SpeedOfLight: Estimate
      /// Mean over chains and blocks of G(τ) with its block error, τ = k·a_t.
      Correlator: (float * float * float)[]
      Seconds: float }
/// The path-integral reference of the rotor chain, shared by `o3-mc` and the step-scaling study on it: its options,
/// configuration, the box from a pilot run, and the sampled correlators and lengths at each time step.
[<RequireQualifiedAccess>]
module O3PathIntegral =

    let private invariant = Globalization.CultureInfo.InvariantCulture

    /// A lower bound of the gap for choosing the time extent: the rotor L·m ≈ g² at weak coupling, the strong-coupling
    /// band g² − 2/(3g²) at strong; the true gap lies above both, so the box is long enough (and at worst 1.5× longer
    /// than it needs to be).
    let gapGuess (sites: int) (g2: float) = max (g2 / float sites) (g2 - 2.0 / (3.0 * g2))

    /// The time extent before the pilot: 12 correlation lengths of the l = 1 state by the lower bound of the gap.
    let guessedExtent (sites: int) (g2: float) = 12.0 / gapGuess sites g2

    /// The l_max of exact diagonalisation shown by default: converged to ~10⁻⁸ at L = 3, ~10⁻⁶ at L = 4; none beyond
    /// (L = 5 at l_max 4 is still 7·10⁻⁴ off, and larger chains do not fit).
    let defaultEdLMax (sites: int) = match sites with 3 -> 6 | 4 -> 5 | _ -> 0

    /// The seed the chains of a configuration sample with: --seed, or a replica's seed derived from it.
    let seed (c: O3McConfig) = CommonOptions.seedOf c.Seed c.Replica

    /// The options of a path-integral measurement; `replicas` says how the experiment's replicas combine. No --device:
    /// the cluster sampler is managed code on the CPU (no tensors).
    let optionsWith (replicas: string) =
        [ CommandLine.option "L" IntOption "4" "chain length L, 3..4096 (periodic)"
          CommandLine.option "g2" FloatOption "1" "coupling g², in (0, 100]"
          CommandLine.option "spacings" TextOption "0.2,0.15,0.1" "time steps a_t, at least three, each in (0, 1] with a_t·g² ≤ 2, comma-separated"
          CommandLine.optional "extent" FloatOption "Euclidean time extent T, in (0, 10⁵] (default 12/m, m from a pilot run at the coarsest a_t)"
          CommandLine.option "sweeps" IntOption "400000" "measured sweeps per chain and time step, a multiple of --blocks"
          CommandLine.option "thermal" IntOption "500" "thermalisation sweeps per chain and time step, ≥ 10"
          CommandLine.option "blocks" IntOption "200" "blocks per chain of the correlator's means, 10..10000"
          CommandLine.option "chains" IntOption "2" "independent chains (run in parallel), 1..64"
          yield! CommonOptions.seedOptions
          yield! CommonOptions.replicaOptionsWith replicas
          CommandLine.option "fit-start" FloatOption "1" "first time of the gap's cosh fit, in units of 1/m, in [0.25, 6]"
          CommandLine.option "heat-bath" IntOption "0" "a heat-bath sweep after every N sweeps of clusters (0: none; the gap does not need them, E₀'s τ_int shrinks with them), 0..1000"
          CommandLine.optional "ed-lmax" IntOption "l_max of the exact diagonalisation beside the result, 0 (none) or 2..6 (default 6 at L = 3, 5 at L = 4, none beyond)" ]

    /// o3-mc's options: its replicas are independent measurements.
    let measurementOptions =
        optionsWith (CommonOptions.notMerged "each replica is an independent measurement (in its own pilot box unless --extent is given); with one --extent their a_t → 0 gaps, E₀ and c² are independent estimates, combined weighted by their errors (or give one run more --chains)")

    /// The options as a study that keeps its gaps in a --points directory takes them (o3-mc-stepscaling): its
    /// replicas share that directory.
    let options =
        optionsWith (CommonOptions.notMerged "replicas fill one shared --points directory (e.g. one size each; a gap is stamped with --seed, not K, so any replica reuses it) and a last run on that directory collects them without measuring again; a run without --replica measures exactly the gaps the whole study would")

    let private spacings (o: ParsedOptions) (g2: float) =
        let text = CommandLine.text o "spacings" |> CommandLine.required "spacings"
        let values =
            text.Split(',', StringSplitOptions.TrimEntries)
            |> Array.map (fun w ->
                match Double.TryParse(w, Globalization.NumberStyles.Float, invariant) with
                | true, a when a > 0.0 && a <= 1.0 && a * g2 <= 2.0 -> a
                | _ -> raise (UsageError(sprintf "--spacings %s is not allowed: '%s' is not a time step in (0, 1] with a_t·g² ≤ 2 (g² = %g); give at least three, e.g. 0.2,0.15,0.1" text w g2)))
            |> Array.distinct |> Array.sortDescending |> List.ofArray
        if values.Length < 3 then
            raise (UsageError(sprintf "--spacings %s is not allowed: the extrapolation a_t → 0 needs at least three distinct time steps, e.g. 0.2,0.15,0.1" text))
        values

    let configure (o: ParsedOptions) : O3McConfig =
        let sites = CommandLine.intIn o "L" 3L 4096L |> CommandLine.required "L" |> int
        let g2 = CommandLine.positive o "g2"
        if g2 > 100.0 then raise (UsageError(sprintf "--g2 %g is not allowed; it must be in (0, 100]" g2))
        let spacings = spacings o g2
        let extent =
            match CommandLine.float o "extent" with
            | None -> None
            | Some t when t > 0.0 && t <= 1e5 -> Some t
            | Some t -> raise (UsageError(sprintf "--extent %g is not allowed; it must be in (0, 10⁵]" t))
        let heatBath = CommandLine.intIn o "heat-bath" 0L 1000L |> CommandLine.required "heat-bath" |> int
        let blocks = CommandLine.intIn o "blocks" 10L 10000L |> CommandLine.required "blocks" |> int
        let sweeps = CommandLine.intIn o "sweeps" 1L 100000000L |> CommandLine.required "sweeps" |> int
        if sweeps % blocks <> 0 || sweeps < blocks then
            raise (UsageError(sprintf "--sweeps %d is not allowed with --blocks %d; it must be a multiple of the blocks (e.g. %d)" sweeps blocks (max blocks (sweeps / blocks * blocks))))
        let thermal = CommandLine.intIn o "thermal" 10L 100000000L |> CommandLine.required "thermal" |> int
        let chains = CommandLine.intIn o "chains" 1L 64L |> CommandLine.required "chains" |> int
        let fitStart =
            match CommandLine.float o "fit-start" with
            | Some k when k >= 0.25 && k <= 6.0 -> k
            | Some k -> raise (UsageError(sprintf "--fit-start %g is not allowed; it must be in [0.25, 6] (units of 1/m)" k))
            | None -> 1.0
        let edLMax =
            match CommandLine.intIn o "ed-lmax" 0L 6L with
            | Some 1L -> raise (UsageError "--ed-lmax 1 is not allowed; it must be 0 (none) or 2..6")
            | Some l -> int l
            | None -> defaultEdLMax sites
        if edLMax > 0 then O3Reference.checkMemory sites edLMax RotorChainSpectrum.DefaultMemoryLimitBytes
        // The lattices themselves check their sizes: build them now, so a box too large is refused before any work.
        // (The pilot can only shorten the guessed box: the guess bounds the gap from below.)
        for a in spacings do
            CommandLine.validate (fun () -> RotorPathIntegral(sites, RotorPathIntegral.SlicesFor(defaultArg extent (guessedExtent sites g2), a), g2, a)) |> ignore
        { Sites = sites; G2 = g2; Spacings = spacings; Extent = extent; HeatBathEvery = heatBath; ThermalSweeps = thermal; Sweeps = sweeps; Blocks = blocks
          Chains = chains; Seed = CommonOptions.rootSeed o; Replica = CommonOptions.replica o; FitStart = fitStart; EdLMax = edLMax }

    let describe (c: O3McConfig) =
        Json.object
            ([ "L", Json.integer (int64 c.Sites); "g2", Json.number c.G2; "spacings", Json.array (c.Spacings |> List.map Json.number)
               "extent", (match c.Extent with Some t -> Json.number t | None -> Json.text "pilot"); "heat_bath_every", Json.integer (int64 c.HeatBathEvery); "thermal", Json.integer (int64 c.ThermalSweeps); "sweeps", Json.integer (int64 c.Sweeps)
               "blocks", Json.integer (int64 c.Blocks); "chains", Json.integer (int64 c.Chains)
               "fit_start", Json.number c.FitStart; "ed_lmax", Json.integer (int64 c.EdLMax) ]
            @ CommonOptions.describeSeeds c.Seed c.Replica)

    /// Samples one time step with every chain (in parallel) and analyses it.
    let measure (c: O3McConfig) (extent: float) (timeStep: float) : O3McSpacing =
        let lattice = RotorPathIntegral(c.Sites, RotorPathIntegral.SlicesFor(extent, timeStep), c.G2, timeStep)
        let progress = ProgressReporter(sprintf "mc a_t=%g" timeStep, c.ThermalSweeps + c.Sweeps, "sweeps")
        let clock = Diagnostics.Stopwatch.StartNew()
        let chains =
            Array.Parallel.init c.Chains (fun k ->
                let sampler = ClusterSampler(lattice, Seeds.Derive(seed c, sprintf "o3-mc L=%d g2=%s a_t=%s chain %d" c.Sites (c.G2.ToString("R", invariant)) (timeStep.ToString("R", invariant)) k))
                // Chain 0 speaks for all (they run at the same pace).
                let report =
                    if k <> 0 then null
                    else
                        Action<int, int, bool>(fun step total measuring ->
                            let phase = if measuring then "measuring" else "thermalising"
                            let overall = if measuring then c.ThermalSweeps + step else step
                            progress.Report(overall, sprintf "%s %d/%d, N_t %d, last cluster %d sites" phase step total lattice.Slices sampler.LastClusterSize))
                sampler.Run(c.ThermalSweeps, c.Sweeps, c.Blocks, c.HeatBathEvery, report))
        let blocks = chains |> Array.map (fun s -> s.Correlator)
        let gap = PathIntegral.timeCorrelatorGap lattice.Extent timeStep c.FitStart blocks
        if not (Double.IsFinite gap.Gap.Mean && Double.IsFinite gap.Gap.Error) then
            raise (Hybrid.Diagnostics.RunStoppedException(sprintf "the time correlator at a_t = %g gave no finite gap (fit from τ = %g to %g): the statistics are too small for this box; raise --sweeps or shorten --extent" timeStep gap.FitFrom gap.FitTo))
        let correlator = PathIntegral.blockMeans blocks |> Array.mapi (fun k (m, e) -> float k * timeStep, m, e)
        let xiX, xiT, c =
            PathIntegral.correlationLengths c.Sites lattice.Slices timeStep (chains |> Array.map (fun s -> s.Susceptibility))
                (chains |> Array.map (fun s -> s.SpatialMomentumSusceptibility)) (chains |> Array.map (fun s -> s.TemporalMomentumSusceptibility))
        { TimeStep = timeStep; Lattice = lattice; Gap = gap; SpatialLength = xiX; TemporalLength = xiT; SpeedOfLight = c
          Energy = PathIntegral.energy (chains |> Array.map (fun s -> s.Energy))
          SusceptibilityTau = GammaMethod.analyze (chains |> Array.map (fun s -> s.PlainSusceptibility))
          ClustersPerSweep = chains.[0].ClustersPerSweep
          ClusterFraction = chains |> Array.averageBy (fun s -> Array.average s.ClusterFraction)
          Correlator = correlator; Seconds = clock.Elapsed.TotalSeconds }

    /// 12/m with m from a pilot of one chain at the coarsest time step in the guessed box (a twentieth of the sweeps,
    /// at least 500): the gap's lower bound can be 1.6× too low, and the cost is proportional to T.
    let pilotExtent (c: O3McConfig) =
        let a = List.head c.Spacings
        let lattice = RotorPathIntegral(c.Sites, RotorPathIntegral.SlicesFor(guessedExtent c.Sites c.G2, a), c.G2, a)
        let sweeps = max 500 (c.Sweeps / 20) / 10 * 10
        let series = ClusterSampler(lattice, Seeds.Derive(seed c, sprintf "o3-mc pilot L=%d g2=%s" c.Sites (c.G2.ToString("R", invariant)))).Run(max 10 (c.ThermalSweeps / 4), sweeps, 10, 0)
        let m = (PathIntegral.timeCorrelatorGap lattice.Extent a 1.0 [| series.Correlator |]).Gap.Mean
        if Double.IsFinite m && m > 0.0 then min lattice.Extent (12.0 / m) else lattice.Extent

    /// Every time step of a configuration in one box: the given extent, or the pilot's.
    let sample (c: O3McConfig) : float * O3McSpacing list =
        let extent = match c.Extent with Some t -> t | None -> pilotExtent c
        extent, c.Spacings |> List.map (measure c extent)
