namespace Hybrid.Analysis.O3

open System
open MathNet.Numerics.LinearAlgebra
open Hybrid.Analysis.Statistics

/// A smooth c²(g²) = 1 − g²/π + Σ_k κ_k g^{2k} fitted to measured c² of the infinite chain.
type SpeedOfLightFit =
    { /// κ₂, κ₃, … (the coefficients of g⁴, g⁶, …).
      Coefficients: float[]
      Covariance: float[,]
      ChiSquared: float
      DegreesOfFreedom: int
      /// The range of g² that the data cover.
      From: float
      To: float }

/// The renormalised speed of light of the rotor chain: the one-loop value, the strong-coupling limit, and a smooth
/// fit through measured values. c is the ratio of the spatial to the temporal stiffness: at one loop the spatial bond
/// loses ⟨1 − cos δθ⟩ = g²/π to the transverse fluctuations of neighbouring sites (∫dk/2π |k̂|/2 with k̂ = 2 sin(k/2))
/// while the continuous time direction loses nothing, so c² = 1 − g²/π + O(g⁴); at strong coupling the one-particle
/// band g² − (2/(3g²)) cos k gives E(k)² = const + (2/3) k̂², c² = 2/3.
module SpeedOfLight =

    /// 1 − g²/π.
    let oneLoop (g2: float) = 1.0 - g2 / Math.PI

    /// The strong-coupling limit 2/3.
    let strongCoupling = 2.0 / 3.0

    /// The finite-volume diagnostic (not the infinite chain's c): on a chain of L sites,
    /// c² = (ε(p)² − ε(0)²)/p̂² at p = 2π/L, p̂ = 2 sin(p/2), from E₀, E₁(p = 0) and E₁(p), errors propagated from the
    /// three independent energies (ε = E − E₀ share E₀, which the propagation keeps). The lattice momentum p̂ because
    /// a free field on the Hamiltonian chain has ω² = m² + p̂² exactly: dividing by p² instead would read that tree-level
    /// lattice artefact (9% at p = 2π/6) as a renormalised speed of light.
    let finiteVolume (sites: int) (e0: Estimate) (e1: Estimate) (ep: Estimate) =
        let p = 2.0 * Math.Sin(Math.PI / float sites)
        let epsP, eps0 = ep.Mean - e0.Mean, e1.Mean - e0.Mean
        let c2 = (epsP * epsP - eps0 * eps0) / (p * p)
        let dP, d1, d0 = 2.0 * epsP / (p * p), -2.0 * eps0 / (p * p), 2.0 * (eps0 - epsP) / (p * p)
        Estimate.independent c2 (sqrt ((dP * ep.Error) ** 2.0 + (d1 * e1.Error) ** 2.0 + (d0 * e0.Error) ** 2.0)) e0.Samples

    /// Weighted least squares of c² − (1 − g²/π) = Σ_{k=2}^{order+1} κ_k g^{2k} over measured (g², c²) points.
    let fit (order: int) (points: (float * Estimate) list) : SpeedOfLightFit =
        if order < 1 then invalidArg "order" "at least one coefficient (κ₂)"
        if points.Length < order then invalidArg "points" (sprintf "%d coefficients need at least %d points" order order)
        let rows = points |> List.map (fun (g2, e) -> Array.init order (fun k -> g2 ** float (k + 2) / e.Error), (e.Mean - oneLoop g2) / e.Error) |> Array.ofList
        let a = Matrix<float>.Build.DenseOfRowArrays(rows |> Array.map fst)
        let b = Vector<float>.Build.DenseOfArray(rows |> Array.map snd)
        let covariance = (a.TransposeThisAndMultiply a).Inverse()
        let c = covariance * (a.TransposeThisAndMultiply b)
        let residual = a * c - b
        let g2s = points |> List.map fst
        { Coefficients = c.ToArray(); Covariance = covariance.ToArray(); ChiSquared = residual * residual
          DegreesOfFreedom = points.Length - order; From = List.min g2s; To = List.max g2s }

    /// c²(g²) from a fit, with its error from the fit's covariance.
    let evaluate (f: SpeedOfLightFit) (g2: float) : Estimate =
        let basis = Array.init f.Coefficients.Length (fun k -> g2 ** float (k + 2))
        let value = oneLoop g2 + Array.fold2 (fun acc c b -> acc + c * b) 0.0 f.Coefficients basis
        let mutable variance = 0.0
        for i in 0 .. basis.Length - 1 do
            for j in 0 .. basis.Length - 1 do
                variance <- variance + basis.[i] * f.Covariance.[i, j] * basis.[j]
        Estimate.independent value (sqrt variance) (f.DegreesOfFreedom + f.Coefficients.Length)
