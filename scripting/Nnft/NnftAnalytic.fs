namespace Hybrid.Scripting.Nnft

open Hybrid.Analysis.Nnft
open Hybrid.Nnft

/// The formulas (analysis: SingleLayerKernels, CosNetKernels) for a declared network: the infinite-width kernel and,
/// where a closed form exists, the O(1/N) connected 4-point function.
module NnftAnalytic =

    let private activation (a: NetworkActivation) =
        match a with
        | NetworkActivation.Erf -> Erf
        | NetworkActivation.Relu -> Relu
        | NetworkActivation.Gauss -> Gauss
        | _ -> Exp

    /// The Gaussian-process kernel K(x, y), where the architecture has one (every architecture here does).
    let kernel (spec: NetworkSpec) (x: float[]) (y: float[]) : float option =
        match spec with
        | SingleLayer(a, d, _, w, b) -> Some(SingleLayerKernels.kernel { Activation = activation a; InputDimension = d; SigmaW = w; SigmaB = b } x y)
        | Deep((NetworkActivation.Erf | NetworkActivation.Relu | NetworkActivation.Exp) as a, d, widths, w, b) ->
            Some(SingleLayerKernels.deepKernel (activation a) widths.Length d w b x y)
        | Deep _ -> None
        | Cos(d, _, m, l) -> Some(CosNetKernels.cosKernel { InputDimension = d; Mass = m; Cutoff = l } x y)

    /// The connected 4-point function, exactly O(1/N) for one hidden layer (closed form for Gauss-, Exp- and
    /// Cos-nets; erf and ReLU by controlled numerical integration), None for deep networks.
    let connectedFourPoint (spec: NetworkSpec) (xs: float[][]) : float option =
        match spec with
        | SingleLayer(a, d, n, w, b) ->
            Some(SingleLayerKernels.fourPointConnected { Activation = activation a; InputDimension = d; SigmaW = w; SigmaB = b } n xs)
        | Cos(d, n, m, l) -> Some(CosNetKernels.cosFourPointConnected { InputDimension = d; Mass = m; Cutoff = l } n xs)
        | _ -> None

    /// The analytic values under the names of nnft-correlators: G2_i_j (i ≤ j) and G4c at the reported indices.
    let values (spec: NetworkSpec) (points: float[][]) : (string * float) list =
        let p = points.Length
        let q = NnftStudy.reportedIndices p 4
        [ for i in 0 .. p - 1 do
              for j in i .. p - 1 do
                  match kernel spec points.[i] points.[j] with
                  | Some k -> yield sprintf "G2_%d_%d" i j, k
                  | None -> ()
          match connectedFourPoint spec (q |> Array.map (fun k -> points.[k])) with
          | Some g -> yield "G4c", g
          | None -> () ]
