namespace Hybrid.Scripting.Nnqm

open System
open Deedle
open Plotly.NET
open Hybrid.Analysis.Statistics
open Hybrid.Analysis.Reporting
open Hybrid.Nnqm
open Hybrid.Runtime
open Hybrid.Scripting.Pipeline

/// Configuration of a Karhunen–Loève decomposition.
type NnqmKlConfig =
    { Omega: float
      HalfLength: float
      Modes: int
      Panels: int
      /// Paths sampled from the KL-built process to check its covariance (0: none).
      Paths: int
      /// The seed of the sampled check: --seed, or a replica's seed derived from it.
      Seed: int64
      RootSeed: int64
      Replica: Replica option }

/// The decomposition, its analytic counterpart and the checks.
type NnqmKlResult =
    { Config: NnqmKlConfig
      Expansion: KarhunenLoeve
      Exact: float[]
      /// max over node pairs of |Σ_k λ_k f_k(t) f_k(s) − C(t, s)| with the modes computed.
      ReconstructionError: float
      /// max over a few node pairs of |Ĉ(t, s) − C(t, s)| / its standard error, from paths of the KL-built process.
      SampledPull: float }

/// `nnqm-kl`: the Karhunen–Loève expansion of the Ornstein–Uhlenbeck process (the Euclidean harmonic oscillator) on
/// [−T, T], numerical (Nyström) against the transcendental equations, and the process rebuilt from its modes: a
/// quantum-mechanical model written as a network with a random last layer (Ferko and Halverson, arXiv:2504.05462).
module NnqmKl =

    let options =
        [ CommandLine.option "process" TextOption "ou" "ou (the only process with analytic KL modes here)"
          CommandLine.option "omega" FloatOption "1" "ω > 0 of dy = −ωy dt + dW"
          CommandLine.option "T" FloatOption "1" "half-length T > 0 of the interval [−T, T]"
          CommandLine.option "modes" IntOption "6" "leading modes to compute"
          CommandLine.option "panels" IntOption "32" "Gauss–Legendre panels of 8 nodes on [−T, T] (twice as many for the uncertainty)"
          CommandLine.option "paths" IntOption "20000" "paths sampled from the KL-built process to check its covariance: 0 (none) or 2..10⁷ (drawn in managed code on the CPU; with the decomposition, one float64 eigenproblem on the CPU, nnqm-kl has no tensors to place and takes no --device)"
          yield! CommonOptions.seedOptions
          yield! CommonOptions.replicaOptionsWith (CommonOptions.notMerged "the eigenvalues do not depend on the seed, and each replica repeats the sampled check with its own paths; compare their pulls") ]

    /// Validates the command line into a configuration.
    let configure (o: ParsedOptions) : NnqmKlConfig =
        match (CommandLine.text o "process" |> Option.defaultValue "ou").ToLowerInvariant() with
        | "ou" -> ()
        | other -> raise (UsageError(sprintf "--process %s is not known; allowed: ou" other))
        let panels = CommandLine.intIn o "panels" 2L 512L |> CommandLine.required "panels" |> int
        let modes = CommandLine.intIn o "modes" 1L 1000L |> CommandLine.required "modes" |> int
        if modes > 4 * panels then raise (UsageError(sprintf "--modes %d is not allowed with --panels %d; at most %d modes (a quarter of the nodes)" modes panels (4 * panels)))
        { Omega = CommandLine.positive o "omega"; HalfLength = CommandLine.positive o "T"; Modes = modes; Panels = panels
          Paths =
            // One path has no sample covariance (its pulls would divide by zero): none, or at least two.
            match CommandLine.intIn o "paths" 0L 10_000_000L |> CommandLine.required "paths" |> int with
            | 1 -> raise (UsageError "--paths 1 is not allowed; it must be 0 (no sampled check) or an integer in 2..10000000")
            | n -> n
          Seed = CommonOptions.seed o; RootSeed = CommonOptions.rootSeed o; Replica = CommonOptions.replica o }

    /// The configuration as written to config.json.
    let describe (c: NnqmKlConfig) =
        Json.object
            ([ "process", Json.text "ou"; "omega", Json.number c.Omega; "T", Json.number c.HalfLength; "modes", Json.integer c.Modes
               "panels", Json.integer c.Panels; "paths", Json.integer c.Paths ]
            @ CommonOptions.describeSeeds c.RootSeed c.Replica)

    /// Decomposes, compares and checks.
    let run (c: NnqmKlConfig) (_: RunDirectory) : NnqmKlResult =
        let ou = OrnsteinUhlenbeck(c.Omega)
        let covariance (t: float) (s: float) = ou.Covariance(t - s)
        let kl = KarhunenLoeve.Compute(Func<float, float, float>(covariance), c.HalfLength, c.Modes, c.Panels)
        let exact = KarhunenLoeve.OrnsteinUhlenbeckEigenvalues(c.Omega, c.HalfLength, c.Modes)
        let n = kl.Nodes.Count
        let all = KarhunenLoeve.Compute(Func<float, float, float>(covariance), c.HalfLength, 4 * c.Panels, c.Panels)
        let rebuilt i j = Seq.init all.Eigenvalues.Count (fun k -> all.Eigenvalues.[k] * all.Modes.[k].[i] * all.Modes.[k].[j]) |> Seq.sum
        let reconstruction =
            [ for i in 0 .. 7 .. n - 1 do for j in 0 .. 7 .. n - 1 -> abs (rebuilt i j - covariance all.Nodes.[i] all.Nodes.[j]) ] |> List.max
        let pull =
            if c.Paths = 0 then nan
            else
                // x(t) = Σ_k √λ_k θ_k f_k(t) with the modes of the finer expansion, θ ~ N(0, 1).
                let rng = Random(int (c.Seed % int64 Int32.MaxValue))
                let gaussian () = sqrt (-2.0 * log (1.0 - rng.NextDouble())) * cos (2.0 * Math.PI * rng.NextDouble())
                let pairs = [ 0, 0; n / 4, n / 2; n / 2, n - 1; 0, n - 1 ]
                let sums = Array.zeroCreate<float> pairs.Length
                let squares = Array.zeroCreate<float> pairs.Length
                let modes = all.Eigenvalues.Count
                for _ in 1 .. c.Paths do
                    let theta = Array.init modes (fun _ -> gaussian ())
                    let x i = Seq.init modes (fun k -> sqrt all.Eigenvalues.[k] * theta.[k] * all.Modes.[k].[i]) |> Seq.sum
                    pairs |> List.iteri (fun p (i, j) -> let v = x i * x j in sums.[p] <- sums.[p] + v; squares.[p] <- squares.[p] + v * v)
                pairs
                |> List.mapi (fun p (i, j) ->
                    let m = sums.[p] / float c.Paths
                    let sd = sqrt ((squares.[p] / float c.Paths - m * m) / float c.Paths)
                    abs (m - rebuilt i j) / sd)
                |> List.max
        { Config = c; Expansion = kl; Exact = exact; ReconstructionError = reconstruction; SampledPull = pull }

    /// The Markdown report.
    let report (r: NnqmKlResult) =
        let c = r.Config
        let rows =
            Frame.ofRows
                [ for k in 0 .. c.Modes - 1 ->
                      sprintf "λ%d" (k + 1),
                      series
                          [ "Nyström", box (sprintf "%.8g" r.Expansion.Eigenvalues.[k])
                            "uncertainty", box (r.Expansion.Uncertainty.[k].ToString("0.0E+0", Globalization.CultureInfo.InvariantCulture))
                            "exact 1/(ω² + ν²)", box (sprintf "%.8g" r.Exact.[k])
                            "relative difference", box ((abs (r.Expansion.Eigenvalues.[k] - r.Exact.[k]) / r.Exact.[k]).ToString("0.0E+0", Globalization.CultureInfo.InvariantCulture)) ] ]
        String.concat "\n"
            [ sprintf "## Karhunen–Loève of Ornstein–Uhlenbeck: ω = %g on [−%g, %g]\n" c.Omega c.HalfLength c.HalfLength
              sprintf "Nyström on %d Gauss–Legendre nodes (uncertainty: the change from half the nodes); exact eigenvalues 1/(ω² + ν²) from ν tan νT = ω (even modes) and ν cot νT = −ω (odd).\n" r.Expansion.Nodes.Count
              Table.toMarkdown rows
              sprintf "The expansion with %d modes rebuilds the covariance to within %.2g at the nodes; %s\n" (4 * c.Panels) r.ReconstructionError
                  (if Double.IsNaN r.SampledPull then "no paths were sampled." else sprintf "%d paths of the KL-built process reproduce it (largest pull %.3gσ over four node pairs)." c.Paths r.SampledPull) ]

    /// Writes summary.json, summary.md, eigenvalues.csv and the modes' plot.
    let write (dir: RunDirectory) (r: NnqmKlResult) =
        let c = r.Config
        Json.write (dir.File "summary.json")
            (Json.object
                [ "experiment", Json.text "nnqm-kl"
                  "parameters", describe c
                  "observables", Json.object [ for k in 0 .. c.Modes - 1 -> sprintf "kl_lambda_%d" (k + 1), Json.object [ "mean", Json.number r.Expansion.Eigenvalues.[k]; "error", Json.number r.Expansion.Uncertainty.[k] ] ]
                  "analytic", Json.object [ for k in 0 .. c.Modes - 1 -> sprintf "kl_lambda_%d" (k + 1), Json.number r.Exact.[k] ]
                  "reconstruction_error", Json.number r.ReconstructionError
                  "sampled_max_pull", Json.number r.SampledPull
                  "runtime", Json.text TorchRuntime.Description ])
        AtomicFile.writeText (dir.File "summary.md") (report r)
        AtomicFile.write (dir.File "eigenvalues.csv") (fun w ->
            w.WriteLine "k,nystrom,uncertainty,exact"
            for k in 0 .. c.Modes - 1 do
                w.WriteLine(FormattableString.Invariant $"{k + 1},{r.Expansion.Eigenvalues.[k]:R},{r.Expansion.Uncertainty.[k]:R},{r.Exact.[k]:R}"))
        let chart =
            [ for k in 0 .. min 3 (c.Modes - 1) ->
                  Chart.Line(x = r.Expansion.Nodes, y = r.Expansion.Modes.[k], Name = sprintf "f<sub>%d</sub>, λ = %.4g" (k + 1) r.Expansion.Eigenvalues.[k]) ]
            |> Chart.combine
            |> Chart.withXAxisStyle (TitleText = "t")
            |> Chart.withYAxisStyle (TitleText = "f<sub>k</sub>(t)")
        Study.writePlot dir "modes.html" "Karhunen–Loève modes" (sprintf "OU, ω = %g, T = %g" c.Omega c.HalfLength) chart
    /// The experiment as the command line knows it.
    let experiment : Experiment<NnqmKlConfig, NnqmKlResult> =
        { Name = "nnqm-kl"
          Description = "Karhunen–Loève modes of the Ornstein–Uhlenbeck process, numerical against analytic, and the process rebuilt from them"
          Options = options
          Configure = configure
          Describe = describe
          Run = fun c dir -> let r = run c dir in write dir r; r
          Report = report }
