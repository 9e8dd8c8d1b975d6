// Neural-network field theory: an ensemble of random networks φ(x) = Σᵢ W₁ᵢ σ(W₀ᵢ x + b₀ᵢ) + b₁ is a field theory.
// Its two-point function G₂(x, y) = E[φ(x) φ(y)] is the Gaussian-process (infinite-width) kernel K(x, y) at any width
// for one hidden layer; the width N shows in the connected four-point function, G₄c = O(1/N).
// This script draws the networks, estimates G₂ at a few points and G₄c, and prints the pull (MC − formula)/σ of each.
//
// Build first (`dotnet fsi build.fsx build`), then from the repository root:
//   dotnet fsi examples/nnft-kernel-check.fsx          4·10⁶ networks, under a minute
//   dotnet fsi examples/nnft-kernel-check.fsx --toy    2·10⁴ networks: the code path, not physics
// Edit the network, the points and the ensemble below.
#I "../scripting/bin/Release/net10.0"
#r "TorchSharp.dll"
#r "Hybrid.Core.dll"
#r "Hybrid.Analysis.dll"
#r "Hybrid.Scripting.dll"

open Hybrid.Nnft
open Hybrid.Scripting.Nnft

Hybrid.Runtime.TorchRuntime.EnsureLoaded()   // before anything touches TorchSharp

let toy = fsi.CommandLineArgs |> Array.exists (fun a -> a = "--toy" || a = "toy")

// The Gauss-net of Halverson, Maiti and Stoner (arXiv:2008.08601): σ(z) = exp(−z²/2), input dimension d = 1,
// width N = 8, weights W ~ N(0, σ_W²/fan-in) with σ_W = 0.6, biases b ~ N(0, σ_b²) with σ_b = 0.3.
// Others: NetworkSpec.erf, .relu, .exp, .cos (free scalar from plane waves), .deep (several hidden layers).
let network = NetworkSpec.gauss 1 8 0.6 0.3
let points = [| [| -0.3 |]; [| 0.0 |]; [| 0.2 |]; [| 0.5 |] |]   // each point has d coordinates

// Networks are drawn in chunks; the errors come from the jackknife over blocks of networks.
let ensembleOptions = EnsembleOptions(Networks = (if toy then 20_000L else 4_000_000L), Blocks = (if toy then 16 else 64), MaxOrder = 4)
let config = { NnftCorrelators.defaults with Network = network; Points = points; Ensemble = ensembleOptions; Seed = 2024L }

// Draw the ensemble (no checkpoint file) and analyse its block sums: G₂ for every pair of points, G₄ and G₄c,
// beside the formulas (the GP kernel for G₂, the O(1/N) expression for G₄c).
let ensemble = NnftCorrelators.ensemble config TorchSharp.torch.CPU
let sums, seconds = NnftStudy.run "networks" ensemble None false
let result = NnftCorrelators.analyse config (NnftStudy.blockSums sums) seconds

printfn "\n%s, N = %d: %d networks in %.1f s\n" (NetworkSpec.name network) (NetworkSpec.width network) ensembleOptions.Networks seconds
printfn "%-28s %-22s %-14s %s" "observable" "Monte Carlo" "formula" "pull"
let pulls =
    [ for name, e in result.Observables do
          let label = NnftStudy.describe name |> Option.defaultValue name
          match List.tryFind (fst >> (=) name) result.Analytic with
          | Some(_, exact) ->
              let pull = (e.Estimate.Mean - exact) / e.Estimate.Error
              printfn "%-28s %-22s %-14.6g %+.2f" label (NnftStudy.formatWithWarning e) exact pull
              yield name, e.Estimate.Mean, pull
          | None -> printfn "%-28s %-22s %-14s" label (NnftStudy.formatWithWarning e) "—" ]

// The check: finite numbers always; at full size every pull within 5σ.
let allFinite = pulls |> List.forall (fun (_, mean, pull) -> System.Double.IsFinite mean && System.Double.IsFinite pull)
let worst = pulls |> List.map (fun (_, _, p) -> abs p) |> List.max
printfn "\nlargest |pull| %.2f over %d comparisons" worst pulls.Length
if not allFinite then
    eprintfn "FAIL: a correlator or its error is not finite"
    exit 1
if not toy && worst > 5.0 then
    eprintfn "FAIL: a correlator is %.1fσ from its formula" worst
    exit 1
