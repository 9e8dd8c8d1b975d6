namespace Hybrid.Analysis.Nnqm

open System.Collections.Generic

/// Exact values of a one-dimensional quantum system from its spectrum and position matrix elements (the energies
/// E₀ ≤ E₁ ≤ … and ⟨0|x|n⟩ of an exact diagonalisation, e.g. core's `AnharmonicOscillator`): the Källén–Lehmann gaps
/// and weights of ⟨x(t) x(0)⟩, the Thomas–Reiche–Kuhn kink, Δx Δp, and the connected four-point function. The
/// references of every NN-QM experiment with a known Hamiltonian; the inputs are plain lists, so no tensors here.
[<RequireQualifiedAccess>]
module SpectralSums =

    /// The levels to diagonalise for these references with `states` fitted states: 41, far more than the
    /// Thomas–Reiche–Kuhn sum (odd levels up to 39), the four-point function and the fitted states need.
    let levels (states: int) = max 41 (2 * states + 2)

    /// The gaps Eₙ − E₀ and weights |⟨0|x|n⟩|² of the lowest `states` odd levels n = 1, 3, 5, …: for an even potential
    /// x is odd and connects |0⟩ to the odd levels only.
    let oddSpectrum (energies: IReadOnlyList<float>) (positionElements: IReadOnlyList<float>) (states: int) =
        Array.init states (fun m -> energies.[2 * m + 1] - energies.[0]),
        Array.init states (fun m -> positionElements.[2 * m + 1] ** 2.0)

    /// The kink −[G′(0⁺) − G′(0⁻)] = 2 Σₙ (Eₙ − E₀)|⟨0|x|n⟩|² (the Thomas–Reiche–Kuhn sum: 1 for [x, p] = i) and
    /// Δx Δp = √(Σₙ |⟨0|x|n⟩|² · Σₙ (Eₙ − E₀)² |⟨0|x|n⟩|²), summed over the odd levels 1 … 39 (diagonalise `levels`).
    let kinkAndUncertainty (energies: IReadOnlyList<float>) (positionElements: IReadOnlyList<float>) =
        let odd = [ 1 .. 2 .. 39 ]
        let term power = odd |> List.sumBy (fun n -> (energies.[n] - energies.[0]) ** power * positionElements.[n] ** 2.0)
        2.0 * term 1.0, sqrt (term 0.0 * term 2.0)

    /// G₄c(0, τ, 2τ, 3τ) = ⟨x x x x⟩ minus its three pairings, from the exact Euclidean correlator
    /// ⟨0|x e^{−H̃s₁} x … e^{−H̃sₖ} x|0⟩ at the separations s (e.g. `AnharmonicOscillator.EuclideanCorrelator`).
    let connectedFourPoint (correlator: float[] -> float) (tau: float) =
        let g2 (t: float) = correlator [| t |]
        correlator [| tau; tau; tau |] - g2 tau ** 2.0 - g2 (2.0 * tau) ** 2.0 - g2 (3.0 * tau) * g2 tau
