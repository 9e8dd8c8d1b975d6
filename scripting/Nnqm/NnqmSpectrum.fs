namespace Hybrid.Scripting.Nnqm

open System
open Deedle
open Hybrid.Analysis.Statistics
open Hybrid.Analysis.Fitting
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

/// Configuration of a spectrum measurement.
type NnqmSpectrumConfig =
    { Process: SpectrumProcess
      Omega: float
      Paths: int
      Dt: float
      /// Path length in time.
      Length: float
      /// Lags fitted: from Dt to this time.
      FitUntil: float
      States: int
      Seed: int64 }

/// The fitted spectrum and the exact one.
type NnqmSpectrumResult =
    { Config: NnqmSpectrumConfig
      Times: float[]
      Correlator: FitData
      Fit: SpectralFit
      ExactGaps: float[]
      ExactWeights: float[]
      Seconds: float }

/// `nnqm-spectrum`: sample a Euclidean process, measure its two-point function, and read the quantum spectrum off it
/// with a Källén–Lehmann fit, beside the exact gaps and weights.
module NnqmSpectrum =

    let options =
        [ CommandLine.option "process" TextOption "erf-ou" "ou | erf-ou"
          CommandLine.option "omega" FloatOption "1" "ω > 0 of the OU input"
          CommandLine.option "a" FloatOption "1" "erf-ou: z = erf(a u)"
          CommandLine.option "paths" IntOption "4000" "independent stationary paths"
          CommandLine.option "dt" FloatOption "0.1" "time step Δt (0 < Δt < T)"
          CommandLine.option "T" FloatOption "20" "path length T"
          CommandLine.option "fit-until" FloatOption "3" "largest lag fitted"
          CommandLine.option "states" IntOption "2" "states in the fit"
          CommandLine.option "seed" IntOption "1" "random seed" ]

    /// Validates the command line into a configuration.
    let configure (o: ParsedOptions) : NnqmSpectrumConfig =
        let omega = CommandLine.positive o "omega"
        let dt = CommandLine.positive o "dt"
        let length = CommandLine.positive o "T"
        if dt >= length then raise (UsageError(sprintf "--dt %g is not allowed with --T %g; it must be smaller than T" dt length))
        let until = CommandLine.positive o "fit-until"
        if until > length / 2.0 || until < 2.0 * dt then
            raise (UsageError(sprintf "--fit-until %g is not allowed; the fit range [Δt, t] must hold at least two lags and end by T/2 = %g" until (length / 2.0)))
        let lags = int (until / dt)
        let states = CommandLine.intIn o "states" 1L 10L |> CommandLine.required "states" |> int
        if 2 * states > lags then raise (UsageError(sprintf "--states %d is not allowed: %d parameters for %d lags; use at most %d states or a larger --fit-until" states (2 * states) lags (lags / 2)))
        let proc =
            match (CommandLine.text o "process" |> Option.defaultValue "erf-ou").ToLowerInvariant() with
            | "ou" -> Ou
            | "erf-ou" -> ErfOu(CommandLine.positive o "a")
            | other -> raise (UsageError(sprintf "--process %s is not known; allowed: ou, erf-ou" other))
        { Process = proc; Omega = omega; Dt = dt; Length = length; FitUntil = until; States = states
          Paths = CommandLine.intIn o "paths" 2L 100_000_000L |> CommandLine.required "paths" |> int
          Seed = CommandLine.intIn o "seed" 0L Int64.MaxValue |> CommandLine.required "seed" }

    /// The configuration as written to config.json.
    let describe (c: NnqmSpectrumConfig) =
        Json.object
            [ "process", Json.text (match c.Process with Ou -> "ou" | ErfOu _ -> "erf-ou")
              "a", (match c.Process with ErfOu a -> Json.number a | Ou -> null)
              "omega", Json.number c.Omega; "paths", Json.integer c.Paths; "dt", Json.number c.Dt; "T", Json.number c.Length
              "fit_until", Json.number c.FitUntil; "states", Json.integer c.States; "seed", Json.integer c.Seed ]

    /// The exact gaps and weights (lowest first), as many as the fit has states.
    let exact (c: NnqmSpectrumConfig) =
        match c.Process with
        | Ou -> [| c.Omega |], [| 1.0 / (2.0 * c.Omega) |]
        | ErfOu a ->
            // Mehler: (2/π) arcsin(k e^{−ωt}) = (2/π) Σ_{m≥0} [(2m)!/(4^m (m!)² (2m+1))] k^{2m+1} e^{−(2m+1)ωt}.
            let k = 2.0 * a * a / (1.0 + 2.0 * a * a)
            let logFactorial (n: int) = Seq.sumBy log (seq { 1.0 .. float n })
            let coefficient m = exp (logFactorial (2 * m) - 2.0 * logFactorial m - float m * log 4.0) / (2.0 * float m + 1.0)
            Array.init c.States (fun m -> float (2 * m + 1) * c.Omega), Array.init c.States (fun m -> 2.0 / Math.PI * coefficient m * k ** float (2 * m + 1))

    /// Samples, measures and fits.
    let run (c: NnqmSpectrumConfig) (_: RunDirectory) : NnqmSpectrumResult =
        let clock = Diagnostics.Stopwatch.StartNew()
        let ou = OrnsteinUhlenbeck(c.Omega)
        let steps = int (c.Length / c.Dt) + 1
        let lags = int (c.FitUntil / c.Dt)
        use generator = new TorchSharp.torch.Generator(uint64 (Seeds.Derive(c.Seed, "paths")))
        use paths = ou.Sample(int64 c.Paths, steps, c.Dt, generator)
        // The observable's path: y itself, or erf(a u) of the standardised u = y √(2ω).
        use observed =
            match c.Process with
            | Ou -> paths.alias()
            | ErfOu a -> paths.mul(TorchSharp.Scalar.op_Implicit (a * sqrt (2.0 * c.Omega))).erf()
        let values = observed.data<float>().ToArray()
        // One correlator per path, averaged over time origins: independent samples for the mean and its covariance.
        // Both observables have ⟨·⟩ = 0 exactly (odd functions of a symmetric process), so no mean is subtracted.
        let perPath =
            Array.init c.Paths (fun p ->
                let row = values.[p * steps .. (p + 1) * steps - 1]
                Array.init lags (fun l ->
                    let lag = l + 1
                    let mutable sum = 0.0
                    for s in 0 .. steps - 1 - lag do sum <- sum + row.[s] * row.[s + lag]
                    sum / float (steps - lag)))
        let data = LeastSquares.ofSamples perPath
        let times = Array.init lags (fun l -> float (l + 1) * c.Dt)
        let gaps, weights = exact c
        let priors = { Ground = LogNormal(gaps.[0], 1.0); Gap = LogNormal(2.0 * c.Omega, 1.0); Amplitude = LogNormal(weights.[0], 2.0) }
        let fit = Spectral.fit OpenEnded times data c.States priors 1e-8
        { Config = c; Times = times; Correlator = data; Fit = fit; ExactGaps = gaps; ExactWeights = weights; Seconds = clock.Elapsed.TotalSeconds }

    /// The Markdown report.
    let report (r: NnqmSpectrumResult) =
        let c = r.Config
        let rows =
            Frame.ofRows
                [ for n in 0 .. c.States - 1 ->
                      sprintf "state %d" (n + 1),
                      series
                          [ "gap (fit)", box (Estimate.format r.Fit.Energies.[n])
                            "gap (exact)", box (sprintf "%.6g" r.ExactGaps.[n])
                            "weight (fit)", box (Estimate.format r.Fit.Amplitudes.[n])
                            "weight (exact)", box (sprintf "%.6g" r.ExactWeights.[n]) ] ]
        String.concat "\n"
            [ yield sprintf "## Spectrum of %s: ω = %g\n" (match c.Process with Ou -> "Ornstein–Uhlenbeck" | ErfOu a -> sprintf "erf(%g u), u standardised OU" a) c.Omega
              yield sprintf "%d paths of length %g (Δt = %g), correlator at lags Δt … %g from each path (errors: the spread over paths, correlated); %d-state Källén–Lehmann fit: χ²/dof = %.2f, %s; %.1f s.\n"
                        c.Paths c.Length c.Dt c.FitUntil c.States r.Fit.Fit.ChiSquaredPerDof (if r.Fit.Fit.Converged then "converged" else "NOT converged") r.Seconds
              yield Table.toMarkdown rows
              match r.Fit.Warning with Some w -> yield "**" + w + "**" | None -> () ]

    /// Writes the run.
    let write (dir: RunDirectory) (r: NnqmSpectrumResult) =
        let list (es: Estimate[]) = Json.array [ for e in es -> Json.object [ "mean", Json.number e.Mean; "error", Json.number e.Error ] ]
        Json.write (dir.File "summary.json")
            (Json.object
                [ "experiment", Json.text "nnqm-spectrum"
                  "parameters", describe r.Config
                  "fit", Json.object [ "gaps", list r.Fit.Energies; "weights", list r.Fit.Amplitudes; "chi2_per_dof", Json.number r.Fit.Fit.ChiSquaredPerDof; "converged", System.Text.Json.Nodes.JsonValue.Create r.Fit.Fit.Converged ]
                  "exact", Json.object [ "gaps", Json.numbers r.ExactGaps; "weights", Json.numbers r.ExactWeights ]
                  "warning", (match r.Fit.Warning with Some w -> Json.text w | None -> null)
                  "runtime", Json.text TorchRuntime.Description ])
        Measurements.write (dir.File "measurements.csv")
            (Measurements.ofColumns [ "t", [| r.Times |]; "correlator", [| r.Correlator.Values |]; "error", [| Array.init r.Times.Length (fun i -> sqrt r.Correlator.Covariance.[i, i]) |] ])
        AtomicFile.writeText (dir.File "summary.md") (report r)
        let estimates = [ for i in 0 .. r.Times.Length - 1 -> Estimate.independent r.Correlator.Values.[i] (sqrt r.Correlator.Covariance.[i, i]) r.Config.Paths ]
        Study.writePlot dir "correlator.html" "Euclidean two-point function" (sprintf "ω = %g, Δt = %g (index = lag/Δt − 1)" r.Config.Omega r.Config.Dt) (Plots.correlator (Array.ofList estimates))
    /// The experiment as the command line knows it.
    let experiment : Experiment<NnqmSpectrumConfig, NnqmSpectrumResult> =
        { Name = "nnqm-spectrum"
          Description = "sample OU or erf(a·OU), measure the two-point function, fit its Källén–Lehmann spectrum against the exact gaps and weights"
          Options = options
          Configure = configure
          Describe = describe
          Run = fun c dir -> let r = run c dir in write dir r; r
          Report = report }
