namespace Hybrid.Scripting.Phi4

open System
open System.Globalization
open Deedle
open Hybrid.Analysis.Statistics
open Hybrid.Analysis.Correlators
open Hybrid.Analysis.Reporting
open Hybrid.Analysis.Phi4
open Hybrid.Lattice
open Hybrid.Phi4
open Hybrid.Scripting
open Hybrid.Scripting.Pipeline

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

    /// The series as raw measurements: M, abs_M, M2, M4, ising_energy, G_0 … G_{L−1}.
    let toMeasurements (s: Phi4Series) : Measurements =
        Measurements.ofColumns (
            [ "M", s.Magnetization; "abs_M", s.AbsMagnetization; "M2", s.MagnetizationSquared; "M4", s.MagnetizationFourth
              "ising_energy", s.IsingEnergy ]
            @ [ for t in 0 .. s.Correlator.Length - 1 -> sprintf "G_%d" t, s.Correlator.[t] ])

    /// The series back from raw measurements (other columns are ignored).
    let ofMeasurements (m: Measurements) : Phi4Series =
        let extent = m.Columns |> List.filter (fun (k, _) -> k.StartsWith "G_") |> List.length
        { Magnetization = m.["M"]; AbsMagnetization = m.["abs_M"]; MagnetizationSquared = m.["M2"]; MagnetizationFourth = m.["M4"]
          IsingEnergy = m.["ising_energy"]; Correlator = Array.init extent (fun t -> m.[sprintf "G_%d" t]) }

    /// Writes measurements.csv: replica, index, the sampler's own columns (e.g. accepted, delta_h or log_w), then the
    /// φ⁴ series (toMeasurements).
    let writeMeasurements (path: string) (extra: (string * float[][]) list) (s: Phi4Series) =
        Measurements.write path (Measurements.ofColumns (extra @ (toMeasurements s).Columns))

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
            Study.writePlot dir name title context chart
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
