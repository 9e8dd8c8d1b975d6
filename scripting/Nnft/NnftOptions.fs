namespace Hybrid.Scripting.Nnft

open System
open System.Globalization
open Hybrid.Nnft
open Hybrid.Scripting.Pipeline

/// Command-line options every NN-FT experiment shares: the architecture, the points, the ensemble.
module NnftOptions =

    let private invariant = CultureInfo.InvariantCulture

    /// --arch, --d, --width, --depth, --sigma-w, --sigma-b, --mass, --cutoff.
    let architecture =
        [ CommandLine.option "arch" TextOption "gauss" "gauss | erf | relu | exp | cos | deep-erf | deep-relu"
          CommandLine.option "d" IntOption "1" "input dimension d (cos: 1, 2 or 3)"
          CommandLine.option "width" IntOption "8" "width N of every hidden layer"
          CommandLine.option "depth" IntOption "2" "deep-erf, deep-relu: hidden layers"
          CommandLine.option "sigma-w" FloatOption "0.6" "σ_W: weights ~ N(0, σ_W²/fan-in)"
          CommandLine.option "sigma-b" FloatOption "0.3" "σ_b: biases ~ N(0, σ_b²)"
          CommandLine.option "mass" FloatOption "1" "cos: mass m > 0"
          CommandLine.optional "cutoff" FloatOption "cos: momentum cutoff Λ > 0 (required for d > 1; none in d = 1: the Cauchy network)" ]

    /// The architecture options with other defaults (e.g. the cos-net with a cutoff for the interacting theory).
    let architectureWith (defaults: (string * string) list) =
        for name, _ in defaults do
            if not (architecture |> List.exists (fun o -> o.Name = name)) then invalidArg "defaults" (sprintf "no architecture option %s" name)
        let given = Map.ofList defaults
        architecture |> List.map (fun o -> match given.TryFind o.Name with Some v -> { o with Default = Some v } | None -> o)

    /// The architecture, validated (the core's checks name the bad value).
    let spec (o: ParsedOptions) : NetworkSpec =
        let d = CommandLine.intIn o "d" 1L 1024L |> CommandLine.required "d" |> int
        let width = CommandLine.intIn o "width" 1L 10_000_000L |> CommandLine.required "width" |> int
        let sigmaW = CommandLine.float o "sigma-w" |> CommandLine.required "sigma-w"
        let sigmaB = CommandLine.float o "sigma-b" |> CommandLine.required "sigma-b"
        let spec =
            match (CommandLine.text o "arch" |> Option.defaultValue "gauss").ToLowerInvariant() with
            | "gauss" -> NetworkSpec.gauss d width sigmaW sigmaB
            | "erf" -> NetworkSpec.erf d width sigmaW sigmaB
            | "relu" -> NetworkSpec.relu d width sigmaW sigmaB
            | "exp" -> NetworkSpec.exp d width sigmaW sigmaB
            | "cos" ->
                NetworkSpec.cos d width (CommandLine.float o "mass" |> CommandLine.required "mass") (CommandLine.float o "cutoff" |> Option.map (fun v -> if v > 0.0 then v else raise (UsageError(sprintf "--cutoff %g is not allowed; it must be a finite number > 0" v))))
            | ("deep-erf" | "deep-relu") as a ->
                let depth = CommandLine.intIn o "depth" 1L 64L |> CommandLine.required "depth" |> int
                let activation = if a = "deep-erf" then NetworkActivation.Erf else NetworkActivation.Relu
                NetworkSpec.deep activation d (List.replicate depth width) sigmaW sigmaB
            | other -> raise (UsageError(sprintf "--arch %s is not known; allowed: gauss, erf, relu, exp, cos, deep-erf, deep-relu" other))
        CommandLine.validate (fun () -> NetworkSpec.build spec |> ignore)
        spec

    /// Points "x1;x2;…", coordinates of a point separated by commas, each of dimension d.
    let parsePoints (d: int) (text: string) : float[][] =
        let bad why = raise (UsageError(sprintf "--points \"%s\" is not allowed: %s; give points separated by ';', coordinates by ',', e.g. \"-0.3;0;0.2;0.5\" (d = 1) or \"0,0;0.5,0\" (d = 2)" text why))
        let points =
            text.Split(';', StringSplitOptions.TrimEntries)
            |> Array.map (fun p ->
                if p = "" then bad "a point is empty"
                p.Split(',', StringSplitOptions.TrimEntries)
                |> Array.map (fun c ->
                    match Double.TryParse(c, NumberStyles.Float, invariant) with
                    | true, v when Double.IsFinite v -> v
                    | _ -> bad (sprintf "'%s' is not a finite number" c)))
        if points.Length < 1 then bad "no points"
        if points.Length > 12 then bad (sprintf "%d points (at most 12)" points.Length)
        for p in points do
            if p.Length <> d then bad (sprintf "point (%s) has dimension %d, the inputs have d = %d" (String.Join(",", p)) p.Length d)
        points

    /// The fewest networks per block the errors accept (see ensembleOptionsWith).
    let minNetworksPerBlock = 100

    /// Refuses fewer than `minNetworksPerBlock` networks per block (see ensembleOptionsWith for why).
    let checkBlocks (networks: int64) (blocks: int) =
        if networks < int64 minNetworksPerBlock * int64 blocks then
            raise (UsageError(sprintf "--networks %d with --blocks %d gives %d networks per block; the jackknife over blocks needs at least %d per block: give --networks ≥ %d or fewer --blocks (≥ 2)"
                                  networks blocks (networks / int64 blocks) minNetworksPerBlock (int64 minNetworksPerBlock * int64 blocks)))

    let private gib (bytes: float) = bytes / float (1L <<< 30)

    /// Refuses, before any work, a --chunk whose networks would not fit in this machine's memory: the chunk's working
    /// set (the architecture's floats per network at the points and quadrature nodes, 8 bytes each: float64 sums and
    /// intermediates) against the memory the process may use. (--chunk 10⁷ Gauss-nets of width 8 estimate 9.6 GB and
    /// peak at 5 GB; 10⁸ would need about 50 GB.)
    let checkChunk (options: EnsembleOptions) (architecture: INetworkArchitecture) (points: int) =
        if options.ChunkSize > 0 then
            let nodes = if isNull options.Deformation then 0 else options.Deformation.Nodes.Count
            let chunk = min (int64 options.ChunkSize) options.Networks
            let need = float chunk * float (architecture.WorkingSetPerNetwork(points + nodes)) * 8.0
            let available = float (GC.GetGCMemoryInfo().TotalAvailableMemoryBytes)
            if need > 0.8 * available then
                raise (UsageError(sprintf "--chunk %d would need about %.1f GiB for its networks, more than the %.1f GiB this machine offers; give a smaller --chunk, or 0 to size it from memory"
                                      options.ChunkSize (gib need) (gib available)))

    /// --networks, --blocks, --chunk, --dtype, --engine.
    let ensemble =
        [ CommandLine.option "networks" IntOption "1000000" "networks in the ensemble"
          CommandLine.option "blocks" IntOption "64" "blocks for the errors (jackknife, bootstrap), each of at least 100 networks"
          CommandLine.option "chunk" IntOption "0" "networks drawn at once (0: from the memory they need)"
          CommandLine.option "dtype" TextOption "float64" "float64 | float32 (the networks; sums are float64)"
          CommandLine.option "engine" TextOption "auto" "auto | fused | tensor: the fused CPU kernel (single-layer gauss, exp and relu nets on the CPU, without projection or deformation) or libtorch tensors; auto: fused where it applies" ]

    /// The ensemble settings up to `maxOrder`, with a deformation to reweight to and a projection of the fields
    /// (null for none).
    let ensembleOptionsWith (o: ParsedOptions) (maxOrder: int) (deformation: QuarticDeformation) (projection: Collections.Generic.IReadOnlyList<float[]>) : EnsembleOptions =
        let dtype =
            match (CommandLine.text o "dtype" |> Option.defaultValue "float64").ToLowerInvariant() with
            | "float64" -> TorchSharp.torch.ScalarType.Float64
            | "float32" -> TorchSharp.torch.ScalarType.Float32
            | other -> raise (UsageError(sprintf "--dtype %s is not known; allowed: float64, float32" other))
        let engine =
            match (CommandLine.text o "engine" |> Option.defaultValue "auto").ToLowerInvariant() with
            | "auto" -> EnsembleEngine.Auto
            | "fused" -> EnsembleEngine.Fused
            | "tensor" -> EnsembleEngine.Tensor
            | other -> raise (UsageError(sprintf "--engine %s is not known; allowed: auto, fused, tensor" other))
        let options =
            EnsembleOptions(
                Networks = (CommandLine.intIn o "networks" 2L 1_000_000_000_000L |> CommandLine.required "networks"),
                Blocks = (CommandLine.intIn o "blocks" 2L 100_000L |> CommandLine.required "blocks" |> int),
                ChunkSize = (CommandLine.intIn o "chunk" 0L 100_000_000L |> CommandLine.required "chunk" |> int),
                MaxOrder = maxOrder,
                DType = dtype,
                Engine = engine,
                Deformation = deformation,
                Projection = projection)
        // The errors are a jackknife over block means, which assumes those means nearly Gaussian. A block mean of
        // fourth moments of n networks is skewed by about (a network's skewness)/√n, and G₄c = G₄ − 3G₂² is a
        // nonlinear function of the block sums whose jackknife bias falls as 1/n: with at least 100 networks per block
        // both are at the 10% level of the error; with one network per block the "error" is no error bar at all.
        checkBlocks options.Networks options.Blocks
        CommandLine.validate options.Validate
        options

    /// The route ("fused" or "tensor") an ensemble of `architecture` with `options` takes on `device`, for config.json
    /// (the two routes draw different streams); --engine fused where the kernel does not apply is refused naming why.
    let engineName (options: EnsembleOptions) (architecture: INetworkArchitecture) (device: Hybrid.Runtime.ComputeDevice) =
        let engine = CommandLine.validate (fun () -> NetworkEnsemble.EngineFor(architecture, options, Hybrid.Runtime.TorchRuntime.Resolve device))
        (string engine).ToLowerInvariant()

    /// The ensemble settings up to `maxOrder`, without deformation or projection.
    let ensembleOptions (o: ParsedOptions) (maxOrder: int) : EnsembleOptions = ensembleOptionsWith o maxOrder null null
