namespace Hybrid.Analysis.Nnft

open System
open Hybrid.Analysis.Statistics

/// The block sums of an ensemble of random networks at P points (what the core's CorrelatorSums accumulates):
/// for each order n, the sums over the networks of a block of φ(x_{i₁})⋯φ(x_{iₙ}), one per index multiset.
type BlockSums =
    { Points: int
      /// Networks per block.
      Counts: int64[]
      /// Σ w per block: the normaliser of the moments (the counts without reweighting).
      Weights: float[]
      /// Σ w² per block (the counts without reweighting): the effective sample size is (Σw)²/Σw².
      WeightSquares: float[]
      /// order → index multisets (i₁ ≤ … ≤ iₙ), in the order of the sums.
      Indices: Map<int, int[][]>
      /// order → [block][multiset].
      Sums: Map<int, float[][]> }

/// A correlator estimated from an ensemble: value and jackknife error over blocks, a bootstrap interval over blocks,
/// and a warning when the blocks' values are too heavy-tailed for the error to be trusted.
type EnsembleEstimate =
    { Estimate: Estimate
      /// 16th and 84th percentiles of the block bootstrap (asymmetric where the distribution is skewed).
      BootstrapInterval: float * float
      /// Set when the error is not trustworthy, with the reason.
      Warning: string option }

/// Moments, connected correlators and their errors from block sums. The networks' output is odd under the sign flip of
/// the last layer (W₁, b₁ → −W₁, −b₁), so odd moments vanish exactly and the connected functions are formed with zero
/// mean: G₄c = G₄ − (G₂G₂ + 2 more pairings), G₆c = G₆ − Σ₁₅ G₄G₂ + 2 Σ₁₅ G₂G₂G₂.
module EnsembleMoments =

    /// The position of every index multiset in the sums, by its sorted key ("0,1,1,3"): built once per BlockSums and
    /// shared by the many leave-one-out and bootstrap evaluations of one estimate.
    let private positionsOf (s: BlockSums) =
        let index = Collections.Generic.Dictionary<string, int * int>()
        for KeyValue(order, multisets) in s.Indices do
            multisets |> Array.iteri (fun i m -> index.[String.Join(",", m)] <- (order, i))
        index

    /// The moment function of the networks in the blocks, each block taken `weights.[b]` times: sorted index multiset
    /// → mean over those networks.
    let private meansOf (s: BlockSums) (positions: Collections.Generic.Dictionary<string, int * int>) (weights: float[]) : int[] -> float =
        let total = Array.fold2 (fun acc w (c: float) -> acc + w * c) 0.0 weights s.Weights
        let cache = Collections.Generic.Dictionary<string, float>()
        fun (m: int[]) ->
            let key = String.Join(",", Array.sort m)
            match cache.TryGetValue key with
            | true, v -> v
            | _ ->
                let order, p =
                    match positions.TryGetValue key with
                    | true, position -> position
                    | _ -> invalidArg "m" (sprintf "moments of order %d were not accumulated" m.Length)
                let sums = s.Sums.[order]
                let mutable sum = 0.0
                for b in 0 .. weights.Length - 1 do
                    if weights.[b] <> 0.0 then sum <- sum + weights.[b] * sums.[b].[p]
                let v = sum / total
                cache.[key] <- v
                v

    /// G₂(xᵢ, xⱼ) from a moment function.
    let twoPoint i j (m: int[] -> float) = m [| i; j |]

    /// G₄(xᵢ, xⱼ, xₖ, xₗ).
    let fourPoint i j k l (m: int[] -> float) = m [| i; j; k; l |]

    /// The connected 4-point function G₄ − (G₂ᵢⱼG₂ₖₗ + G₂ᵢₖG₂ⱼₗ + G₂ᵢₗG₂ⱼₖ).
    let connectedFourPoint i j k l (m: int[] -> float) =
        m [| i; j; k; l |] - (m [| i; j |] * m [| k; l |] + m [| i; k |] * m [| j; l |] + m [| i; l |] * m [| j; k |])

    /// All ways to split a list of positions into pairs (15 for six positions).
    let rec private pairings (positions: int list) : (int * int) list list =
        match positions with
        | [] -> [ [] ]
        | a :: rest -> [ for b in rest do for p in pairings (rest |> List.filter ((<>) b)) -> (a, b) :: p ]

    /// The connected 6-point function at six points (zero mean): G₆ − Σ over the 15 splits {4|2} of G₄G₂ + 2 Σ over the
    /// 15 pairings of G₂G₂G₂.
    let connectedSixPoint (x: int[]) (m: int[] -> float) =
        let g2 (a, b) = m [| a; b |]
        let splits =
            [ for a in 0 .. 5 do
                  for b in a + 1 .. 5 do
                      let others = [| for i in 0 .. 5 do if i <> a && i <> b then yield x.[i] |]
                      yield m others * m [| x.[a]; x.[b] |] ]
        let threePairs = pairings [ 0 .. 5 ] |> List.sumBy (List.fold (fun acc (a, b) -> acc * g2 (x.[a], x.[b])) 1.0)
        m x - List.sum splits + 2.0 * threePairs

    /// Jackknife over blocks of `f`, a function of the moments of several sums over the same blocks (e.g. the free
    /// and the reweighted ensemble, for a difference): the value on all networks, the error from the
    /// leave-one-block-out values, a 68% block-bootstrap interval (400 resamples of the blocks drawn with
    /// System.Random(seed), so a run's seed reproduces it), and a warning when the single-block values are
    /// heavy-tailed (excess kurtosis beyond 5 standard errors of a Gaussian's), as products of log-normal Gauss-net
    /// units are: then the error itself converges slowly and is not to be trusted.
    let estimateJoint (seed: int) (sums: BlockSums list) (f: (int[] -> float) list -> float) : EnsembleEstimate =
        let s = List.head sums
        let blocks = s.Counts.Length
        for other in sums do
            if other.Counts <> s.Counts then invalidArg "sums" "joint estimates need sums over the same blocks"
        let positions = [ for t in sums -> t, positionsOf t ]
        let at (weights: float[]) = f [ for t, index in positions -> meansOf t index weights ]
        let used = s.Counts |> Array.filter (fun c -> c > 0L) |> Array.length
        let networks = Array.sum s.Counts
        let value = at (Array.create blocks 1.0)
        if used < 2 then
            { Estimate = Estimate.independent value nan (int networks); BootstrapInterval = (nan, nan)
              Warning = Some "fewer than two blocks hold networks: no error can be formed; draw more networks" }
        else
            let nonEmpty = [| for b in 0 .. blocks - 1 do if s.Counts.[b] > 0L then yield b |]
            let leaveOut = nonEmpty |> Array.map (fun b -> at (Array.init blocks (fun i -> if i = b then 0.0 else 1.0)))
            let mean = Array.average leaveOut
            let g = float used
            let error = sqrt ((g - 1.0) / g * (leaveOut |> Array.sumBy (fun v -> (v - mean) ** 2.0)))
            let single = nonEmpty |> Array.map (fun b -> at (Array.init blocks (fun i -> if i = b then 1.0 else 0.0)))
            let mu = Array.average single
            let var = single |> Array.averageBy (fun v -> (v - mu) ** 2.0)
            let kurtosis = if var > 0.0 then (single |> Array.averageBy (fun v -> (v - mu) ** 4.0)) / (var * var) - 3.0 else 0.0
            let rng = Random(seed)
            let resampled =
                Array.init 400 (fun _ ->
                    let w = Array.zeroCreate blocks
                    for _ in 1 .. used do
                        let b = nonEmpty.[rng.Next used]
                        w.[b] <- w.[b] + 1.0
                    at w)
                |> Array.sort
            let percentile (q: float) = resampled.[int (q * float (resampled.Length - 1))]
            let threshold = 5.0 * sqrt (24.0 / g)
            { Estimate = { Estimate.independent value error (int (min networks (int64 Int32.MaxValue))) with Variance = var * g }
              BootstrapInterval = (percentile 0.16, percentile 0.84)
              Warning =
                if not (Double.IsFinite value && Double.IsFinite error) then Some "the value or its error is not finite"
                elif kurtosis > threshold then
                    Some(sprintf "heavy tails: the %d block values have excess kurtosis %.1f (a Gaussian's would be within ±%.1f), so the error converges slowly and is not trustworthy; draw more networks (or, for Gauss-nets, use a smaller σ_b)" used kurtosis threshold)
                else None }

    /// Jackknife over blocks of `f`, a function of the moments, with the bootstrap interval drawn from `seed` (see
    /// estimateJoint).
    let estimate (seed: int) (s: BlockSums) (f: (int[] -> float) -> float) : EnsembleEstimate =
        estimateJoint seed [ s ] (fun means -> f (List.head means))

    /// The effective sample size (Σw)²/Σw² of reweighted sums, as a fraction of the networks.
    let effectiveSampleSizeFraction (s: BlockSums) =
        (Array.sum s.Weights) ** 2.0 / Array.sum s.WeightSquares / float (Array.sum s.Counts)

    /// Index multisets i₁ ≤ … ≤ iₙ of `order` indices from 0..points−1, lexicographic (as the core enumerates them).
    let multisets (points: int) (order: int) : int[][] =
        let rec go (start: int) (left: int) : int list list =
            if left = 0 then [ [] ] else [ for i in start .. points - 1 do for rest in go i (left - 1) -> i :: rest ]
        go 0 order |> List.map Array.ofList |> Array.ofList

    /// Block sums of explicit samples (samples.[k] = the field of network k at the P points), sample k in block
    /// k mod `blocks`, up to `maxOrder` (4 or 6): the same layout the core accumulates, for data from elsewhere.
    let ofSamples (blocks: int) (maxOrder: int) (samples: float[][]) : BlockSums =
        if samples.Length = 0 then invalidArg "samples" "no samples"
        if blocks < 2 then invalidArg "blocks" (sprintf "blocks %d is not allowed; it must be ≥ 2" blocks)
        if maxOrder <> 4 && maxOrder <> 6 then invalidArg "maxOrder" (sprintf "maximal order %d is not allowed; use 4 or 6" maxOrder)
        let points = samples.[0].Length
        let orders = if maxOrder = 6 then [ 1; 2; 4; 6 ] else [ 1; 2; 4 ]
        let indices = orders |> List.map (fun o -> o, multisets points o) |> Map.ofList
        let counts = Array.zeroCreate<int64> blocks
        let sums = orders |> List.map (fun o -> o, Array.init blocks (fun _ -> Array.zeroCreate<float> indices.[o].Length)) |> Map.ofList
        samples
        |> Array.iteri (fun k x ->
            let b = k % blocks
            counts.[b] <- counts.[b] + 1L
            for o in orders do
                indices.[o] |> Array.iteri (fun c m -> sums.[o].[b].[c] <- sums.[o].[b].[c] + Array.fold (fun p i -> p * x.[i]) 1.0 m))
        let weights = counts |> Array.map float
        { Points = points; Counts = counts; Weights = weights; WeightSquares = Array.copy weights; Indices = indices; Sums = sums }
