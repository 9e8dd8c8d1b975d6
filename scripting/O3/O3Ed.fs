namespace Hybrid.Scripting.O3

open System
open Deedle
open Hybrid.Analysis.Statistics
open Hybrid.Analysis.Reporting
open Hybrid.O3
open Hybrid.Scripting.Pipeline

/// Configuration of exact diagonalisation of the rotor chain.
type O3EdConfig =
    { Sites: int
      G2: float
      LMax: int
      MemoryLimitBytes: int64 }

type O3EdResult =
    { Config: O3EdConfig
      /// The levels at l_max = 1 … LMax (convergence in the truncation).
      Levels: RotorChainLevels list
      Seconds: float }

/// `o3-ed`: exact diagonalisation of the truncated rotor chain (|l m⟩ per site, l ≤ l_max, sparse Lanczos), the
/// oracle of every VMC number: E₀ (lowest singlet), E₁ (lowest l = 1, identified by total L²) and the gap, with
/// their convergence in l_max.
module O3Ed =


    let options =
        [ CommandLine.option "L" IntOption "4" "chain length L ≥ 2 (periodic; L = 2 has one bond)"
          CommandLine.option "g2" FloatOption "2" "coupling g², 0.01..100"
          CommandLine.option "lmax" IntOption "4" "largest angular momentum per site, 1..20"
          CommandLine.option "memory-gib" FloatOption "8" "memory the diagonalisation may use (GiB)" ]

    /// Validates the command line into a configuration (including that it fits in memory).
    let configure (o: ParsedOptions) : O3EdConfig =
        let sites = O3Vmc.sites o
        let g2 = O3Vmc.coupling o
        let lMax = CommandLine.intIn o "lmax" 1L (int64 RotorChainSpectrum.MaxLMax) |> CommandLine.required "lmax" |> int
        let gibLimit = CommandLine.positive o "memory-gib"
        if gibLimit > 1e6 then raise (UsageError(sprintf "--memory-gib %g is not allowed; it must be in (0, 1000000]" gibLimit))
        let limit = int64 (gibLimit * float (1L <<< 30))
        O3Reference.checkMemory sites lMax limit
        { Sites = sites; G2 = g2; LMax = lMax; MemoryLimitBytes = limit }

    let describe (c: O3EdConfig) =
        Json.object [ "L", Json.integer (int64 c.Sites); "g2", Json.number c.G2; "lmax", Json.integer (int64 c.LMax); "memory_gib", Json.number (float c.MemoryLimitBytes / float (1L <<< 30)) ]

    let run (c: O3EdConfig) (_: RunDirectory) : O3EdResult =
        let clock = Diagnostics.Stopwatch.StartNew()
        let progress = ProgressReporter(sprintf "ed L=%d" c.Sites, c.LMax, "l_max")
        let levels =
            [ for l in 1 .. c.LMax ->
                  let r = O3Reference.solving (fun () -> RotorChainSpectrum.Solve(c.Sites, c.G2, l, c.MemoryLimitBytes))
                  progress.Report(l, sprintf "l_max %d: E0 %.10f  gap %.10f  (M=0 sector %d states)" l r.GroundEnergy r.Gap r.GroundSectorDimension)
                  r ]
        { Config = c; Levels = levels; Seconds = clock.Elapsed.TotalSeconds }

    let private final (r: O3EdResult) = List.last r.Levels

    let private shifts (r: O3EdResult) =
        match r.Levels with
        | _ :: _ :: _ ->
            let a, b = r.Levels.[r.Levels.Length - 2], final r
            b.GroundEnergy - a.GroundEnergy, b.Gap - a.Gap, b.ExcitedEnergy - a.ExcitedEnergy
        | _ -> nan, nan, nan

    let report (r: O3EdResult) =
        let c = r.Config
        let rows =
            Frame.ofRows
                [ for l in r.Levels ->
                      sprintf "l_max = %d" l.LMax,
                      series [ "E0", box (sprintf "%.10f" l.GroundEnergy); "E1", box (sprintf "%.10f" l.ExcitedEnergy); "gap", box (sprintf "%.10f" l.Gap)
                               "L·gap", box (sprintf "%.8f" (float c.Sites * l.Gap)); "⟨L²⟩ (E0, E1)", box (sprintf "%.1e, %.6f" l.GroundTotalL2 l.ExcitedTotalL2)
                               "sector (M=0)", box (string l.GroundSectorDimension) ] ]
        let dE, dGap, _ = shifts r
        String.concat "\n"
            [ sprintf "## Exact diagonalisation of the O(3) rotor chain, L = %d, g² = %g\n" c.Sites c.G2
              Table.toMarkdown rows
              ""
              sprintf "Converged to l_max = %d within: E₀ %.1e, gap %.1e (shift from l_max − 1). Strong-coupling check: g² − 2/(3g²) = %.6f; weak-coupling L·gap → g² = %g. %.1f s."
                  c.LMax (abs dE) (abs dGap) (c.G2 - 2.0 / (3.0 * c.G2)) c.G2 r.Seconds ]

    let write (dir: RunDirectory) (r: O3EdResult) =
        let f = final r
        let dE, dGap, dE1 = shifts r
        let observables = [ "E0", O3Reference.estimate f.GroundEnergy dE; "E1", O3Reference.estimate f.ExcitedEnergy dE1; "gap", O3Reference.estimate f.Gap dGap ]
        Json.write (dir.File "summary.json")
            (Json.object
                [ "experiment", Json.text "o3-ed"; "parameters", describe r.Config
                  "observables", Study.estimatesJson observables
                  "error_meaning", Json.text "the shift from l_max − 1 to l_max (truncation)"
                  "total_L2", Json.object [ "E0", Json.number f.GroundTotalL2; "E1", Json.number f.ExcitedTotalL2 ]
                  "residuals", Json.object [ "E0", Json.number f.GroundResidual; "E1", Json.number f.ExcitedResidual ]
                  "sector_dimensions", Json.object [ "M0", Json.integer f.GroundSectorDimension; "M1", Json.integer f.ExcitedSectorDimension ]
                  "seconds", Json.number r.Seconds ])
        let lmax = r.Levels |> List.map (fun l -> float l.LMax) |> Array.ofList
        Measurements.write (dir.File "levels.csv")
            (Measurements.ofColumns
                [ "lmax", [| lmax |]; "E0", [| r.Levels |> List.map (fun l -> l.GroundEnergy) |> Array.ofList |]
                  "E1", [| r.Levels |> List.map (fun l -> l.ExcitedEnergy) |> Array.ofList |]; "gap", [| r.Levels |> List.map (fun l -> l.Gap) |> Array.ofList |] ])
        AtomicFile.writeText (dir.File "summary.md") (report r)
        Study.writePlot dir "convergence.html" "Exact diagonalisation: the gap against the truncation l_max" (sprintf "L = %d, g² = %g" r.Config.Sites r.Config.G2)
            (Plots.againstCurves "The gap against the truncation" "l<sub>max</sub>" "m(L) = E<sub>1</sub> − E<sub>0</sub>" []
                 [ "gap at each l<sub>max</sub>", lmax, r.Levels |> List.map (fun l -> l.Gap) |> Array.ofList ])

    let experiment : Experiment<O3EdConfig, O3EdResult> =
        { Name = "o3-ed"
          Description = "exact diagonalisation of the O(3) rotor chain: E₀, the l = 1 level and the gap, converged in l_max"
          Options = options
          Configure = configure
          Describe = describe
          Run = fun c dir -> let r = run c dir in write dir r; r
          Report = report }
