// The 1+1D O(3) σ-model on a Hamiltonian lattice: a periodic chain of L quantum rotors nᵢ ∈ S²,
//   H = (g²/2) Σᵢ Lᵢ² − (1/g²) Σᵢ nᵢ·nᵢ₊₁.
// Exact diagonalisation (ED) of the truncated chain gives the singlet ground state E₀ and the lowest l = 1 level E₁,
// whose difference is the finite-volume mass gap m(L) = E₁ − E₀. Variational Monte Carlo (VMC) finds the same two
// states with neural wavefunctions (an O(3)-invariant network for the singlet, an equivariant one for l = 1),
// trained by stochastic reconfiguration (imaginary-time evolution in the network's parameters).
// This script prints E₀, E₁ and the gap from both, and their difference.
//
// Build first (`dotnet fsi build.fsx build`), then from the repository root:
//   dotnet fsi examples/o3-ground-state.fsx          1500 SR steps per state, about 3 minutes (2 idle cores)
//   dotnet fsi examples/o3-ground-state.fsx --toy    30 steps on a tiny network: the code path, not physics
#I "../scripting/bin/Release/net10.0"
#r "TorchSharp.dll"
#r "Deedle.dll"
#r "Hybrid.Core.dll"
#r "Hybrid.Analysis.dll"
#r "Hybrid.Scripting.dll"

open Hybrid.Analysis.Reporting
open Hybrid.Scripting.O3

Hybrid.Runtime.TorchRuntime.EnsureLoaded()   // before anything touches TorchSharp

let toy = fsi.CommandLineArgs |> Array.exists (fun a -> a = "--toy" || a = "toy")

let sites, g2 = 4, 1.0   // chain length L and coupling g²

// Exact diagonalisation in the basis |l m⟩ per site with l ≤ l_max, at the largest l_max that fits in 1 GiB
// (with the shift from l_max − 1 as its truncation error).
let exact = (O3Reference.reference sites g2 O3Reference.memoryLimit).Value
let ed = exact.Levels
printfn "ED at l_max = %d: E0 = %.8f, E1 = %.8f, gap = %.8f (truncation shifts %.1e, %.1e)"
    ed.LMax ed.GroundEnergy ed.ExcitedEnergy ed.Gap (abs exact.GroundShift) (abs exact.GapShift)

// The VMC settings of `o3-gap` (its command-line defaults), and a toy version for CI.
let vmc : VmcSettings =
    { Ansatz = Window(0, (if toy then [ 4 ] else [ 16; 16 ]))  // per-site tanh MLP of the star and a window of min(L, 6) sites
      Optimizer = Sr                          // stochastic reconfiguration (minSR when parameters outnumber samples)
      Steps = (if toy then 30 else 1500)      // optimisation steps per state
      LearningRate = 0.1                      // imaginary-time step η (shrink it like 1/g² at strong coupling)
      DiagonalShift = 1e-3
      Chains = (if toy then 16 else 128)      // independent Metropolis chains on |ψ|²
      SamplesPerChain = 4                     // configurations per chain per step
      Measurements = (if toy then 20 else 400) // configurations per chain in the final measurement (parameters frozen)
      Chunk = None                            // configurations per local-energy evaluation: 512/L within 16..64
      Seed = 1L
      Replica = None                          // a single run: its states sample with --seed itself
      Device = Hybrid.Runtime.ComputeDevice.Auto // CUDA when available
      Moves = Hybrid.Sampling.MoveEvaluation.Local } // single-site moves evaluated from cached site terms

// Both states by VMC (independent chains, so the gap's error is the two errors in quadrature).
let result = O3Levels.gap None sites g2 vmc
printfn "\nO(3) rotor chain, L = %d, g² = %g; ansatz %s, %d SR steps per state\n" sites g2 (AnsatzSpec.describeText vmc.Ansatz) vmc.Steps
printfn "%s" (Table.toMarkdown (O3Gap.table result (Some exact)))

// The check: finite numbers always. At full size, VMC must come within 10⁻³ (relative) of E₀ and 2.5% of the gap,
// five times the targets of the main job (2·10⁻⁴ and 0.5%), and must not undercut E₀ (it is variational) by 5σ.
let e0, gap = result.Ground.Energy, result.Gap
let finite = [ e0.Mean; e0.Error; result.Excited.Energy.Mean; gap.Mean; gap.Error ] |> List.forall System.Double.IsFinite
let e0Relative = (e0.Mean - ed.GroundEnergy) / abs ed.GroundEnergy
let gapRelative = (gap.Mean - ed.Gap) / ed.Gap
printfn "\nE0: %+.1e relative to ED; gap: %+.2f%%" e0Relative (100.0 * gapRelative)
if not finite then
    eprintfn "FAIL: a VMC energy or its error is not finite"
    exit 1
if not toy && (abs e0Relative > 1e-3 || abs gapRelative > 0.025 || e0.Mean < ed.GroundEnergy - 5.0 * e0.Error) then
    eprintfn "FAIL: VMC is too far from exact diagonalisation"
    exit 1
