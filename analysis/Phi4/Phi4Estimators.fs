namespace Hybrid.Analysis.Phi4

open Hybrid.Analysis.Statistics
open Hybrid.Analysis.Correlators

/// Estimators for the observables of two-dimensional lattice φ⁴ theory (docs/phi4.md) from
/// per-measurement series given as replicas ([r].[i], Monte Carlo order). The magnetisation is
/// the extensive M = Σ_x φ_x of each configuration; `volume` is V = L² (number of sites).
[<RequireQualifiedAccess>]
module Phi4Estimators =

    let private perSite (volume: int) =
        if volume <= 0 then invalidArg "volume" "The lattice volume must be positive."
        float volume

    let private mapSamples (g: float -> float) (replicas: float[][]) = replicas |> Array.map (Array.map g)

    /// Two-point susceptibility χ₂ = ⟨M²⟩/V (no ⟨M⟩² subtracted: ⟨φ⟩ = 0 on a finite lattice by
    /// the Z₂ symmetry), Γ-method error.
    let susceptibility (volume: int) (magnetization: float[][]) : Estimate =
        let v = perSite volume
        GammaMethod.analyze (mapSamples (fun m -> m * m / v) magnetization)

    /// Absolute magnetisation per site ⟨|M|⟩/V, Γ-method error.
    let absMagnetization (volume: int) (magnetization: float[][]) : Estimate =
        let v = perSite volume
        GammaMethod.analyze (mapSamples (fun m -> abs m / v) magnetization)

    /// Binder cumulant U₄ = 1 − ⟨M⁴⟩/(3⟨M²⟩²), a derived quantity of the primaries M² and M⁴
    /// (error by GammaMethod.derived). U₄ = 0 for Gaussian M (disordered phase, free field) and
    /// 2/3 for M = ±const (ordered phase). Independent of the volume.
    let binder (magnetization: float[][]) : Estimate =
        let m2 = mapSamples (fun m -> m * m) magnetization
        let m4 = mapSamples (fun m -> m * m * m * m) magnetization
        GammaMethod.derived (fun means -> 1.0 - means.[1] / (3.0 * means.[0] * means.[0])) [| m2; m4 |]

    /// Ising energy E = (1/d) Σ_μ G_c(μ̂) from its per-configuration values, Γ-method error.
    let isingEnergy (energy: float[][]) : Estimate = GammaMethod.analyze energy
