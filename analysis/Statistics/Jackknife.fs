namespace Hybrid.Analysis.Statistics

/// The delete-one (block) jackknife: the error of a statistic from its values with one block left out at a time.
[<RequireQualifiedAccess>]
module Jackknife =

    /// The jackknife error √((g − 1)/g · Σ_b (θ_b − θ̄)²) from g leave-one-block-out values θ_b (g ≥ 2).
    let errorOf (leaveOneOut: float[]) : float =
        let g = leaveOneOut.Length
        if g < 2 then invalidArg "leaveOneOut" (sprintf "%d leave-one-out values is too few for a jackknife; give at least 2" g)
        let mean = Array.average leaveOneOut
        sqrt (float (g - 1) / float g * Array.sumBy (fun v -> (v - mean) ** 2.0) leaveOneOut)

    /// The estimate of a statistic with value `value` on all the data and `leaveOneOut` on the data without each block,
    /// from `samples` measurements in all.
    let estimate (value: float) (leaveOneOut: float[]) (samples: int) : Estimate =
        Estimate.independent value (errorOf leaveOneOut) samples
