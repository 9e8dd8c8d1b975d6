namespace Hybrid.Scripting.O3

open System
open Hybrid.Analysis.Statistics
open Hybrid.O3
open Hybrid.Scripting.Pipeline

/// The exact reference of the O(3) experiments: exact diagonalisation of the truncated rotor chain at the largest
/// l_max that fits, with its truncation shift, and how a VMC number is compared with it.
[<RequireQualifiedAccess>]
module O3Reference =

    /// The memory a reference printed beside a VMC number may use: 1 GiB (l_max = 6 at L = 3, 5 at L = 4 and 5).
    let memoryLimit = 1L <<< 30

    let private gib (bytes: int64) = float bytes / float (1L <<< 30)

    /// Refuses, before any work, a truncation whose exact diagonalisation would not fit in `limit` bytes.
    let checkMemory (sites: int) (lMax: int) (limit: int64) =
        let need = RotorChainSpectrum.EstimateBytes(sites, lMax)
        if need > limit then
            // EstimateBytes saturates at Int64.MaxValue (8 EiB): say "more than" rather than print that as a size.
            let needText = if need = Int64.MaxValue then "more than 8·10⁹ GiB" else sprintf "%.3g GiB" (gib need)
            raise (UsageError(sprintf "--lmax %d at L = %d would need %s for exact diagonalisation (limit %.3g GiB, --memory-gib); lower --lmax or L" lMax sites needText (gib limit)))

    /// Runs an exact diagonalisation; a Lanczos run that does not converge stops the run with its one-line diagnosis.
    let solving (f: unit -> 'a) : 'a =
        try
            f ()
        with :? Hybrid.Numerics.EigensolverNotConvergedException as e ->
            raise (Hybrid.Diagnostics.RunStoppedException(sprintf "exact diagonalisation failed: %s" e.Message))

    /// The distance of a VMC estimate from an ED level in standard deviations of both uncertainties: the VMC error and
    /// the truncation shift |x(l_max) − x(l_max − 1)| in quadrature.
    let sigmaDistance (vmc: Estimate) (exact: float) (shift: float) =
        (vmc.Mean - exact) / sqrt (vmc.Error * vmc.Error + shift * shift)

    /// Whether an ED level is an exact reference at a VMC estimate's precision: its truncation shift is below the VMC
    /// error. (The shift itself underestimates the truncation error where l_max is far from converged.)
    let isConverged (shift: float) (vmcError: float) = abs shift <= vmcError

    /// The warning for an ED level whose truncation shift exceeds the VMC error.
    let referenceWarning (what: string) (lMax: int) (shift: float) (vmcError: float) =
        sprintf "the exact-diagonalisation %s at l_max = %d is not converged: its truncation shift %.3g exceeds the VMC error %.3g, so it is no exact reference here (the shift is at best a lower bound of its truncation error) and VMC − ED measures the truncation (weak coupling needs a larger l_max: o3-ed --lmax)"
            what lMax (abs shift) vmcError

    /// The largest l_max ≤ 6 (and ≥ 2) whose diagonalisation fits in `limit` bytes at L, if any: the exact reference
    /// that VMC experiments print beside their numbers.
    let referenceLMax (sites: int) (limit: int64) : int option =
        [ 6 .. -1 .. 2 ] |> List.tryFind (fun l -> RotorChainSpectrum.EstimateBytes(sites, l) <= limit)

    /// The reference levels with their truncation shift (None when L is too large for exact diagonalisation).
    let reference (sites: int) (g2: float) (limit: int64) : RotorChainConvergence option =
        referenceLMax sites limit |> Option.map (fun l ->
            // It can take a while (about 15 s at L = 4): say what is running.
            printfn "exact diagonalisation for the reference: L = %d, g² = %g, l_max = %d and %d …" sites g2 (l - 1) l
            solving (fun () -> RotorChainSpectrum.SolveWithConvergence(sites, g2, l, limit)))

    /// An exact level as an estimate whose error is its truncation shift |x(l_max) − x(l_max − 1)|.
    let estimate (value: float) (shift: float) = Estimate.independent value (abs shift) 1

    /// The JSON of a reference: E0, E1, gap with truncation shifts, l_max.
    let referenceJson (r: RotorChainConvergence) =
        let excitedShift = r.Levels.ExcitedEnergy - r.Coarser.ExcitedEnergy
        Json.object
            [ "l_max", Json.integer (int64 r.Levels.LMax)
              "E0", Study.estimateJson (estimate r.Levels.GroundEnergy r.GroundShift)
              "E1", Study.estimateJson (estimate r.Levels.ExcitedEnergy excitedShift)
              "gap", Study.estimateJson (estimate r.Levels.Gap r.GapShift) ]

