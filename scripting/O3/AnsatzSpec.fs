namespace Hybrid.Scripting.O3

open System
open Hybrid.O3
open Hybrid.Vmc

/// Which state of the rotor chain a wavefunction describes.
type RotorState =
    /// The singlet ground state (nodeless).
    | Ground
    /// The lowest l = 1 state at zero momentum (ẑ·V with V an equivariant vector; it has nodes).
    | Isovector
    /// The lowest l = 1 state at momentum p = 2πk/L, k ≥ 1 (a standing wave of ±p), for the dispersion.
    | Moving of k: int

/// A variational wavefunction of the O(3) rotor chain, declared as data over the core's definitions:
/// `AnsatzSpec.Jastrow`, `Mlp [ 16; 16 ]`, `Window(4, [ 16; 16 ])`, `Messages(1, [ 16; 16; 16 ])`.
type AnsatzSpec =
    /// The two-body Jastrow form ln ψ = Σ_r v_r Σ_i n_i·n_{i+r}, r ≤ ⌊L/2⌋.
    | Jastrow
    /// A per-site tanh MLP of the site's star n_i·n_{i+r}, r ≤ ⌊L/2⌋, with the Jastrow form as a skip.
    | Mlp of hidden: int list
    /// A per-site tanh MLP of the star together with the Gram matrix of a window of consecutive sites: many-body
    /// correlations at short distance. Width 0 means min(L, 6) on each chain.
    | Window of width: int * hidden: int list
    /// A message-passing network over the chain: the first hidden layer embeds each site's star, every further one
    /// mixes the embeddings of the sites i − range … i + range (one weight block per offset), then a per-site readout
    /// with the Jastrow skip. Each round adds correlations between sites' stars that no per-site function has.
    | Messages of range: int * hidden: int list

/// Declaring, naming and building rotor-chain wavefunctions.
module AnsatzSpec =

    /// The ansatz names the command line accepts.
    let names = [ "jastrow"; "mlp"; "window"; "mp" ]

    /// The short name.
    let name spec =
        match spec with
        | Jastrow -> "jastrow"
        | Mlp _ -> "mlp"
        | Window _ -> "window"
        | Messages _ -> "mp"

    /// The hidden widths (empty for Jastrow).
    let hidden spec =
        match spec with
        | Jastrow -> []
        | Mlp h | Window(_, h) | Messages(_, h) -> h

    /// The message range R (0 for the per-site networks).
    let messageRange spec =
        match spec with
        | Messages(r, _) -> r
        | _ -> 0

    /// The pair invariants each site reads on a chain of `sites`.
    let features (sites: int) spec : PairFeatures =
        match spec with
        | Jastrow | Mlp _ | Messages _ -> RotorChain.StarFeatures sites
        | Window(width, _) -> PairFeatures.StarAndWindow(RotorChain.InvariantRange sites, (if width = 0 then min sites 6 else width))

    /// The wavefunction of `state` on a chain of `sites`; raises ArgumentException naming a bad value.
    let build (sites: int) (seed: int64) (state: RotorState) spec : IRotorWavefunction =
        let f = features sites spec
        let h = List.toArray (hidden spec)
        let r = messageRange spec
        match state with
        | Ground -> upcast new SingletWavefunction(sites, h, seed, f, r)
        | Isovector -> upcast new IsovectorWavefunction(sites, h, seed, f, 0, r)
        | Moving k -> upcast new IsovectorWavefunction(sites, h, seed, f, k, r)

    /// A readable description, e.g. "window 4, hidden 16,16".
    let describeText spec =
        let h = match hidden spec with [] -> "" | hs -> sprintf ", hidden %s" (hs |> List.map string |> String.concat ",")
        match spec with
        | Window(0, _) -> sprintf "window min(L, 6)%s" h
        | Window(w, _) -> sprintf "window %d%s" w h
        | Messages(r, _) -> sprintf "message passing, range %d%s" r h
        | _ -> name spec + h

    /// The spec as JSON (config.json).
    let describe spec =
        // "messages" only where there are some, so the stamps of kept points and checkpoints of the other ansätze
        // read as before it existed.
        Hybrid.Scripting.Pipeline.Json.object
            [ yield "kind", Hybrid.Scripting.Pipeline.Json.text (name spec)
              yield "hidden", Hybrid.Scripting.Pipeline.Json.numbers (hidden spec |> List.map float)
              yield "window", (match spec with Window(w, _) -> Hybrid.Scripting.Pipeline.Json.integer (int64 w) | _ -> null)
              match spec with
              | Messages(r, _) -> yield "messages", Hybrid.Scripting.Pipeline.Json.integer (int64 r)
              | _ -> () ]

/// Names of the states on the command line.
module RotorState =

    /// "ground", "l1" or "l1-k1", …
    let name state =
        match state with
        | Ground -> "ground"
        | Isovector -> "l1"
        | Moving k -> sprintf "l1-k%d" k
