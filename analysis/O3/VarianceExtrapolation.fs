namespace Hybrid.Analysis.O3

open System
open Hybrid.Analysis.Statistics

/// A variational energy carried to zero local-energy variance.
type ZeroVarianceEnergy =
    { /// E at σ² = 0: the measured energy minus slope × its variance.
      Energy: Estimate
      /// dE/dσ² along the late training, ≈ 1/Δ for a state whose error is one admixed level at distance Δ.
      Slope: Estimate
      /// The σ² range of the blocks the slope comes from.
      VarianceFrom: float
      VarianceTo: float
      /// χ²/dof of the straight line through the blocks (the fit error is scaled up by √(χ²/dof) when above 1).
      ChiSquaredPerDof: float
      Blocks: int }

/// Zero-variance extrapolation of a VMC energy. For a state ψ = ψ₀ + ε·χ close to the eigenstate ψ₀ (χ orthogonal,
/// in the same symmetry sector), E − E₀ and the local-energy variance σ² are both O(ε²): E − E₀ = ε²(E_χ − E₀) and
/// σ² = ε²·⟨(H − E₀)²⟩_χ, so E is linear in σ² near σ² = 0 with a positive slope, and the intercept is the exact level.
/// The line is traced by the training itself: the late training curve, cut into blocks of consecutive steps, gives
/// (σ², E) pairs of slowly improving states. Its slope, applied to the final measured (E, σ²), removes most of the
/// variational bias; the intercept's error says how far that can be trusted. The spread of one block's energies
/// includes the training's own drift, so its error is the blocks' scatter, not the sampling error of one batch.
module VarianceExtrapolation =

    /// Fits E = E* + a·σ² through blocks of the last `fraction` of a training curve (energy, error, variance per step)
    /// and applies the slope to the final measurement (`energy`, `variance`). None when the curve is too short for
    /// `blocks` blocks of at least 4 steps, or when its variance spans less than 5% of its mean (no lever arm).
    let fromTraining (fraction: float) (blocks: int) (curve: (float * float * float)[]) (energy: Estimate) (variance: float) : ZeroVarianceEnergy option =
        if fraction <= 0.0 || fraction > 1.0 then invalidArg "fraction" (sprintf "fraction %g must be in (0, 1]" fraction)
        if blocks < 3 then invalidArg "blocks" (sprintf "blocks %d must be at least 3 (a line and its χ²)" blocks)
        let tail = curve |> Array.skip (curve.Length - int (fraction * float curve.Length))
        let size = tail.Length / blocks
        if size < 4 || tail |> Array.exists (fun (e, _, v) -> not (Double.IsFinite e && Double.IsFinite v)) then None
        else
            let points =
                Array.init blocks (fun b ->
                    let block = tail.[b * size .. (b + 1) * size - 1]
                    let es = block |> Array.map (fun (e, _, _) -> e)
                    let mean = Array.average es
                    let spread = sqrt ((es |> Array.sumBy (fun e -> (e - mean) ** 2.0)) / float (size - 1))
                    block |> Array.averageBy (fun (_, _, v) -> v), mean, spread / sqrt (float size))
            let xs = points |> Array.map (fun (x, _, _) -> x)
            let lo, hi = Array.min xs, Array.max xs
            if hi - lo < 0.05 * Array.average xs || points |> Array.exists (fun (_, _, s) -> not (s > 0.0)) then None
            else
                // Weighted straight line, centred at the weighted mean σ² so that slope and intercept decouple.
                let w = points |> Array.map (fun (_, _, s) -> 1.0 / (s * s))
                let sw = Array.sum w
                let xbar = Array.fold2 (fun acc wi (x, _, _) -> acc + wi * x) 0.0 w points / sw
                let ybar = Array.fold2 (fun acc wi (_, y, _) -> acc + wi * y) 0.0 w points / sw
                let sxx = Array.fold2 (fun acc wi (x, _, _) -> acc + wi * (x - xbar) ** 2.0) 0.0 w points
                let sxy = Array.fold2 (fun acc wi (x, y, _) -> acc + wi * (x - xbar) * (y - ybar)) 0.0 w points
                let slope = sxy / sxx
                let chi2 = Array.fold2 (fun acc wi (x, y, _) -> acc + wi * (y - ybar - slope * (x - xbar)) ** 2.0) 0.0 w points
                let dof = blocks - 2
                let scale = max 1.0 (chi2 / float dof)
                let slopeError = sqrt (scale / sxx)
                let shifted = energy.Mean - slope * variance
                let error = sqrt (energy.Error ** 2.0 + (slopeError * variance) ** 2.0)
                Some
                    { Energy = Estimate.independent shifted error energy.Samples
                      Slope = Estimate.independent slope slopeError blocks
                      VarianceFrom = lo
                      VarianceTo = hi
                      ChiSquaredPerDof = chi2 / float dof
                      Blocks = blocks }
