namespace Hybrid.Scripting.O3

open System
open Deedle
open Hybrid.Analysis.Statistics
open Hybrid.Analysis.Reporting
open Hybrid.Analysis.O3
open Hybrid.O3
open Hybrid.Sampling
open Hybrid.Scripting.Pipeline

type O3McResult =
    { Config: O3McConfig
      /// The time extent used (given, or from the pilot).
      Extent: float
      Spacings: O3McSpacing list
      Gap: TimeStepLimit
      Energy: TimeStepLimit
      /// c² = (ξ_x/ξ_τ)², a_t → 0.
      SpeedOfLightSquared: TimeStepLimit
      Exact: RotorChainConvergence option }

/// `o3-mc`: the exact reference of the rotor chain at any L, independent of VMC. The Euclidean path integral of
/// H = (g²/2) Σ L_i² − (1/g²) Σ n_i·n_{i+1} at several time steps a_t, sampled by Wolff single clusters with improved
/// estimators (Hybrid.O3.ClusterSampler); the gap m(L) = E₁ − E₀ from the zero-momentum l = 1 time correlator,
/// extrapolated a_t → 0 (the spectrum is right to O(a_t²)), and E₀ from the energy estimator.
module O3Mc =

    let private invariant = Globalization.CultureInfo.InvariantCulture

    let run (c: O3McConfig) (_: RunDirectory) : O3McResult =
        let extent, spacings = O3PathIntegral.sample c
        let exact = if c.EdLMax > 0 then Some(O3Reference.solving (fun () -> RotorChainSpectrum.SolveWithConvergence(c.Sites, c.G2, c.EdLMax))) else None
        { Config = c; Extent = extent; Spacings = spacings
          Gap = PathIntegral.extrapolateTimeStep (spacings |> List.map (fun s -> s.TimeStep, s.Gap.Gap))
          Energy = PathIntegral.extrapolateTimeStep (spacings |> List.map (fun s -> s.TimeStep, s.Energy))
          SpeedOfLightSquared =
            PathIntegral.extrapolateTimeStep
                (spacings |> List.map (fun s -> s.TimeStep, { s.SpeedOfLight with Mean = s.SpeedOfLight.Mean ** 2.0; Error = 2.0 * s.SpeedOfLight.Mean * s.SpeedOfLight.Error }))
          Exact = exact }

    let private versus (e: Estimate) (exact: float) =
        sprintf "%+.2e (%.3gσ, %+.1e relative)" (e.Mean - exact) ((e.Mean - exact) / e.Error) ((e.Mean - exact) / abs exact)

    let private fitText (f: TimeStepFit) =
        sprintf "%s: %s, χ² = %.2f for %d dof" f.Form (Estimate.format f.Limit) f.ChiSquared f.DegreesOfFreedom

    let report (r: O3McResult) =
        let c = r.Config
        let rows =
            Frame.ofRows
                [ for s in r.Spacings ->
                      sprintf "a_t = %g" s.TimeStep,
                      series [ "N_t", box (string s.Lattice.Slices); "β_t", box (sprintf "%.4f" s.Lattice.TemporalCoupling); "β_x", box (sprintf "%.4f" s.Lattice.SpatialCoupling)
                               "m(L)", box (Estimate.format s.Gap.Gap); "fit τ", box (sprintf "%.2f–%.2f" s.Gap.FitFrom s.Gap.FitTo)
                               "E₀ estimator", box (Estimate.format s.Energy); "τ_int χ (sweeps)", box (sprintf "%.2f" s.SusceptibilityTau.TauInt)
                               "ξ_x, ξ_τ", box (sprintf "%s, %s" (Estimate.format s.SpatialLength) (Estimate.format s.TemporalLength))
                               "c = ξ_x/ξ_τ", box (Estimate.format s.SpeedOfLight)
                               "cluster/V", box (sprintf "%.3f" s.ClusterFraction); "s", box (sprintf "%.0f" s.Seconds) ] ]
        let gap, energy = r.Gap.Central.Limit, r.Energy.Central.Limit
        String.concat "\n"
            [ yield sprintf "## The rotor chain's path integral (Wolff clusters), L = %d, g² = %g, T = %.4g%s\n" c.Sites c.G2 r.Extent (if c.Extent.IsNone then " (12/m from a pilot run)" else "")
              yield Table.toMarkdown rows
              yield ""
              yield sprintf "Gap, a_t → 0: **m(L) = %s** (relative error %.1e; L·m = %s), form %s. Other forms: %s."
                        (Estimate.format gap) (gap.Error / gap.Mean) (Estimate.format { gap with Mean = gap.Mean * float c.Sites; Error = gap.Error * float c.Sites })
                        r.Gap.Central.Form (r.Gap.Fits |> List.filter (fun f -> f.Form <> r.Gap.Central.Form) |> List.map fitText |> String.concat "; ")
              yield sprintf "Gap fit: %s. E₀, a_t → 0: %s (%s)." (fitText r.Gap.Central) (Estimate.format energy) (fitText r.Energy.Central)
              let last = List.last r.Spacings
              let boxes = min (float c.Sites / last.SpatialLength.Mean) (r.Extent / last.TemporalLength.Mean)
              yield sprintf "Speed of light, a_t → 0: c² = (ξ_x/ξ_τ)² = %s (%s). %s"
                        (Estimate.format r.SpeedOfLightSquared.Central.Limit) (fitText r.SpeedOfLightSquared.Central)
                        (if boxes >= 8.0 then sprintf "The box holds %.1f correlation lengths in its shorter direction: this is the infinite chain's c²." boxes
                         else sprintf "The box holds only %.1f correlation lengths in its shorter direction (infinite volume needs 8): a finite-volume ratio, not the chain's c²." boxes)
              match r.Exact with
              | Some e ->
                  yield sprintf "Exact diagonalisation (l_max = %d, truncation shifts: gap %.1e, E₀ %.1e): m(L) = %.8f, E₀ = %.8f. Path integral − exact: gap %s; E₀ %s."
                            e.Levels.LMax (abs e.GapShift) (abs e.GroundShift) e.Levels.Gap e.Levels.GroundEnergy (versus gap e.Levels.Gap) (versus energy e.Levels.GroundEnergy)
              | None -> yield "No exact diagonalisation beside it (L > 4, or --ed-lmax 0)." ]

    let write (dir: RunDirectory) (r: O3McResult) =
        let c = r.Config
        let fitJson (f: TimeStepFit) =
            Json.object [ "form", Json.text f.Form; "limit", Study.estimateJson f.Limit; "chi2", Json.number f.ChiSquared; "dof", Json.integer (int64 f.DegreesOfFreedom)
                          "coefficients", Json.array (f.Coefficients |> Array.map Json.number |> List.ofArray) ]
        let limitJson (l: TimeStepLimit) = Json.object [ "central", Json.text l.Central.Form; "fits", Json.array (l.Fits |> List.map fitJson) ]
        let spacingJson (s: O3McSpacing) =
            Json.object
                [ "a_t", Json.number s.TimeStep; "slices", Json.integer (int64 s.Lattice.Slices); "beta_t", Json.number s.Lattice.TemporalCoupling
                  "beta_x", Json.number s.Lattice.SpatialCoupling; "gap", Study.estimateJson s.Gap.Gap; "fit_from", Json.number s.Gap.FitFrom
                  "fit_to", Json.number s.Gap.FitTo; "fit_chi2_per_dof_uncorrelated", Json.number s.Gap.ChiSquaredPerDof
                  "E0_estimator", Study.estimateJson s.Energy; "susceptibility_tau_int", Study.estimateJson s.SusceptibilityTau
                  "xi_x", Study.estimateJson s.SpatialLength; "xi_t", Study.estimateJson s.TemporalLength; "c", Study.estimateJson s.SpeedOfLight
                  "clusters_per_sweep", Json.integer (int64 s.ClustersPerSweep); "cluster_fraction", Json.number s.ClusterFraction; "seconds", Json.number s.Seconds ]
        let observables = [ "gap", r.Gap.Central.Limit; "E0", r.Energy.Central.Limit; "c2", r.SpeedOfLightSquared.Central.Limit ]
        Json.write (dir.File "summary.json")
            (Json.object
                [ "experiment", Json.text "o3-mc"; "parameters", O3PathIntegral.describe c; "extent", Json.number r.Extent
                  "observables", Study.estimatesJson observables
                  "time_step_extrapolation", Json.object [ "gap", limitJson r.Gap; "E0", limitJson r.Energy; "c2", limitJson r.SpeedOfLightSquared ]
                  "spacings", Json.array (r.Spacings |> List.map spacingJson)
                  "exact", (match r.Exact with Some e -> O3Reference.referenceJson e | None -> null) ])
        let row (s: O3McSpacing) = [| s.TimeStep; float s.Lattice.Slices; s.Gap.Gap.Mean; s.Gap.Gap.Error; s.Energy.Mean; s.Energy.Error; s.SusceptibilityTau.TauInt; s.ClusterFraction; s.Seconds |]
        let columns = [ "a_t"; "slices"; "gap"; "gap_error"; "E0"; "E0_error"; "tau_int_chi"; "cluster_fraction"; "seconds" ]
        AtomicFile.write (dir.File "spacings.csv") (fun w ->
            w.WriteLine(String.Join(",", columns))
            for s in r.Spacings do w.WriteLine(String.Join(",", row s |> Array.map (fun v -> v.ToString("R", invariant)))))
        AtomicFile.write (dir.File "correlator.csv") (fun w ->
            w.WriteLine "a_t,tau,G,G_error"
            for s in r.Spacings do
                for tau, g, e in s.Correlator do
                    w.WriteLine(String.Join(",", [| s.TimeStep; tau; g; e |] |> Array.map (fun v -> v.ToString("R", invariant)))))
        AtomicFile.write (dir.File "effective-mass.csv") (fun w ->
            w.WriteLine "a_t,tau,m_eff,m_eff_error"
            for s in r.Spacings do
                for tau, e in s.Gap.EffectiveMass do
                    w.WriteLine(String.Join(",", [| s.TimeStep; tau; e.Mean; e.Error |] |> Array.map (fun v -> v.ToString("R", invariant)))))
        Study.writeReport dir (report r) (fun name -> match name with "gap" -> Some "m(L) = E₁ − E₀, a_t → 0" | "E0" -> Some "E₀, a_t → 0" | "c2" -> Some "(ξ_x/ξ_τ)², a_t → 0 (the speed of light only where the box holds 8 correlation lengths)" | _ -> None) observables
        let context = sprintf "L = %d, g² = %g, T = %.4g, %d chains × %d sweeps per a_t" c.Sites c.G2 r.Extent c.Chains c.Sweeps
        let central = r.Gap.Central
        let largest = c.Spacings |> List.max
        let grid = Array.init 41 (fun k -> largest * float k / 40.0)
        let curve = grid |> Array.map (fun a -> Array.fold2 (fun acc coef b -> acc + coef * b) 0.0 central.Coefficients (central.Basis a))
        let exactCurve =
            match r.Exact with
            | Some e -> [ sprintf "exact diagonalisation (l_max %d)" e.Levels.LMax, [| 0.0; largest * largest |], [| e.Levels.Gap; e.Levels.Gap |] ]
            | None -> []
        Study.writePlot dir "gap-against-time-step.html" "The gap at each time step and its limit a_t → 0" context
            (Plots.againstCurves "m(L) against a_t²" "a_t²" "m(L) = E₁ − E₀"
                [ "path integral ± 1σ", r.Spacings |> List.map (fun s -> s.TimeStep * s.TimeStep, s.Gap.Gap)
                  sprintf "a_t → 0 (%s)" central.Form, [ 0.0, central.Limit ] ]
                ((sprintf "fit %s" central.Form, grid |> Array.map (fun a -> a * a), curve) :: exactCurve))
        Study.writePlot dir "effective-mass.html" "Cosh effective mass of the l = 1 time correlator" context
            (Plots.againstCurves "m_eff(τ): a plateau at the gap" "τ" "m_eff(τ)"
                [ for s in r.Spacings -> sprintf "a_t = %g" s.TimeStep, s.Gap.EffectiveMass |> List.ofArray ]
                [ for s in r.Spacings -> sprintf "fit a_t = %g" s.TimeStep, [| s.Gap.FitFrom; s.Gap.FitTo |], [| s.Gap.Gap.Mean; s.Gap.Gap.Mean |] ])

    let experiment : Experiment<O3McConfig, O3McResult> =
        { Name = "o3-mc"
          Description = "the rotor chain's Euclidean path integral by Wolff clusters: the gap m(L) and E₀ extrapolated a_t → 0, the exact reference beyond ED"
          Options = O3PathIntegral.measurementOptions
          Configure = O3PathIntegral.configure
          Describe = O3PathIntegral.describe
          Run = fun c dir -> let r = run c dir in write dir r; r
          Report = report }
