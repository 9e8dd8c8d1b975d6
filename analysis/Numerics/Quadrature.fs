namespace Hybrid.Analysis.Numerics

open System
open System.Collections.Concurrent
open MathNet.Numerics

/// Gauss–Legendre quadrature: single panels, composite rules on a mesh or a box, and a globally adaptive rule for
/// integrands that are analytic on the interval but have singularities just outside it.
[<RequireQualifiedAccess>]
module Quadrature =

    let private rules = ConcurrentDictionary<int, float[] * float[]>()

    /// The n-point Gauss–Legendre rule on [−1, 1] (abscissas, weights), exact for polynomials of degree 2n − 1.
    let gaussLegendre (n: int) : float[] * float[] =
        if n < 1 || n > 1024 then invalidArg "n" (sprintf "n %d is not allowed; it must lie in 1..1024" n)
        rules.GetOrAdd(n, fun n -> let r = Integration.GaussLegendreRule(-1.0, 1.0, n) in r.Abscissas, r.Weights)

    /// ∫ₐᵇ f by the n-point rule mapped onto [a, b].
    let panel (n: int) (f: float -> float) (a: float) (b: float) =
        let nodes, weights = gaussLegendre n
        let half = 0.5 * (b - a)
        let centre = 0.5 * (a + b)
        let mutable s = 0.0
        for k in 0 .. nodes.Length - 1 do s <- s + weights.[k] * f (centre + half * nodes.[k])
        s * half

    /// ∫ f over [mesh₀, mesh_last] as the sum of n-point panels between consecutive mesh points.
    let overMesh (n: int) (f: float -> float) (mesh: float[]) =
        let mutable s = 0.0
        for k in 0 .. mesh.Length - 2 do s <- s + panel n f mesh.[k] mesh.[k + 1]
        s

    /// Nodes and weights of the composite rule: `panels` equal panels of n nodes each on [a, b], panel by panel.
    let composite (n: int) (a: float) (b: float) (panels: int) : float[] * float[] =
        if panels < 1 then invalidArg "panels" (sprintf "panels %d is not allowed; it must be ≥ 1" panels)
        let nodes, weights = gaussLegendre n
        let width = (b - a) / float panels
        [| for k in 0 .. panels - 1 do
               let centre = a + (float k + 0.5) * width
               for i in 0 .. n - 1 -> centre + 0.5 * width * nodes.[i], 0.5 * width * weights.[i] |]
        |> Array.unzip

    /// The tensor-product rule of a one-dimensional rule in d dimensions: points (the last coordinate varying
    /// slowest) and weights, the products of the one-dimensional weights.
    let tensorProduct (d: int) (nodes: float[], weights: float[]) : float[][] * float[] =
        let rec product (dims: int) : (float list * float) list =
            if dims = 0 then [ [], 1.0 ]
            else [ for rest, w in product (dims - 1) do for i in 0 .. nodes.Length - 1 -> nodes.[i] :: rest, w * weights.[i] ]
        let all = product d
        all |> List.map (fst >> Array.ofList) |> Array.ofList, all |> List.map snd |> Array.ofList

    /// ∫ₐᵇ f, globally adaptive with n-point panels. Each panel's error is estimated as the change from one rule to
    /// the sum over its two halves (which is the value kept, so the estimate is pessimistic); the worst panel is split
    /// until the estimates sum to `tolerance` (absolute). Near-singular endpoints thus get geometrically refined
    /// panels, which a uniform mesh would need millions of. `maxPanels` bounds the cost where rounding noise in f keeps
    /// the estimate above the tolerance; the estimate then measures that noise.
    let adaptive (n: int) (maxPanels: int) (tolerance: float) (f: float -> float) (a: float) (b: float) =
        let make lo hi =
            let mid = 0.5 * (lo + hi)
            let whole = panel n f lo hi
            let fine = panel n f lo mid + panel n f mid hi
            struct (lo, hi, fine, abs (fine - whole))
        let panels = ResizeArray [ make a b ]
        let errorOf (struct (_, _, _, e)) = e
        let mutable total = errorOf panels.[0]
        while total > tolerance && panels.Count < maxPanels do
            let mutable worst = 0
            for k in 1 .. panels.Count - 1 do
                if errorOf panels.[k] > errorOf panels.[worst] then worst <- k
            let struct (lo, hi, _, e) = panels.[worst]
            let mid = 0.5 * (lo + hi)
            let left, right = make lo mid, make mid hi
            panels.[worst] <- left
            panels.Add right
            total <- total - e + errorOf left + errorOf right
        panels |> Seq.sumBy (fun (struct (_, _, v, _)) -> v)
