// Neural-network quantum mechanics: a stationary, reflection-positive stochastic process is a quantum system, and
// its Euclidean two-point function G(t) = ⟨y(t) y(0)⟩ = Σₙ |⟨0|y|n⟩|² e^{−(Eₙ − E₀)t} (Källén–Lehmann) holds its spectrum.
// The Ornstein–Uhlenbeck process is the position x(τ) of the harmonic oscillator in its ground state: one state,
// gap ω, weight 1/(2ω). Its image z = erf(u) (u = x·√(2ω) standardised), the simplest deep NN-QM, has gaps ω, 3ω, 5ω, …
// This script samples paths, reads the spectrum off both correlators (effective mass and a correlated
// multi-exponential fit) and prints the pull (fit − exact)/σ of each gap.
//
// Build first (`dotnet fsi build.fsx build`), then from the repository root:
//   dotnet fsi examples/nnqm-spectrum-fit.fsx          8000 paths, under a minute
//   dotnet fsi examples/nnqm-spectrum-fit.fsx --toy    500 paths: the code path, not physics
#I "../scripting/bin/Release/net10.0"
#r "TorchSharp.dll"
#r "Hybrid.Core.dll"
#r "Hybrid.Analysis.dll"
#r "Hybrid.Scripting.dll"

open Hybrid.Analysis.Correlators
open Hybrid.Analysis.Statistics
open Hybrid.Analysis.Nnqm
open Hybrid.Nnqm

Hybrid.Runtime.TorchRuntime.EnsureLoaded()   // before anything touches TorchSharp

let toy = fsi.CommandLineArgs |> Array.exists (fun a -> a = "--toy" || a = "toy")

let omega = 1.0                          // the oscillator's frequency ω
let paths = if toy then 500 else 8000    // independent stationary paths
let dt, length, fitUntil = 0.1, 20.0, 3.0 // time step, path length T, last lag fitted
let steps = int (length / dt) + 1
let lags = int (fitUntil / dt)

// Exact sampling of the process (no time-step error): a [paths, steps] tensor in float64.
let ou = OrnsteinUhlenbeck(omega)
let generator = new TorchSharp.torch.Generator(2024UL)
let x = ou.Sample(int64 paths, steps, dt, generator)
let z = x.mul(TorchSharp.Scalar.op_Implicit (sqrt (2.0 * omega))).erf()

/// Correlator per path (averaged over time origins, errors from the spread over paths), then the Källén–Lehmann fit
/// with `states` states over the lags Δt … fitUntil; priors come from the data's own effective mass, never from ω.
let spectrum (observable: TorchSharp.torch.Tensor) (states: int) =
    let values = observable.data<float>().ToArray()
    PathCorrelators.fitSpectrum values paths steps dt lags states false

let report (name: string) (states: int) (exactGaps: float list) (observable: TorchSharp.torch.Tensor) =
    let times, data, fit = spectrum observable states
    let mEff = Correlator.effectiveMassWith Open data.Values |> Array.map (fun m -> m / dt)
    printfn "\n%s: %d-state fit, χ²/dof = %.2f%s" name states fit.Fit.ChiSquaredPerDof (match fit.Warning with Some w -> " (" + w + ")" | None -> "")
    printfn "  effective mass ln[G(t)/G(t+Δt)]/Δt at t = %s" (String.concat ", " [ for i in [ 0; 4; 9; 19 ] -> sprintf "%g: %.4f" times.[i] mEff.[i] ])
    [ for n, exact in List.indexed exactGaps do
          let e = fit.Energies.[n]
          let pull = (e.Mean - exact) / e.Error
          printfn "  E%d − E0 = %-16s exact %-8g pull %+.2f   weight %s" (n + 1) (Estimate.format e) exact pull (Estimate.format fit.Amplitudes.[n])
          yield pull ]

printfn "%d paths of length %g, Δt = %g, fitted lags %g … %g" paths length dt dt fitUntil
// The oscillator: one state at ω with weight ⟨0|x|1⟩² = 1/(2ω) = the process's variance.
let oscillator = report "harmonic oscillator, y = x" 1 [ ou.Omega ] x
printfn "  exact weight 1/(2ω) = %g" ou.Variance
// erf is odd: z connects |0⟩ to the odd levels of the oscillator, ω and 3ω; only the lowest is checked (the fit
// starts at Δt, where 5ω still contributes to the second).
let erfPulls = report "deep NN-QM, z = erf(u)" 2 [ omega; 3.0 * omega ] z
let checks = oscillator @ [ erfPulls.Head ]

if not (checks |> List.forall System.Double.IsFinite) then
    eprintfn "FAIL: a fitted gap or its error is not finite"
    exit 1
let worst = checks |> List.map abs |> List.max
printfn "\nlargest |pull| of the checked gaps: %.2f" worst
if not toy && worst > 5.0 then
    eprintfn "FAIL: a gap is %.1fσ from the exact value" worst
    exit 1
