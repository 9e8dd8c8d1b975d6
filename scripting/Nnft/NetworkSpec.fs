namespace Hybrid.Scripting.Nnft

open Hybrid.Nnft

/// A random-network architecture with its parameter distribution, declared as data over the core's definitions:
/// `NetworkSpec.gauss 1 8 0.6 0.3`, `NetworkSpec.cos 1 4 1.0 None`, `NetworkSpec.deep Erf 1 [ 16; 16 ] 1.0 0.1`.
type NetworkSpec =
    /// One hidden layer (Halverson, Maiti, Stoner): activation, input dimension d, width N, σ_W, σ_b.
    | SingleLayer of activation: NetworkActivation * d: int * width: int * sigmaW: float * sigmaB: float
    /// Several hidden layers of the given widths.
    | Deep of activation: NetworkActivation * d: int * widths: int list * sigmaW: float * sigmaB: float
    /// A free scalar of mass m from random plane waves, with momentum cutoff Λ (None: d = 1 without cutoff).
    | Cos of d: int * width: int * mass: float * cutoff: float option

/// Declaring, naming and building network ensembles.
module NetworkSpec =

    let gauss d width sigmaW sigmaB = SingleLayer(NetworkActivation.Gauss, d, width, sigmaW, sigmaB)
    let erf d width sigmaW sigmaB = SingleLayer(NetworkActivation.Erf, d, width, sigmaW, sigmaB)
    let relu d width sigmaW sigmaB = SingleLayer(NetworkActivation.Relu, d, width, sigmaW, sigmaB)
    let exp d width sigmaW sigmaB = SingleLayer(NetworkActivation.Exp, d, width, sigmaW, sigmaB)
    let cos d width mass cutoff = Cos(d, width, mass, cutoff)
    let deep activation d widths sigmaW sigmaB = Deep(activation, d, widths, sigmaW, sigmaB)

    /// The same architecture at width N (every hidden layer of a deep network).
    let withWidth (n: int) spec =
        match spec with
        | SingleLayer(a, d, _, w, b) -> SingleLayer(a, d, n, w, b)
        | Deep(a, d, widths, w, b) -> Deep(a, d, widths |> List.map (fun _ -> n), w, b)
        | Cos(d, _, m, l) -> Cos(d, n, m, l)

    /// The width N (of the last hidden layer).
    let width spec =
        match spec with
        | SingleLayer(_, _, n, _, _) | Cos(_, n, _, _) -> n
        | Deep(_, _, widths, _, _) -> List.last widths

    /// The input dimension d.
    let dimension spec =
        match spec with
        | SingleLayer(_, d, _, _, _) | Deep(_, d, _, _, _) | Cos(d, _, _, _) -> d

    /// The core's architecture; raises ArgumentException naming a bad value.
    /// Quadrature panels per dimension for integrals of a network's field over a box of side `box`: as given, or one
    /// per π/(2Λ) of a cos-net's cutoff Λ (at least 2 per unit length otherwise).
    let quadraturePanels (network: NetworkSpec) (box: float) (given: int) =
        if given > 0 then given
        else
            match network with
            | Cos(_, _, _, Some cutoff) -> max 2 (int (ceil (box * cutoff * 2.0 / System.Math.PI)))
            | _ -> max 2 (int (ceil (2.0 * box)))

    let build spec : INetworkArchitecture =
        match spec with
        | SingleLayer(a, d, n, w, b) -> SingleLayerNetwork(a, d, n, w, b)
        | Deep(a, d, widths, w, b) -> DeepNetwork(a, d, widths, w, b)
        | Cos(d, n, m, l) -> CosNetwork(d, n, m, Option.toNullable l)

    /// The short name ("gauss", "deep-erf", "cos", …).
    let name spec = (build spec).Kind

    /// The architecture as JSON (config.json, checkpoints).
    let describe spec = (build spec).Describe()

    /// The spec back from its JSON (`describe`), as config.json records it; raises ArgumentException for other JSON.
    let ofJson (json: string) : NetworkSpec =
        let o = System.Text.Json.Nodes.JsonNode.Parse(json).AsObject()
        let get (name: string) = match o.[name] with null -> invalidArg "json" (sprintf "the network has no '%s'" name) | v -> v
        let number name = (get name).GetValue<float>()
        let integer name = (get name).GetValue<int>()
        let single a = SingleLayer(a, integer "d", integer "width", number "sigma_w", number "sigma_b")
        let deep a = Deep(a, integer "d", [ for w in (get "widths").AsArray() -> w.GetValue<int>() ], number "sigma_w", number "sigma_b")
        match (get "kind").GetValue<string>() with
        | "gauss" -> single NetworkActivation.Gauss
        | "erf" -> single NetworkActivation.Erf
        | "relu" -> single NetworkActivation.Relu
        | "exp" -> single NetworkActivation.Exp
        | "deep-erf" -> deep NetworkActivation.Erf
        | "deep-relu" -> deep NetworkActivation.Relu
        | "deep-exp" -> deep NetworkActivation.Exp
        | "cos" -> Cos(integer "d", integer "width", number "mass", (match o.["cutoff"] with null -> None | v -> Some(v.GetValue<float>())))
        | other -> invalidArg "json" (sprintf "network kind '%s' is not known" other)
