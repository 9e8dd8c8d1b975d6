/// Synthetic data with exactly known statistics, reproducible from a seed.
module Hybrid.Analysis.Tests.Synthetic

open System

/// Standard normal draws by Box–Muller on System.Random(seed) (stable across .NET versions).
type Gaussian(seed: int) =
    let random = Random(seed)
    let mutable spare = nan

    member _.Next() : float =
        if not (Double.IsNaN spare) then
            let z = spare
            spare <- nan
            z
        else
            // 1 − NextDouble() lies in (0, 1], so the logarithm is finite.
            let u1 = 1.0 - random.NextDouble()
            let u2 = random.NextDouble()
            let radius = sqrt (-2.0 * log u1)
            spare <- radius * sin (2.0 * Math.PI * u2)
            radius * cos (2.0 * Math.PI * u2)

    member this.Draw(n: int) : float[] = Array.init n (fun _ -> this.Next())

/// AR(1) chain x_{i+1} = ρ x_i + √(1−ρ²) ξ_i with unit stationary variance, started from the
/// stationary distribution (no thermalisation needed).
let ar1 (gaussian: Gaussian) (rho: float) (length: int) : float[] =
    let chain = Array.zeroCreate length
    let kick = sqrt (1.0 - rho * rho)
    if length > 0 then chain.[0] <- gaussian.Next()
    for i in 1 .. length - 1 do
        chain.[i] <- rho * chain.[i - 1] + kick * gaussian.Next()
    chain

/// The autocorrelation used throughout: ρ = e^{−1/20}.
let rho20 = exp (-1.0 / 20.0)

/// Exact τ_int = ½ (1+ρ)/(1−ρ) of the AR(1) process (≈ 20.0 for ρ = e^{−1/20}).
let exactTauInt (rho: float) = 0.5 * (1.0 + rho) / (1.0 - rho)

/// Exact variance of the mean of one unit-variance AR(1) chain of length n:
/// (1/n)[1 + 2 Σ_{k=1}^{n−1} (1 − k/n) ρ^k] (→ 2τ_int/n for n ≫ τ_int).
let ar1MeanVariance (rho: float) (n: int) =
    let mutable sum = 1.0
    let mutable power = 1.0
    for k in 1 .. n - 1 do
        power <- power * rho
        sum <- sum + 2.0 * (1.0 - float k / float n) * power
    sum / float n

/// Exact standard error of the global mean of independent AR(1) replicas of the given lengths:
/// the mean is Σ_r N_r x̄_r / N, so its variance is Σ_r N_r² Var(x̄_r) / N².
let ar1StandardError (rho: float) (lengths: int[]) =
    let n = float (Array.sum lengths)
    sqrt ((lengths |> Array.sumBy (fun l -> float l * float l * ar1MeanVariance rho l)) / (n * n))

/// Wolff's (and pyerrors') estimate of the statistical error of an error: σ √((W + ½)/N).
let errorOfError (estimate: Hybrid.Analysis.Statistics.Estimate) =
    estimate.Error * sqrt ((float estimate.Window + 0.5) / float estimate.Samples)

/// Mean and standard deviation (n − 1 normalisation).
let meanAndSd (values: float[]) =
    let mean = Array.average values
    mean, sqrt ((values |> Array.sumBy (fun v -> (v - mean) * (v - mean))) / float (values.Length - 1))
