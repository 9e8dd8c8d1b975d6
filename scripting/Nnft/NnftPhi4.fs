namespace Hybrid.Scripting.Nnft

open System
open Deedle
open MathNet.Numerics
open Hybrid.Analysis.Statistics
open Hybrid.Analysis.Nnft
open Hybrid.Analysis.Numerics
open Hybrid.Analysis.Reporting
open Hybrid.Nnft
open Hybrid.Runtime
open Hybrid.Scripting.Pipeline

/// How the deformed ensemble is sampled.
type NnftPhi4Sampler =
    /// Reweight independently drawn networks by e^{−(λ/4!)∫φ⁴}: exact for any λ, efficient while the ESS is large.
    | Reweighting
    /// HMC on the standardised parameters (one network per chain), for couplings where reweighting fails.
    | ParameterHmc of chains: int * trajectories: int * thermalization: int

/// Configuration of the interacting theory built on neurons.
type NnftPhi4Config =
    { Network: NetworkSpec
      Points: float[][]
      /// λ of e^{−(λ/4!)∫φ⁴}.
      Lambda: float
      /// Side of the box [−L/2, L/2]ᵈ over which ∫φ⁴ runs.
      Box: float
      /// Gauss–Legendre panels per dimension (8 nodes each).
      Panels: int
      Sampler: NnftPhi4Sampler
      Ensemble: EnsembleOptions
      Seed: int64
      RootSeed: int64
      Replica: Replica option
      Device: ComputeDevice }

/// What the deformed ensemble gave.
type NnftPhi4Result =
    { Config: NnftPhi4Config
      /// Reweighting: the free and the reweighted block sums.
      Free: BlockSums option
      Deformed: BlockSums option
      /// HMC: φ at the points, [chain][trajectory][point], and the acceptance.
      Chains: float[][][]
      Acceptance: float
      /// G2_i_j and G4c of the deformed theory, G4c_free, delta_G4c, lambda_eff.
      Observables: (string * EnsembleEstimate) list
      /// ESS/N of the weights (NaN for HMC).
      EffectiveSampleSize: float
      /// −λ ∫_box dᵈx Πᵢ K(x, xᵢ): the tree-level change of G₄c.
      TreeLevel: float
      /// The same integral with twice the panels, relative difference: the quadrature error of the tree level.
      TreeLevelQuadratureError: float
      /// max and mean |S(2p) − S(p)|/S(2p) of ∫φ⁴ on 256 networks with p and 2p panels.
      ActionQuadratureError: float * float
      Seconds: float }

/// `nnft-phi4`: local φ⁴ built on neurons (Demirtas, Halverson, Maiti, Schwartz, Stoner, arXiv:2307.03223): the
/// parameter density deformed by e^{−(λ/4!)∫_box φ⁴}, applied by reweighting independently drawn networks, and the
/// change of the connected 4-point function against tree level, −λ ∫ dᵈx Πᵢ G₂(x − xᵢ).
module NnftPhi4 =

    let options =
        NnftOptions.architectureWith [ "arch", "cos"; "width", "100"; "cutoff", "8" ]
        @ [ CommandLine.option "lambda" FloatOption "0.1" "λ ≥ 0 of the deformation e^{−(λ/4!)∫φ⁴}"
            CommandLine.option "box" FloatOption "4" "side L of the box [−L/2, L/2]^d of the interaction"
            CommandLine.option "panels" IntOption "0" "Gauss–Legendre panels per dimension, 8 nodes each (0: from the cutoff, a panel per π/(2Λ))"
            CommandLine.option "points" TextOption "0;0.4;1;1.5" "points separated by ';', coordinates by ',' (dimension d each)"
            CommandLine.option "sampler" TextOption "reweight" "reweight (free networks, weighted) | hmc (HMC on the parameters; one-layer erf/relu/gauss/exp nets)"
            CommandLine.option "chains" IntOption "32" "hmc: chains (one network each)"
            CommandLine.option "trajectories" IntOption "1000" "hmc: trajectories per chain after thermalisation"
            CommandLine.option "thermalization" IntOption "200" "hmc: thermalisation trajectories (step size adapted)" ]
        @ NnftOptions.ensemble
        @ CommonOptions.optionsWith (CommonOptions.notMerged "each replica is an independent ensemble (or set of HMC chains); compare their results") "where the tensors live"

    /// Composite Gauss–Legendre nodes and weights on [−L/2, L/2]ᵈ, `panels` of 8 nodes per dimension.
    let quadrature (d: int) (box: float) (panels: int) : float[][] * float[] =
        Quadrature.composite 8 (-box / 2.0) (box / 2.0) panels |> Quadrature.tensorProduct d

    /// Validates the command line into a configuration.
    let configure (o: ParsedOptions) : NnftPhi4Config =
        let network = NnftOptions.spec o
        let d = NetworkSpec.dimension network
        if d > 2 then raise (UsageError(sprintf "--d %d is not allowed for nnft-phi4; the box quadrature supports d = 1 or 2" d))
        match network with
        | Cos(_, _, _, None) ->
            raise (UsageError "--arch cos without --cutoff is not allowed for nnft-phi4: the Cauchy network has unbounded frequencies, which no quadrature of ∫φ⁴ resolves; give --cutoff")
        | _ -> ()
        let lambda = CommandLine.float o "lambda" |> CommandLine.required "lambda"
        if not (lambda >= 0.0) || Double.IsInfinity lambda then raise (UsageError(sprintf "--lambda %g is not allowed; it must be a finite number ≥ 0" lambda))
        let box = CommandLine.positive o "box"
        let panels = NetworkSpec.quadraturePanels network box (CommandLine.intIn o "panels" 0L 10_000L |> CommandLine.required "panels" |> int)
        if pown (8 * panels) d > 20_000 then
            raise (UsageError(sprintf "%d quadrature nodes (%d panels of 8 per dimension in d = %d) is too many; at most 20000: use a smaller --box or --panels" (pown (8 * panels) d) panels d))
        let nodes, weights = quadrature d box panels
        let points = NnftOptions.parsePoints d (CommandLine.text o "points" |> Option.defaultValue "")
        if (CommandLine.text o "sampler" |> Option.defaultValue "reweight").ToLowerInvariant() = "hmc" then
            for unused in [ "networks"; "blocks"; "chunk" ] do
                if CommandLine.has o unused then
                    raise (UsageError(sprintf "--%s is not used with --sampler hmc, which samples --chains × --trajectories; leave it out" unused))
        let ensemble = NnftOptions.ensembleOptionsWith o 4 (QuarticDeformation(lambda, nodes, weights)) null
        NnftOptions.checkChunk ensemble (NetworkSpec.build network) points.Length
        let sampler =
            match (CommandLine.text o "sampler" |> Option.defaultValue "reweight").ToLowerInvariant() with
            | "reweight" -> Reweighting
            | "hmc" ->
                match network with
                | SingleLayer _ -> ()
                | _ -> raise (UsageError(sprintf "--sampler hmc is not allowed for --arch %s; it samples the Gaussian parameters of one-layer erf, relu, gauss or exp networks" (NetworkSpec.name network)))
                ParameterHmc(
                    CommandLine.intIn o "chains" 1L 100_000L |> CommandLine.required "chains" |> int,
                    CommandLine.intIn o "trajectories" 2L 10_000_000L |> CommandLine.required "trajectories" |> int,
                    CommandLine.intIn o "thermalization" 0L 10_000_000L |> CommandLine.required "thermalization" |> int)
            | other -> raise (UsageError(sprintf "--sampler %s is not known; allowed: reweight, hmc" other))
        if sampler = Reweighting then NnftOptions.engineName ensemble (NetworkSpec.build network) (CommonOptions.device o) |> ignore   // --engine fused: refused here
        { Network = network; Points = points; Lambda = lambda; Box = box; Panels = panels; Sampler = sampler; Ensemble = ensemble
          Seed = CommonOptions.seed o; RootSeed = CommonOptions.rootSeed o; Replica = CommonOptions.replica o; Device = CommonOptions.device o }

    /// The configuration as written to config.json.
    let describe (c: NnftPhi4Config) =
        Json.object (
            [ "network", System.Text.Json.Nodes.JsonNode.Parse(NetworkSpec.describe c.Network)
              "points", Json.array [ for p in c.Points -> Json.numbers p ]
              "lambda", Json.number c.Lambda
              "box", Json.number c.Box
              "panels", Json.integer c.Panels
              "sampler", Json.text (match c.Sampler with Reweighting -> "reweight" | ParameterHmc _ -> "hmc")
              "chains", (match c.Sampler with ParameterHmc(k, _, _) -> Json.integer k | _ -> null)
              "trajectories", (match c.Sampler with ParameterHmc(_, t, _) -> Json.integer t | _ -> null)
              "thermalization", (match c.Sampler with ParameterHmc(_, _, t) -> Json.integer t | _ -> null)
              "networks", Json.integer c.Ensemble.Networks
              "blocks", Json.integer c.Ensemble.Blocks
              "dtype", Json.text (string c.Ensemble.DType)
              "engine", (match c.Sampler with Reweighting -> Json.text (NnftOptions.engineName c.Ensemble (NetworkSpec.build c.Network) c.Device) | _ -> null)
              "seed", Json.integer c.Seed
              "device", Json.text ((string c.Device).ToLowerInvariant()) ]
            @ CommonOptions.describeReplicaOf c.RootSeed c.Replica)

    /// −λ ∫_box Πᵢ K(x, xᵢ) by the quadrature of `panels` panels per dimension.
    let treeLevel (c: NnftPhi4Config) (panels: int) =
        let nodes, weights = quadrature (NetworkSpec.dimension c.Network) c.Box panels
        let q = NnftStudy.reportedIndices c.Points.Length 4 |> Array.map (fun k -> c.Points.[k])
        let k x y = NnftAnalytic.kernel c.Network x y |> Option.defaultWith (fun () -> invalidArg "network" "no kernel for this network")
        -c.Lambda * Array.fold2 (fun acc (x: float[]) w -> acc + w * (q |> Array.fold (fun p xi -> p * k x xi) 1.0)) 0.0 nodes weights

    /// ∫φ⁴ of the same 256 networks with p and 2p panels: max and mean relative difference.
    let actionQuadratureError (c: NnftPhi4Config) (device: TorchSharp.torch.Device) =
        let d = NetworkSpec.dimension c.Network
        let action (panels: int) =
            let nodes, weights = quadrature d c.Box panels
            use generator = new TorchSharp.torch.Generator(uint64 (Hybrid.Sampling.Seeds.Derive(c.Seed, "quadrature check")), device)
            use flat = TorchSharp.torch.tensor(nodes |> Array.concat, dtype = TorchSharp.torch.ScalarType.Float64, device = device)
            use x = flat.reshape(int64 nodes.Length, int64 d)
            use phi = (NetworkSpec.build c.Network).Evaluate(256L, x, generator)
            use w = TorchSharp.torch.tensor(weights, dtype = TorchSharp.torch.ScalarType.Float64, device = device)
            use s = phi.square().square().matmul(w)
            s.cpu().data<float>().ToArray()
        let a, b = action c.Panels, action (2 * c.Panels)
        let rel = Array.map2 (fun (x: float) (y: float) -> abs (x - y) / max 1e-300 (abs y)) a b
        Array.max rel, Array.average rel

    let private analyse (c: NnftPhi4Config) (free: BlockSums) (deformed: BlockSums) =
        let q = NnftStudy.reportedIndices c.Points.Length 4
        let g4c = EnsembleMoments.connectedFourPoint q.[0] q.[1] q.[2] q.[3]
        let tree = treeLevel c c.Panels
        let integral = if c.Lambda > 0.0 then -tree / c.Lambda else nan
        let p = c.Points.Length
        let seed = NnftStudy.bootstrapSeed c.Seed
        [ for i in 0 .. p - 1 do
              for j in i .. p - 1 -> sprintf "G2_%d_%d" i j, EnsembleMoments.estimate seed deformed (EnsembleMoments.twoPoint i j)
          yield "G4c_free", EnsembleMoments.estimate seed free g4c
          yield "G4c", EnsembleMoments.estimate seed deformed g4c
          yield "delta_G4c", EnsembleMoments.estimateJoint seed [ free; deformed ] (fun m -> g4c m.[1] - g4c m.[0])
          // The coupling the data imply at tree level: ΔG₄c = −λ_eff ∫ΠG₂.
          yield "lambda_eff", EnsembleMoments.estimateJoint seed [ free; deformed ] (fun m -> -(g4c m.[1] - g4c m.[0]) / integral) ], tree

    /// Reweighting: draws free networks, weights them, analyses both.
    let private reweight (c: NnftPhi4Config) (device: TorchSharp.torch.Device) =
        let e = NetworkEnsemble(NetworkSpec.build c.Network, c.Points, c.Ensemble, c.Seed, device)
        let _, seconds = NnftStudy.run (sprintf "ensemble %s, λ = %g" (NetworkSpec.name c.Network) c.Lambda) e None false
        let free, deformed = NnftStudy.blockSums e.Sums, NnftStudy.blockSums e.WeightedSums
        let ess = EnsembleMoments.effectiveSampleSizeFraction deformed
        // Weights e^{−(λ/4!)∫φ⁴} that all underflow (a huge λ) leave every reweighted number 0/0: stop, not a NaN table.
        if not (Double.IsFinite ess) then
            raise (Hybrid.Diagnostics.RunStoppedException(sprintf "the reweighting weights e^{−(λ/4!)∫φ⁴} underflow at λ = %g (ESS/N is not defined), so no reweighted number can be computed; use a much smaller --lambda or --box, or --sampler hmc" c.Lambda))
        let observables, tree = analyse c free deformed
        { Config = c; Free = Some free; Deformed = Some deformed; Chains = [||]; Acceptance = nan; Observables = observables
          EffectiveSampleSize = ess
          TreeLevel = tree; TreeLevelQuadratureError = 0.0; ActionQuadratureError = (0.0, 0.0); Seconds = seconds }

    /// HMC on the standardised parameters of the deformed density; correlators by the Γ-method over chains, the free
    /// G₄c from its formula (exact at λ = 0).
    let private sampleParameters (c: NnftPhi4Config) (device: TorchSharp.torch.Device) chains trajectories thermalization =
        let network = NetworkSpec.build c.Network :?> IGaussianParameterNetwork
        let action = DeformedParameterAction(network, c.Ensemble.Deformation, device)
        use hmc = new Hybrid.Sampling.HybridMonteCarlo(action, chains, Hybrid.Sampling.HmcOptions(TrajectoryLength = 1.0, InitialStepSize = 0.2), c.Seed, device)
        use start = new TorchSharp.torch.Generator(uint64 (Hybrid.Sampling.Seeds.Derive(c.Seed, "starting networks")), device)
        use z0 = TorchSharp.torch.randn([| int64 chains; int64 network.ParameterCount |], dtype = TorchSharp.torch.ScalarType.Float64, device = device, generator = start)
        hmc.SetFields z0
        let clock = Diagnostics.Stopwatch.StartNew()
        let warm = ProgressReporter("thermalise (parameters)", max 1 thermalization, "trajectories")
        hmc.Thermalize(thermalization, true, Action<int, Hybrid.Sampling.TrajectoryOutcome>(fun i o -> warm.Report(i + 1, sprintf "acceptance %.2f  ε %.3g" o.AcceptanceRate hmc.StepSize)))
        use flat = TorchSharp.torch.tensor(c.Points |> Array.concat, dtype = TorchSharp.torch.ScalarType.Float64, device = device)
        use x = flat.reshape(int64 c.Points.Length, int64 (NetworkSpec.dimension c.Network))
        let series = Array.init chains (fun _ -> Array.zeroCreate<float[]> trajectories)
        let progress = ProgressReporter("sample (parameters)", trajectories, "trajectories")
        let mutable accepted = 0.0
        for t in 0 .. trajectories - 1 do
            let outcome = hmc.Trajectory()
            accepted <- accepted + outcome.AcceptanceRate
            use scope = TorchSharp.torch.NewDisposeScope()
            let phi = network.EvaluateStandardised(hmc.Fields, x).cpu().data<float>().ToArray()
            let p = c.Points.Length
            for k in 0 .. chains - 1 do series.[k].[t] <- Array.sub phi (k * p) p
            progress.Report(t + 1, sprintf "acceptance %.2f" (accepted / float (t + 1)))
        series, accepted / float trajectories, clock.Elapsed.TotalSeconds

    /// Correlators of HMC chains by the Γ-method (G₄c as a derived quantity of seven products).
    let private analyseChains (c: NnftPhi4Config) (series: float[][][]) =
        let p = c.Points.Length
        let product (idx: int[]) = series |> Array.map (Array.map (fun (phi: float[]) -> idx |> Array.fold (fun acc i -> acc * phi.[i]) 1.0))
        let q = NnftStudy.reportedIndices p 4
        let observables = [| q; [| q.[0]; q.[1] |]; [| q.[2]; q.[3] |]; [| q.[0]; q.[2] |]; [| q.[1]; q.[3] |]; [| q.[0]; q.[3] |]; [| q.[1]; q.[2] |] |] |> Array.map product
        let g4c (m: float[]) = m.[0] - (m.[1] * m.[2] + m.[3] * m.[4] + m.[5] * m.[6])
        let free = NnftAnalytic.connectedFourPoint c.Network (q |> Array.map (fun k -> c.Points.[k])) |> Option.defaultValue nan
        let tree = treeLevel c c.Panels
        let integral = if c.Lambda > 0.0 then -tree / c.Lambda else nan
        let plain (e: Estimate) = { Estimate = e; BootstrapInterval = (nan, nan); Warning = None }
        [ for i in 0 .. p - 1 do
              for j in i .. p - 1 -> sprintf "G2_%d_%d" i j, plain (GammaMethod.analyze (product [| i; j |]))
          yield "G4c", plain (GammaMethod.derived g4c observables)
          yield "delta_G4c", plain (GammaMethod.derived (fun m -> g4c m - free) observables)
          yield "lambda_eff", plain (GammaMethod.derived (fun m -> -(g4c m - free) / integral) observables) ], tree

    /// Samples the deformed ensemble (reweighting or HMC), analyses it, checks the quadrature.
    let run (c: NnftPhi4Config) (dir: RunDirectory) : NnftPhi4Result =
        let device = NnftStudy.device c.Device
        let result =
            match c.Sampler with
            | Reweighting -> reweight c device
            | ParameterHmc(chains, trajectories, thermalization) ->
                let series, acceptance, seconds = sampleParameters c device chains trajectories thermalization
                let observables, tree = analyseChains c series
                { Config = c; Free = None; Deformed = None; Chains = series; Acceptance = acceptance; Observables = observables
                  EffectiveSampleSize = nan; TreeLevel = tree; TreeLevelQuadratureError = 0.0; ActionQuadratureError = (0.0, 0.0); Seconds = seconds }
        let tree2 = treeLevel c (2 * c.Panels)
        { result with
            TreeLevelQuadratureError = abs (result.TreeLevel - tree2) / max 1e-300 (abs tree2)
            ActionQuadratureError = actionQuadratureError c device }

    /// The analytic values by name: the tree-level change, the free theory's kernel and 1/N four-point function.
    let analytic (r: NnftPhi4Result) =
        let c = r.Config
        let q = NnftStudy.reportedIndices c.Points.Length 4 |> Array.map (fun k -> c.Points.[k])
        [ yield "tree_level_delta_G4c", r.TreeLevel
          yield "lambda_eff", c.Lambda
          match NnftAnalytic.connectedFourPoint c.Network q with
          | Some g -> yield "G4c_free", g
          | None -> () ]

    /// The Markdown report.
    let report (r: NnftPhi4Result) =
        let c = r.Config
        // The tree level sits in the delta_G4c row.
        let exact = Map.ofList (analytic r) |> Map.add "delta_G4c" r.TreeLevel
        let rows =
            [ for name, e in r.Observables ->
                  let a = exact.TryFind name
                  name,
                  series
                      [ "Monte Carlo", box (NnftStudy.formatWithWarning e)
                        "analytic", box (match a with Some v -> sprintf "%.6g" v | None -> "—")
                        "distance", box (match a with Some v when e.Estimate.Error > 0.0 -> sprintf "%.3gσ" (abs (e.Estimate.Mean - v) / e.Estimate.Error) | _ -> "") ] ]
        let maxS, meanS = r.ActionQuadratureError
        String.concat "\n"
            [ yield sprintf "## φ⁴ on neurons: %s, N = %d, d = %d, λ = %g, box [−%g, %g]\n" (NetworkSpec.name c.Network) (NetworkSpec.width c.Network) (NetworkSpec.dimension c.Network) c.Lambda (c.Box / 2.0) (c.Box / 2.0)
              match r.Free, c.Sampler with
              | Some free, _ ->
                  yield sprintf "%d networks reweighted by e^{−(λ/4!)∫φ⁴} (ESS/N = %.4f), %.1f s." (Array.sum free.Counts) r.EffectiveSampleSize r.Seconds
              | None, ParameterHmc(chains, trajectories, _) ->
                  yield sprintf "HMC on the standardised parameters: %d chains × %d trajectories, acceptance %.3f, %.1f s; errors by the Γ-method over chains; delta_G4c against the free formula." chains trajectories r.Acceptance r.Seconds
              | None, Reweighting -> ()
              let sci (x: float) = x.ToString("0.0E+0", Globalization.CultureInfo.InvariantCulture)
              yield sprintf "Quadrature: %d panels × 8 Gauss–Legendre nodes per dimension; doubling them changes ∫φ⁴ by at most %s (mean %s) on 256 networks and the tree-level integral by %s.\n"
                        c.Panels (sci maxS) (sci meanS) (sci r.TreeLevelQuadratureError)
              yield Table.toMarkdown (Frame.ofRows rows)
              yield "delta_G4c is G₄c(λ) − G₄c(0) on the same networks (jackknife over blocks of the difference). Tree level: ΔG₄c = −λ ∫_box dᵈx Πᵢ G₂(x − xᵢ) with G₂ the infinite-width kernel; at finite N and λ it differs by O(1/N) and O(λ²). lambda_eff = −ΔG₄c / ∫ΠG₂.\n"
              yield! [ for name, e in r.Observables do match e.Warning with Some w -> yield sprintf "† %s: %s" name w | None -> () ]
              if r.EffectiveSampleSize < 0.1 then   // false for NaN (HMC)
                  yield sprintf "**The weights' ESS/N is %.3g: reweighting is unreliable at this λ and box; use a smaller λ or box.**" r.EffectiveSampleSize ]

    /// Writes the run.
    let write (dir: RunDirectory) (r: NnftPhi4Result) =
        let prefixed (prefix: string) (m: Measurements) = { Columns = m.Columns |> List.map (fun (n, v) -> prefix + n, v) }
        match r.Free, r.Deformed with
        | Some free, Some deformed ->
            Measurements.write (dir.File "measurements.csv")
                (Measurements.ofColumns ((prefixed "free_" (NnftStudy.toMeasurements free)).Columns @ (prefixed "deformed_" (NnftStudy.toMeasurements deformed)).Columns))
        | _ ->
            // HMC: φ at every point along every chain (replica = chain).
            Measurements.write (dir.File "measurements.csv")
                (Measurements.ofColumns [ for i in 0 .. r.Config.Points.Length - 1 -> sprintf "phi_%d" i, r.Chains |> Array.map (Array.map (fun phi -> phi.[i])) ])
        let estimates = r.Observables |> List.map (fun (n, e) -> n, e.Estimate)
        let maxS, meanS = r.ActionQuadratureError
        Json.write (dir.File "summary.json")
            (Json.object
                [ "experiment", Json.text "nnft-phi4"
                  "parameters", describe r.Config
                  "networks", (match r.Free with Some f -> Json.integer (Array.sum f.Counts) | None -> null)
                  "ess", Json.number r.EffectiveSampleSize
                  "acceptance", Json.number r.Acceptance
                  "seconds", Json.number r.Seconds
                  "observables", Study.estimatesJson estimates
                  "analytic", Json.object [ for n, v in analytic r -> n, Json.number v ]
                  "quadrature", Json.object [ "panels", Json.integer r.Config.Panels; "action_max_relative_change", Json.number maxS; "action_mean_relative_change", Json.number meanS; "tree_level_relative_change", Json.number r.TreeLevelQuadratureError ]
                  "runtime", Json.text TorchRuntime.Description ])
        Study.writeReport dir (report r) (fun n -> match n with "delta_G4c" -> Some "G₄c(λ) − G₄c(0)" | "G4c_free" -> Some "G₄c at λ = 0" | "lambda_eff" -> Some "λ from ΔG₄c at tree level" | other -> NnftStudy.describe other) estimates
        let chart = Plots.againstExact "value" [ for n, e in estimates do if n = "delta_G4c" || n = "G4c_free" then yield n, e ] (Map.ofList [ "delta_G4c", r.TreeLevel; "G4c_free", (analytic r |> List.tryFind (fst >> (=) "G4c_free") |> Option.map snd |> Option.defaultValue nan) ])
        Study.writePlot dir "tree-level.html" "Change of G₄c against tree level" (sprintf "%s, N = %d, λ = %g" (NetworkSpec.name r.Config.Network) (NetworkSpec.width r.Config.Network) r.Config.Lambda) chart
    /// The experiment as the command line knows it.
    let experiment : Experiment<NnftPhi4Config, NnftPhi4Result> =
        { Name = "nnft-phi4"
          Description = "φ⁴ built on neurons: the parameter density deformed by e^{−(λ/4!)∫φ⁴}, by reweighting; ΔG₄c against tree level"
          Options = options
          Configure = configure
          Describe = describe
          Run = fun c dir -> let r = run c dir in write dir r; r
          Report = report }
