namespace Hybrid.Scripting.Nnft

open System
open Deedle
open Hybrid.Analysis.Statistics
open Hybrid.Analysis.Fitting
open Hybrid.Analysis.Nnft
open Hybrid.Analysis.Numerics
open Hybrid.Analysis.Reporting
open Hybrid.Nnft
open Hybrid.Runtime
open Hybrid.Sampling
open Hybrid.Scripting.Pipeline

/// Configuration of the cutoff study of the interacting cos-net.
type NnftCutoffConfig =
    { Dimension: int
      Mass: float
      Cutoffs: float list
      Widths: int list
      Frequencies: CosFrequencies
      Amplitudes: CosAmplitudes
      Box: float
      Points: float[][]
      Networks: int64
      Blocks: int
      Seed: int64
      RootSeed: int64
      Replica: Replica option
      Device: ComputeDevice }

/// The linear responses at one cutoff and width.
type CutoffPoint =
    { Cutoff: float
      Width: int
      /// ∂G₂(x₀, x₁)/∂λ at λ = 0.
      TwoPoint: EnsembleEstimate
      /// ∂G₄c(x₀, x₁, x₂, x₃)/∂λ at λ = 0.
      FourPoint: EnsembleEstimate
      Seconds: float }

/// The 1/N expansion of the responses at one cutoff.
type CutoffFit =
    { Cutoff: float
      /// Coefficients c₀, c₁, c₂ of ∂G₂/∂λ = c₀ + c₁/N + c₂/N².
      TwoPoint: FitResult option
      /// c₀ … c₃ of ∂G₄c/∂λ.
      FourPoint: FitResult option
      /// The formulas: c₁ of ∂G₂/∂λ (propagator-weighted frequencies), and −T, the tree level of ∂G₄c/∂λ.
      AnalyticTwoPointC1: float option
      MinusTree: float }

type NnftCutoffResult =
    { Config: NnftCutoffConfig
      Points: CutoffPoint list
      Fits: CutoffFit list
      /// |c₁| of ∂G₂/∂λ against Λ: A·Λ^p, p with its error.
      Scaling: FitResult option }

/// `nnft-cutoff`: the Sen–Vaidya question for the cos-net φ⁴ theory: the O(1/N) corrections of the renormalised
/// (Wick-ordered) 2- and 4-point functions at first order in λ, as functions of the cutoff Λ. Each (Λ, N) is an
/// independent ensemble accumulating the linear response ∂⟨O⟩/∂λ = −Cov₀(O, W), W = ∫_B[φ⁴/4! − (G(0)/4)φ²];
/// fits in 1/N at each Λ give the coefficients, and c₁(Λ) is fitted by a power law (docs/nn-field-theory.md).
module NnftCutoff =

    let options =
        [ CommandLine.option "d" IntOption "1" "dimension d (1 or 2)"
          CommandLine.option "mass" FloatOption "1" "mass m > 0"
          CommandLine.option "cutoffs" TextOption "2,4,8,16" "cutoffs Λ, comma-separated (span them by a factor 8 or more)"
          CommandLine.option "widths" TextOption "2,4,8,16,32" "widths N, comma-separated (at least 4)"
          CommandLine.option "frequencies" TextOption "propagator" "propagator (b ∝ 1/(b² + m²)) | uniform (b uniform, amplitude ∝ 1/√(b² + m²), Demirtas et al.)"
          CommandLine.option "amplitudes" TextOption "gaussian" "gaussian (a cos(b·x + c)) | pair (u cos b·x + v sin b·x: no O(λ/N) correction of G₂)"
          CommandLine.optional "cancel-bubbles" FlagOption "the architecture whose same-neuron (bubble) terms cancel the O(λ/N) correction of G₂: --amplitudes pair"
          CommandLine.option "box" FloatOption "2" "side of the interaction region [−L/2, L/2]^d"
          CommandLine.option "points" TextOption "0;1;0.4;1.5" "points: G₂ at the first two, G₄c at the first four"
          CommandLine.option "networks" IntOption "400000" "networks per cutoff and width"
          CommandLine.option "blocks" IntOption "64" "blocks for the errors" ]
        @ CommonOptions.optionsWith (CommonOptions.notMerged "each replica is an independent set of ensembles; compare their results, or give one run more --networks") "where the tensors live"

    let private list (name: string) (what: string) (text: string) (parse: string -> 'a option) =
        text.Split(',', StringSplitOptions.TrimEntries)
        |> Array.map (fun s -> match parse s with Some v -> v | None -> raise (UsageError(sprintf "--%s %s is not allowed: '%s' is not %s; give them separated by commas" name text s what)))
        |> Array.distinct |> Array.sort |> List.ofArray

    /// Validates the command line into a configuration.
    let configure (o: ParsedOptions) : NnftCutoffConfig =
        let d = CommandLine.intIn o "d" 1L 2L |> CommandLine.required "d" |> int
        let mass = CommandLine.positive o "mass"
        let cutoffs = list "cutoffs" "a finite cutoff Λ > 0" (CommandLine.text o "cutoffs" |> Option.defaultValue "") (fun s -> match Double.TryParse(s, Globalization.NumberStyles.Float, Globalization.CultureInfo.InvariantCulture) with | true, v when v > 0.0 && Double.IsFinite v -> Some v | _ -> None)
        let widths = list "widths" "a width in 1..100000" (CommandLine.text o "widths" |> Option.defaultValue "") (fun s -> match Int32.TryParse s with | true, v when v >= 1 && v <= 100_000 -> Some v | _ -> None)
        if cutoffs.Length < 2 then raise (UsageError "--cutoffs needs at least two cutoffs for a study of the Λ dependence")
        if widths.Length < 4 then raise (UsageError "--widths needs at least four widths for a fit in 1/N up to 1/N²")
        let frequencies =
            match (CommandLine.text o "frequencies" |> Option.defaultValue "").ToLowerInvariant() with
            | "propagator" -> CosFrequencies.PropagatorWeighted
            | "uniform" -> CosFrequencies.Uniform
            | other -> raise (UsageError(sprintf "--frequencies %s is not known; allowed: propagator, uniform" other))
        let amplitudes =
            match (CommandLine.text o "amplitudes" |> Option.defaultValue "").ToLowerInvariant(), CommandLine.switch o "cancel-bubbles" with
            | "gaussian", false -> CosAmplitudes.Gaussian
            | "gaussian", true when CommandLine.has o "amplitudes" ->
                raise (UsageError "--cancel-bubbles with --amplitudes gaussian is not allowed: cancelling the bubbles needs paired amplitudes; give --amplitudes pair or leave --amplitudes out")
            | "pair", _ | "gaussian", true -> CosAmplitudes.GaussianPair
            | other, _ -> raise (UsageError(sprintf "--amplitudes %s is not known; allowed: gaussian, pair" other))
        let box = CommandLine.positive o "box"
        let points = NnftOptions.parsePoints d (CommandLine.text o "points" |> Option.defaultValue "")
        if points.Length < 4 then raise (UsageError(sprintf "--points needs four points (G₄c), got %d" points.Length))
        let panels = NetworkSpec.quadraturePanels (Cos(d, 1, mass, Some(List.max cutoffs))) box 0
        if pown (8 * panels) d > 20_000 then
            raise (UsageError(sprintf "the largest cutoff needs %d quadrature nodes over the box; at most 20000: use a smaller --box or cutoff" (pown (8 * panels) d)))
        let networks = CommandLine.intIn o "networks" 2L 1_000_000_000_000L |> CommandLine.required "networks"
        let blocks = CommandLine.intIn o "blocks" 2L 100_000L |> CommandLine.required "blocks" |> int
        NnftOptions.checkBlocks networks blocks
        { Dimension = d; Mass = mass; Cutoffs = cutoffs; Widths = widths; Frequencies = frequencies; Amplitudes = amplitudes
          Box = box; Points = points; Networks = networks; Blocks = blocks
          Seed = CommonOptions.seed o; RootSeed = CommonOptions.rootSeed o; Replica = CommonOptions.replica o; Device = CommonOptions.device o }

    /// The configuration as written to config.json.
    let describe (c: NnftCutoffConfig) =
        Json.object (
            [ "d", Json.integer c.Dimension
              "mass", Json.number c.Mass
              "cutoffs", Json.numbers c.Cutoffs
              "widths", Json.numbers (c.Widths |> List.map float)
              "frequencies", Json.text (if c.Frequencies = CosFrequencies.Uniform then "uniform" else "propagator")
              "amplitudes", Json.text (if c.Amplitudes = CosAmplitudes.GaussianPair then "pair" else "gaussian")
              "box", Json.number c.Box
              "points", Json.array [ for p in c.Points -> Json.numbers p ]
              "networks", Json.integer c.Networks
              "blocks", Json.integer c.Blocks
              "seed", Json.integer c.Seed
              "device", Json.text ((string c.Device).ToLowerInvariant()) ]
            @ CommonOptions.describeReplicaOf c.RootSeed c.Replica)

    /// The propagator G at separation u for cutoff Λ (the infinite-width kernel of every cos-net variant).
    let private propagator (c: NnftCutoffConfig) (cutoff: float) (x: float[]) (y: float[]) =
        CosNetKernels.cosKernel { InputDimension = c.Dimension; Mass = c.Mass; Cutoff = Some cutoff } x y

    /// H(u) = ∫_{|p|<Λ} dᵈp/(2π)ᵈ e^{ip·u}/(p² + m²)², by a radial composite Gauss–Legendre rule (panels shorter than
    /// half an oscillation of the angular average).
    let private squaredPropagator (c: NnftCutoffConfig) (cutoff: float) =
        let sphere = if c.Dimension = 1 then 2.0 else 2.0 * Math.PI
        let norm = sphere / (2.0 * Math.PI) ** float c.Dimension
        fun (u: float[]) ->
            let distance = sqrt (Array.sumBy (fun x -> x * x) u)
            let panels = max 8 (int (ceil (cutoff * distance / Math.PI)) * 2)
            let nodes, weights = Quadrature.composite 16 0.0 cutoff panels
            let mutable sum = 0.0
            for i in 0 .. nodes.Length - 1 do
                let r = nodes.[i]
                let angular = CosNetKernels.cosAngularAverage c.Dimension (r * distance)
                sum <- sum + weights.[i] * r ** float (c.Dimension - 1) * angular / (r * r + c.Mass * c.Mass) ** 2.0
            norm * sum

    /// ∂G₂/∂λ and ∂G₄c/∂λ at λ = 0 from plain and W-weighted block sums: ∂E[M]/∂λ = −(E[WM] − E[W]E[M]).
    let private responses (seed: int) (free: BlockSums) (weighted: BlockSums) =
        let respond (m: int[] -> float) (w: int[] -> float) (idx: int[]) = -(w idx - w [||] * m idx)
        let r2 = EnsembleMoments.estimateJoint seed [ free; weighted ] (fun ms -> respond ms.[0] ms.[1] [| 0; 1 |])
        let r4 =
            EnsembleMoments.estimateJoint seed [ free; weighted ] (fun ms ->
                let m, w = ms.[0], ms.[1]
                let r = respond m w
                r [| 0; 1; 2; 3 |] - (r [| 0; 1 |] * m [| 2; 3 |] + m [| 0; 1 |] * r [| 2; 3 |]
                                      + r [| 0; 2 |] * m [| 1; 3 |] + m [| 0; 2 |] * r [| 1; 3 |]
                                      + r [| 0; 3 |] * m [| 1; 2 |] + m [| 0; 3 |] * r [| 1; 2 |]))
        r2, r4

    /// One ensemble at (Λ, N) with the linear-response weights.
    let private measure (c: NnftCutoffConfig) (device: TorchSharp.torch.Device) (cutoff: float) (width: int) : CutoffPoint =
        let network = CosNetwork(c.Dimension, width, c.Mass, Nullable cutoff, c.Frequencies, c.Amplitudes)
        let g0 = CosNetwork(c.Dimension, 1, c.Mass, Nullable cutoff).AmplitudeVariance   // G(0) = Z/(2π)ᵈ
        let panels = NetworkSpec.quadraturePanels (Cos(c.Dimension, width, c.Mass, Some cutoff)) c.Box 0
        let nodes, weights = Quadrature.composite 8 (-c.Box / 2.0) (c.Box / 2.0) panels |> Quadrature.tensorProduct c.Dimension
        let options =
            EnsembleOptions(Networks = c.Networks, Blocks = c.Blocks, MaxOrder = 4,
                            Deformation = QuarticDeformation(1.0, nodes, weights, MassCounterterm = g0, LinearResponse = true))
        let e = NetworkEnsemble(network, c.Points |> Array.take 4, options, Seeds.Derive(c.Seed, sprintf "cutoff %g width %d" cutoff width), device)
        let _, seconds = NnftStudy.run (sprintf "Λ = %g, N = %d" cutoff width) e None false
        let free = NnftStudy.blockSums e.Sums
        let w = NnftStudy.blockSums e.WeightedSums
        // E[W·M] is normalised by the number of networks; the order-0 sums hold Σ W per block.
        let weighted =
            { w with
                Weights = free.Weights
                Indices = w.Indices.Add(0, [| [||] |])
                Sums = w.Sums.Add(0, w.Weights |> Array.map (fun s -> [| s |])) }
        let r2, r4 = responses (NnftStudy.bootstrapSeed c.Seed) free weighted
        { Cutoff = cutoff; Width = width; TwoPoint = r2; FourPoint = r4; Seconds = seconds }

    /// Fits c₀ + c₁/N + … (up to `order`) to the responses at one cutoff.
    let private fitInverseWidth (order: int) (points: (int * EnsembleEstimate) list) =
        let usable = points |> List.filter (fun (_, e) -> Double.IsFinite e.Estimate.Mean && e.Estimate.Error > 0.0)
        let terms = min (order + 1) (usable.Length - 1)
        if terms < 2 then None
        else
            let n = usable |> List.map (fun (w, _) -> float w) |> Array.ofList
            let model =
                { ParameterNames = Array.init terms (sprintf "c%d")
                  Priors = Array.create terms Flat
                  Predict = fun p -> n |> Array.map (fun x -> Array.fold (fun (acc, k) (c: float) -> acc + c / x ** float k, k + 1) (0.0, 0) p |> fst) }
            let y = usable |> List.map (fun (_, e) -> e.Estimate.Mean) |> Array.ofList
            let dy = usable |> List.map (fun (_, e) -> e.Estimate.Error) |> Array.ofList
            Some(LeastSquares.fit model (LeastSquares.ofErrors y dy) (LeastSquares.options (Array.zeroCreate terms)))

    /// Runs every (Λ, N), fits in 1/N at each Λ and c₁ against Λ.
    let run (c: NnftCutoffConfig) (dir: RunDirectory) : NnftCutoffResult =
        let device = NnftStudy.device c.Device
        let points = [ for cutoff in c.Cutoffs do for width in c.Widths -> measure c device cutoff width ]
        let kappa = if c.Amplitudes = CosAmplitudes.GaussianPair then 2.0 else 3.0
        let fits =
            [ for cutoff in c.Cutoffs ->
                  let at = points |> List.filter (fun p -> p.Cutoff = cutoff)
                  let panels = 4 * NetworkSpec.quadraturePanels (Cos(c.Dimension, 1, c.Mass, Some cutoff)) c.Box 0
                  let nodes, weights = Quadrature.composite 8 (-c.Box / 2.0) (c.Box / 2.0) panels |> Quadrature.tensorProduct c.Dimension
                  let g = propagator c cutoff
                  let g0 = CosNetwork(c.Dimension, 1, c.Mass, Nullable cutoff).AmplitudeVariance
                  let integral f = Array.fold2 (fun acc (z: float[]) w -> acc + w * f z) 0.0 nodes weights
                  let h01 = integral (fun z -> g c.Points.[0] z * g z c.Points.[1])
                  let tree = integral (fun z -> [ 0 .. 3 ] |> List.fold (fun acc i -> acc * g c.Points.[i] z) 1.0)
                  // Q, the single-neuron kernel E_b[A⁴ cos(b·u)]: G(0)·G(u) for propagator-weighted frequencies,
                  // n_Λ·H(u) for uniform ones (n_Λ = vol(B_Λ)/(2π)ᵈ); c₁ = G(0)∫_B GG − (κ/2)∫_B Q G.
                  let c1 =
                      match c.Frequencies with
                      | CosFrequencies.PropagatorWeighted -> (1.0 - kappa / 2.0) * g0 * h01
                      | _ ->
                          let modes = (if c.Dimension = 1 then 2.0 * cutoff else Math.PI * cutoff * cutoff) / (2.0 * Math.PI) ** float c.Dimension
                          let h = squaredPropagator c cutoff
                          g0 * h01 - kappa / 2.0 * modes * integral (fun z -> h (Array.map2 (-) c.Points.[0] z) * g z c.Points.[1])
                  { Cutoff = cutoff
                    TwoPoint = fitInverseWidth 2 [ for p in at -> p.Width, p.TwoPoint ]
                    FourPoint = fitInverseWidth 3 [ for p in at -> p.Width, p.FourPoint ]
                    AnalyticTwoPointC1 = Some c1
                    MinusTree = -tree } ]
        let scaling =
            let usable =
                fits |> List.choose (fun f -> f.TwoPoint |> Option.map (fun r -> f.Cutoff, abs r.Parameters.[1], r.Errors.[1]))
                |> List.filter (fun (_, v, e) -> v > 2.0 * e)
            if usable.Length < 2 then None
            else
                let l = usable |> List.map (fun (x, _, _) -> x) |> Array.ofList
                let model = { ParameterNames = [| "A"; "p" |]; Priors = [| Flat; Flat |]; Predict = fun p -> l |> Array.map (fun x -> p.[0] * x ** p.[1]) }
                let y = usable |> List.map (fun (_, v, _) -> v) |> Array.ofList
                let dy = usable |> List.map (fun (_, _, e) -> e) |> Array.ofList
                let _, v0, _ = usable.Head
                Some(LeastSquares.fit model (LeastSquares.ofErrors y dy) (LeastSquares.options [| v0; 0.5 |]))
        { Config = c; Points = points; Fits = fits; Scaling = scaling }

    let private coefficient (fit: FitResult option) (k: int) =
        match fit with
        | Some f when k < f.Parameters.Length -> Estimate.format (Estimate.independent f.Parameters.[k] f.Errors.[k] f.DataPoints)
        | _ -> "—"

    /// The Markdown report.
    let report (r: NnftCutoffResult) =
        let c = r.Config
        let byWidth =
            Frame.ofRows
                [ for p in r.Points ->
                      sprintf "Λ = %g, N = %d" p.Cutoff p.Width,
                      series [ "∂G₂/∂λ", box (NnftStudy.formatWithWarning p.TwoPoint); "∂G₄c/∂λ", box (NnftStudy.formatWithWarning p.FourPoint); "seconds", box (sprintf "%.1f" p.Seconds) ] ]
        let coefficients =
            Frame.ofRows
                [ for f in r.Fits ->
                      sprintf "Λ = %g" f.Cutoff,
                      series
                          [ "G₂: c₀ (0)", box (coefficient f.TwoPoint 0)
                            "G₂: c₁", box (coefficient f.TwoPoint 1)
                            "G₂: c₁ formula", box (match f.AnalyticTwoPointC1 with Some v -> sprintf "%.5g" v | None -> "—")
                            "G₂: c₂", box (coefficient f.TwoPoint 2)
                            "G₄c: c₀", box (coefficient f.FourPoint 0)
                            "G₄c: −T", box (sprintf "%.5g" f.MinusTree)
                            "G₄c: c₁", box (coefficient f.FourPoint 1) ] ]
        String.concat "\n"
            [ yield sprintf "## φ⁴ on cos-nets: O(1/N) corrections against the cutoff (d = %d, m = %g, box %g, %s frequencies, %s amplitudes)\n"
                        c.Dimension c.Mass c.Box (if c.Frequencies = CosFrequencies.Uniform then "uniform" else "propagator-weighted") (if c.Amplitudes = CosAmplitudes.GaussianPair then "pair" else "Gaussian")
              yield "Linear responses at λ = 0 of the Wick-ordered deformation e^{−λ∫_B[φ⁴/4! − (G(0)/4)φ²]}, each (Λ, N) an independent ensemble of "
                    + sprintf "%d networks; fits c₀ + c₁/N + c₂/N² (+ c₃/N³ for G₄c) at each Λ. Expected: c₀ = 0 for G₂, c₀ = −T (tree level) for G₄c; c₁ of G₂ = G(0)∫_B GG − (κ/2)∫_B QG (κ = 3 Gaussian, 2 pair; Q = G(0)G for propagator-weighted frequencies, n_Λ H for uniform ones, which grows like Λᵈ).\n" c.Networks
              yield Table.toMarkdown coefficients
              match r.Scaling with
              | Some s -> yield sprintf "|c₁| of ∂G₂/∂λ against Λ: A·Λ^p with p = %s (χ²/dof = %.2f).\n" (Estimate.format (Estimate.independent s.Parameters.[1] s.Errors.[1] s.DataPoints)) s.ChiSquaredPerDof
              | None -> yield "c₁ of ∂G₂/∂λ is not resolved from zero at two or more cutoffs: no power law fitted.\n"
              yield "### Responses by cutoff and width\n"
              yield Table.toMarkdown byWidth ]

    /// Writes the run.
    let write (dir: RunDirectory) (r: NnftCutoffResult) =
        let fitJson (f: FitResult option) =
            match f with
            | Some f -> Json.object [ for k in 0 .. f.Parameters.Length - 1 -> sprintf "c%d" k, Json.object [ "mean", Json.number f.Parameters.[k]; "error", Json.number f.Errors.[k] ] ]
            | None -> null
        Json.write (dir.File "summary.json")
            (Json.object
                [ "experiment", Json.text "nnft-cutoff"
                  "parameters", describe r.Config
                  "responses",
                  Json.array [ for p in r.Points -> Json.object [ "cutoff", Json.number p.Cutoff; "width", Json.integer p.Width; "dG2", Study.estimateJson p.TwoPoint.Estimate; "dG4c", Study.estimateJson p.FourPoint.Estimate ] ]
                  "fits",
                  Json.array
                      [ for f in r.Fits ->
                            Json.object
                                [ "cutoff", Json.number f.Cutoff; "dG2", fitJson f.TwoPoint; "dG4c", fitJson f.FourPoint
                                  "dG2_c1_formula", (match f.AnalyticTwoPointC1 with Some v -> Json.number v | None -> null)
                                  "minus_tree", Json.number f.MinusTree ] ]
                  "c1_scaling", (match r.Scaling with Some s -> Json.object [ "p", Json.number s.Parameters.[1]; "p_error", Json.number s.Errors.[1]; "A", Json.number s.Parameters.[0] ] | None -> null)
                  "runtime", Json.text TorchRuntime.Description ])
        AtomicFile.writeText (dir.File "summary.md") (report r)
        match r.Scaling with
        | Some s ->
            let points = [ for f in r.Fits do match f.TwoPoint with Some t -> yield f.Cutoff, Estimate.independent (abs t.Parameters.[1]) t.Errors.[1] t.DataPoints | None -> () ]
            // powerLaw draws A·x^(−s): the fitted growth is s = −p.
            let chart = Plots.powerLaw "Λ" "c<sub>1</sub>" points s.Parameters.[0] (Estimate.independent (-s.Parameters.[1]) s.Errors.[1] s.DataPoints)
            Study.writePlot dir "cutoff-scaling.html" "O(1/N) coefficient of ∂G₂/∂λ against the cutoff" (sprintf "d = %d, %s frequencies" r.Config.Dimension (if r.Config.Frequencies = CosFrequencies.Uniform then "uniform" else "propagator-weighted")) chart
        | None -> ()

    /// The experiment as the command line knows it.
    let experiment : Experiment<NnftCutoffConfig, NnftCutoffResult> =
        { Name = "nnft-cutoff"
          Description = "Sen–Vaidya: the O(1/N) corrections of the renormalised φ⁴ cos-net at first order in λ, against the cutoff Λ"
          Options = options
          Configure = configure
          Describe = describe
          Run = fun c dir -> let r = run c dir in write dir r; r
          Report = report }
