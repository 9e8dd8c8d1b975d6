namespace Hybrid.Scripting.Experiments

open System
open System.Globalization
open Deedle
open Hybrid.Analysis
open Hybrid.Lattice
open Hybrid.Observables
open Hybrid.Scripting

/// Raw φ⁴ measurements of a Monte Carlo study, replica-major: series.[replica].[measurement]
/// (a replica is one independent Markov chain).
type Phi4Series =
    { Magnetization: float[][]
      AbsMagnetization: float[][]
      MagnetizationSquared: float[][]
      MagnetizationFourth: float[][]
      IsingEnergy: float[][]
      /// Correlator.[t].[replica].[measurement]
      Correlator: float[][][] }

/// The physics results every φ⁴ sampler reports, so that samplers compare column by column.
type Phi4Physics =
    { /// chi2, abs_magnetization, magnetization, binder, ising_energy, xi
      Observables: (string * Estimate) list
      Correlator: Estimate[]
      EffectiveMass: Estimate[]
      Plateau: int * int }

/// What lattice φ⁴ studies share, whatever the sampler: the series of measurements, their Γ-method
/// analysis, tables, CSV and plots.
module Phi4Study =

    let private invariant = CultureInfo.InvariantCulture

    /// Collects measurements of `replicas` chains × `length` measurements on an L×L lattice.
    type Collector(replicas: int, length: int, extent: int) =
        let grid () = Array.init replicas (fun _ -> Array.zeroCreate<float> length)
        let m, absM, m2, m4, energy = grid (), grid (), grid (), grid (), grid ()
        let correlator = Array.init extent (fun _ -> grid ())

        /// Stores the measurement of every chain (index k of the batch) at position i.
        member _.Add(i: int, x: Phi4Measurement) =
            for k in 0 .. replicas - 1 do
                m.[k].[i] <- x.Magnetization.[k]
                absM.[k].[i] <- x.AbsMagnetization.[k]
                m2.[k].[i] <- x.MagnetizationSquared.[k]
                m4.[k].[i] <- x.MagnetizationFourth.[k]
                energy.[k].[i] <- x.IsingEnergy.[k]
                for t in 0 .. extent - 1 do
                    correlator.[t].[k].[i] <- x.Correlator.[k, t]

        /// The series collected so far.
        member _.Series =
            { Magnetization = m; AbsMagnetization = absM; MagnetizationSquared = m2; MagnetizationFourth = m4
              IsingEnergy = energy; Correlator = correlator }

    /// Measurements of independent proposals (e.g. flow samples) as one replica, in proposal order.
    let ofProposals (extent: int) (batches: Phi4Measurement list) : Phi4Series =
        let batches = List.toArray batches
        let total = batches |> Array.sumBy (fun b -> b.Magnetization.Length)
        let collector = Collector(1, total, extent)
        let mutable i = 0
        for b in batches do
            for k in 0 .. b.Magnetization.Length - 1 do
                let one =
                    Phi4Measurement(
                        [| b.Magnetization.[k] |], [| b.AbsMagnetization.[k] |], [| b.MagnetizationSquared.[k] |],
                        [| b.MagnetizationFourth.[k] |], [| b.IsingEnergy.[k] |], Array2D.init 1 extent (fun _ t -> b.Correlator.[k, t]))
                collector.Add(i, one)
                i <- i + 1
        collector.Series

    /// The Markov chain that visits proposals in the order `state` (independence Metropolis), as one replica.
    let alongChain (state: int[]) (proposals: Phi4Series) : Phi4Series =
        let pick (series: float[][]) = [| state |> Array.map (fun j -> series.[0].[j]) |]
        { Magnetization = pick proposals.Magnetization; AbsMagnetization = pick proposals.AbsMagnetization
          MagnetizationSquared = pick proposals.MagnetizationSquared; MagnetizationFourth = pick proposals.MagnetizationFourth
          IsingEnergy = pick proposals.IsingEnergy; Correlator = proposals.Correlator |> Array.map pick }

    /// Per-site values of an extensive series.
    let perSite (volume: int) (series: float[][]) = series |> Array.map (Array.map (fun x -> x / float volume))

    /// Γ-method analysis of the physics observables (ξ from the default plateau of the effective mass).
    let analyse (lattice: SquareLattice) (s: Phi4Series) : Phi4Physics =
        let volume = lattice.Volume
        let plateau = Correlator.defaultPlateau lattice.Extent
        { Observables =
            [ "chi2", Phi4Estimators.susceptibility volume s.Magnetization
              "abs_magnetization", Phi4Estimators.absMagnetization volume s.Magnetization
              "magnetization", GammaMethod.analyze (perSite volume s.Magnetization)
              "binder", Phi4Estimators.binder s.Magnetization
              "ising_energy", Phi4Estimators.isingEnergy s.IsingEnergy
              // The cosh effective mass needs three time slices around t ≥ 1: no plateau fits below L = 3.
              "xi",
              (if lattice.Extent >= 3 then Correlator.correlationLength plateau s.Correlator
               else Estimate.undefined (Array.sumBy Array.length s.Magnetization)) ]
          Correlator = Correlator.timeSliceEstimates s.Correlator
          EffectiveMass = Correlator.effectiveMassEstimates s.Correlator
          Plateau = plateau }

    /// What each observable name means, for tables.
    let meaning =
        dict
            [ "chi2", "χ₂ = ⟨M²⟩/V"
              "abs_magnetization", "⟨|M|⟩/V"
              "magnetization", "⟨M⟩/V (0 by Z₂ symmetry)"
              "binder", "U₄ = 1 − ⟨M⁴⟩/(3⟨M²⟩²)"
              "ising_energy", "E = (1/d) Σ_μ G_c(μ̂)"
              "xi", "ξ = 1/m_p (plateau)"
              "acceptance", "Metropolis acceptance"
              "exp_minus_delta_h", "⟨e^{−ΔH}⟩ (1 if exact)"
              "ess", "ESS/N of the flow"
              "free_energy_q", "F_q = ⟨S + log q⟩_q ≥ −ln Z"
              "free_energy_reweighted", "−ln Z by reweighting"
              "chi2_reweighted", "χ₂ by reweighting" ]

    /// What a φ⁴ or flow estimate's name means (None for other names).
    let describe (name: string) =
        match meaning.TryGetValue name with
        | true, m -> Some m
        | _ -> None

    /// G_c(t) and m_p(t) by time slice as a Deedle frame.
    let correlatorFrame (p: Phi4Physics) : Frame<int, string> =
        let g, mp = p.Correlator, p.EffectiveMass
        let column (f: int -> obj) = Series.ofObservations [ for t in 0 .. g.Length - 1 -> t, f t ]
        Frame.ofColumns
            [ "G_c(t)", column (fun t -> box g.[t])
              "m_p(t)", column (fun t -> if Double.IsFinite mp.[t].Mean then box mp.[t] else box "")
              "G_c", column (fun t -> box g.[t].Mean)
              "G_c_error", column (fun t -> box g.[t].Error)
              "m_p", column (fun t -> box mp.[t].Mean)
              "m_p_error", column (fun t -> box mp.[t].Error) ]

    /// The correlator section of summary.json.
    let correlatorJson (p: Phi4Physics) =
        Json.object
            [ "G_c", Json.numbers (p.Correlator |> Array.map (fun e -> e.Mean))
              "G_c_error", Json.numbers (p.Correlator |> Array.map (fun e -> e.Error))
              "m_p", Json.numbers (p.EffectiveMass |> Array.map (fun e -> e.Mean))
              "m_p_error", Json.numbers (p.EffectiveMass |> Array.map (fun e -> e.Error))
              "plateau", Json.numbers [ float (fst p.Plateau); float (snd p.Plateau) ] ]

    /// Writes raw measurements, one row per replica and measurement: replica, index, the sampler's own
    /// columns (e.g. accepted, delta_h or log_w), M, |M|, M², M⁴, Ising energy, G_c(t).
    let writeMeasurements (path: string) (extra: (string * float[][]) list) (s: Phi4Series) =
        AtomicFile.write path (fun w ->
            let extent = s.Correlator.Length
            w.Write "replica,index"
            for name, _ in extra do
                w.Write("," + name)
            w.Write ",M,abs_M,M2,M4,ising_energy"
            for t in 0 .. extent - 1 do
                w.Write(sprintf ",G_%d" t)
            w.WriteLine()
            // Ten significant digits: far below any statistical error, and half the size of round-trip output.
            let r (x: float) = x.ToString("G10", invariant)
            for k in 0 .. s.Magnetization.Length - 1 do
                for i in 0 .. s.Magnetization.[k].Length - 1 do
                    w.Write(string k)
                    w.Write(',')
                    w.Write(string i)
                    for _, column in extra do
                        w.Write(',')
                        w.Write(r column.[k].[i])
                    for column in [ s.Magnetization; s.AbsMagnetization; s.MagnetizationSquared; s.MagnetizationFourth; s.IsingEnergy ] do
                        w.Write(',')
                        w.Write(r column.[k].[i])
                    for t in 0 .. extent - 1 do
                        w.Write(',')
                        w.Write(r s.Correlator.[t].[k].[i])
                    w.WriteLine())

    /// Writes the physics plots: correlator, effective mass, Monte Carlo history, τ_int(W) of M².
    /// `context` names the run under each title (e.g. "realNVP, L = 8, m² = −4, λ = 8").
    let writePlots (dir: RunDirectory) (lattice: SquareLattice) (context: string) (s: Phi4Series) (p: Phi4Physics) =
        let xi = p.Observables |> List.find (fun (n, _) -> n = "xi") |> snd
        let plateauMass = { xi with Mean = 1.0 / xi.Mean; Error = xi.Error / (xi.Mean * xi.Mean) }
        let plots =
            [ "correlator.html", "Zero-momentum correlator G<sub>c</sub>(t)", Plots.correlator p.Correlator
              "effective-mass.html", "Effective mass m<sub>p</sub>(t)", Plots.effectiveMass p.EffectiveMass p.Plateau plateauMass
              "history.html", "Monte Carlo history (replica 0)",
              Plots.history [ "M²/V", (perSite lattice.Volume s.MagnetizationSquared).[0]; "|M|/V", (perSite lattice.Volume s.AbsMagnetization).[0] ]
              "tau-int.html", "τ<sub>int</sub>(W) of M²", Plots.tauIntWindow (GammaMethod.autocorrelation s.MagnetizationSquared) ]
        for name, title, chart in plots do
            AtomicFile.writeText (dir.File name) (Plots.toStandaloneHtml (chart |> Plots.withContext title context))

    /// Writes summary.md (the report), observables.csv and correlator.csv.
    let writeTables (dir: RunDirectory) (report: string) (observables: (string * Estimate) list) (p: Phi4Physics) =
        Study.writeReport dir report describe observables
        AtomicFile.writeText (dir.File "correlator.csv") (Table.toCsv (correlatorFrame p))

    /// The observables table and the correlator table in Markdown.
    let markdown (observables: (string * Estimate) list) (p: Phi4Physics) =

        let correlators = (correlatorFrame p).Columns.[ [ "G_c(t)"; "m_p(t)" ] ]
        let xi = observables |> List.tryFind (fst >> (=) "xi") |> Option.map snd
        let xiNote =
            match xi with
            | Some e when Double.IsNaN e.Mean && p.Correlator.Length < 3 ->
                sprintf " ξ is not defined at L = %d: the cosh effective mass m_p(t) needs the time slices t − 1, t, t + 1 with 1 ≤ t ≤ L − 2, so L ≥ 3." p.Correlator.Length
            | Some e when Double.IsNaN e.Mean ->
                " ξ is not defined here: on the plateau G_c(t) is not positive and falling (too noisy or too short a run for a cosh fit of m_p)."
            | _ -> ""
        String.concat
            "\n"
            [ Study.estimatesMarkdown describe observables
              sprintf "ξ from the m_p(t) plateau t ∈ [%d, %d].%s Errors by the Γ-method (Wolff, S = 1.5), τ_int in units of measurements.\n" (fst p.Plateau) (snd p.Plateau) xiNote
              "### Zero-momentum correlator\n"
              Table.toMarkdown correlators ]

/// Command-line options that every φ⁴ experiment shares: lattice and couplings (seed, replicas and device are
/// CommonOptions, shared by every experiment).
module Phi4Options =

    /// --L, --m2, --lambda, --kappa, --lambda-tilde.
    let theory =
        [ CommandLine.option "L" IntOption "8" "lattice extent L (L×L periodic lattice, L ≥ 2)"
          CommandLine.option "m2" FloatOption "-4" "bare mass squared m²"
          CommandLine.option "lambda" FloatOption "8" "quartic coupling λ ≥ 0"
          CommandLine.optional "kappa" FloatOption "hopping parameter κ > 0 (with --lambda-tilde, instead of --m2/--lambda)"
          CommandLine.optional "lambda-tilde" FloatOption "hopping-form coupling λ̃ ≥ 0 (with --kappa)" ]

    /// The lattice, validated.
    let lattice (o: ParsedOptions) =
        let extent = CommandLine.intIn o "L" 2L 4096L |> CommandLine.required "L" |> int
        CommandLine.validate (fun () -> SquareLattice extent)

    /// The couplings from either parameterisation, validated.
    let couplings (o: ParsedOptions) =
        if CommandLine.has o "kappa" || CommandLine.has o "lambda-tilde" then
            if CommandLine.has o "m2" || CommandLine.has o "lambda" then
                raise (UsageError "give either --m2/--lambda or --kappa/--lambda-tilde, not both")
            let kappa = CommandLine.float o "kappa" |> CommandLine.required "kappa"
            let lambdaTilde = CommandLine.float o "lambda-tilde" |> CommandLine.required "lambda-tilde"
            CommandLine.validate (fun () -> Phi4Parameters.FromHopping(kappa, lambdaTilde))
        else
            let m2 = CommandLine.float o "m2" |> CommandLine.required "m2"
            let lambda = CommandLine.float o "lambda" |> CommandLine.required "lambda"
            CommandLine.validate (fun () -> Phi4Parameters.FromMass(m2, lambda))

    /// The theory part of config.json.
    let describe (lattice: SquareLattice) (p: Phi4Parameters) =
        [ "L", Json.integer lattice.Extent
          "m2", Json.number p.MassSquared
          "lambda", Json.number p.Lambda
          "kappa", Json.number p.Kappa
          "lambda_tilde", Json.number p.LambdaTilde ]
