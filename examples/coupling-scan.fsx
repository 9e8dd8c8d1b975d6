// A short study composed in F#: χ₂, U₄ and ξ across couplings at L = 8, m² = −4, without run directories.
// Build first (`dotnet fsi build.fsx build`), then from the repository root: `dotnet fsi examples/coupling-scan.fsx`
// (`--toy`: two couplings, 4 chains of 100 trajectories after 50 of thermalisation — the code path, not physics).
#I "../scripting/bin/Release/net10.0"
#r "TorchSharp.dll"
#r "Deedle.dll"
#r "Hybrid.Core.dll"
#r "Hybrid.Analysis.dll"
#r "Hybrid.Scripting.dll"

open Deedle
open Hybrid.Analysis.Reporting
open Hybrid.Lattice
open Hybrid.Phi4
open Hybrid.Scripting.Pipeline
open Hybrid.Scripting.Phi4

Hybrid.Runtime.TorchRuntime.EnsureLoaded()

let toy = fsi.CommandLineArgs |> Array.exists (fun a -> a = "--toy" || a = "toy")

let study lambda =
    let config = { Phi4Hmc.defaults with Couplings = Phi4Parameters.FromMass(-4.0, lambda); Chains = 16; Trajectories = 1000 }
    let config = if toy then { config with Chains = 4; Thermalization = 50; Trajectories = 100 } else config
    let result = Phi4Hmc.sample config |> Phi4Hmc.analyse config
    let get name = result.Observables |> List.find (fst >> (=) name) |> snd
    lambda, [ "chi2", get "chi2"; "binder", get "binder"; "xi", get "xi" ]

let rows = [ for lambda in (if toy then [ 6.008; 8.0 ] else [ 4.0; 6.008; 8.0; 12.0 ]) -> study lambda ]
let frame =
    rows
    |> List.map (fun (lambda, estimates) -> lambda, estimates |> List.map (fun (n, e) -> n, box e) |> Series.ofObservations)
    |> Frame.ofRows
printfn "%s" (Table.toMarkdown frame)
