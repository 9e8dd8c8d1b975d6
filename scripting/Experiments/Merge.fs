namespace Hybrid.Scripting.Experiments

open System
open System.Globalization
open System.IO
open System.Text.Json
open System.Text.Json.Nodes
open Hybrid.Analysis
open Hybrid.Lattice
open Hybrid.Scripting

/// One replica's run directory as the merge reads it back.
type private ReplicaRun =
    { Path: string
      Experiment: string
      Parameters: JsonObject
      /// Columns of measurements.csv by name: column.[replica].[row], rows in file order.
      Columns: Map<string, float[][]> }

/// Combining the run directories of independent replicas (e.g. the jobs of a Slurm array, each run with
/// `--replica K --replicas N`) into one analysis: every chain of every replica is one replica of the Γ-method.
module Merge =

    /// Parameters that differ between replicas by design; everything else must agree.
    let private perReplica = set [ "seed"; "replica"; "replicas"; "root_seed"; "checkpoint"; "resume"; "device" ]

    let private invariant = CultureInfo.InvariantCulture

    let private read (dir: string) : ReplicaRun =
        if not (Directory.Exists dir) then raise (UsageError(sprintf "run directory '%s' does not exist" dir))
        (try (RunDirectory.readSummary dir).Dispose() with :? InvalidDataException as e -> raise (UsageError e.Message))
        let config = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json"))).AsObject()
        let experiment = config.["experiment"].GetValue<string>()
        if experiment <> "phi4-hmc" && experiment <> "phi4-flow" then
            raise (UsageError(sprintf "run directory '%s' holds a %s run; merge combines phi4-hmc or phi4-flow replicas" dir experiment))
        let lines = File.ReadAllLines(Path.Combine(dir, "measurements.csv"))
        let header = lines.[0].Split(',')
        let rows = lines.[1..] |> Array.map (fun l -> l.Split(','))
        let replicaColumn = Array.IndexOf(header, "replica")
        let byReplica = rows |> Array.groupBy (fun r -> int r.[replicaColumn]) |> Array.sortBy fst |> Array.map snd
        let columns =
            header
            |> Array.mapi (fun c name -> name, byReplica |> Array.map (Array.map (fun r -> Double.Parse(r.[c], invariant))))
            |> Map.ofArray
        { Path = dir; Experiment = experiment; Parameters = config.["parameters"].AsObject(); Columns = columns }

    /// Differences of the parameters that must agree, named key by key.
    let private differences (a: ReplicaRun) (b: ReplicaRun) =
        let keys = Seq.append (a.Parameters |> Seq.map (fun kv -> kv.Key)) (b.Parameters |> Seq.map (fun kv -> kv.Key)) |> Seq.distinct
        [ for k in keys do
              if not (perReplica.Contains k) then
                  let text (o: JsonObject) = match o.[k] with null -> "(absent)" | v -> v.ToJsonString()
                  if text a.Parameters <> text b.Parameters then
                      yield sprintf "%s is %s in '%s' but %s in '%s'" k (text a.Parameters) a.Path (text b.Parameters) b.Path ]

    /// The φ⁴ series of a run, one replica per Markov chain: HMC chains as measured, a flow-MCMC chain as the
    /// sequence of proposals it visited.
    let private series (r: ReplicaRun) : Phi4Series * float[][] =
        let col name = r.Columns.[name]
        let extent = r.Columns |> Map.filter (fun k _ -> k.StartsWith "G_") |> Map.count
        let raw =
            { Magnetization = col "M"; AbsMagnetization = col "abs_M"; MagnetizationSquared = col "M2"; MagnetizationFourth = col "M4"
              IsingEnergy = col "ising_energy"; Correlator = Array.init extent (fun t -> col (sprintf "G_%d" t)) }
        if r.Experiment = "phi4-hmc" then raw, col "accepted"
        else
            let state = (col "state").[0] |> Array.map int
            let accepted = col "accepted"
            Phi4Study.alongChain state raw, accepted

    let private concat (parts: Phi4Series list) =
        let join (f: Phi4Series -> float[][]) = parts |> List.map f |> Array.concat
        { Magnetization = join (fun s -> s.Magnetization); AbsMagnetization = join (fun s -> s.AbsMagnetization)
          MagnetizationSquared = join (fun s -> s.MagnetizationSquared); MagnetizationFourth = join (fun s -> s.MagnetizationFourth)
          IsingEnergy = join (fun s -> s.IsingEnergy)
          Correlator = Array.init parts.Head.Correlator.Length (fun t -> parts |> List.map (fun s -> s.Correlator.[t]) |> Array.concat) }

    /// Reads, checks and analyses the replicas; writes the merged analysis into `dir`. Returns the report.
    let private mergeInto (runs: ReplicaRun list) (dir: RunDirectory) =
        let first = runs.Head
        let lattice = SquareLattice(first.Parameters.["L"].GetValue<int>())
        let couplings = Phi4Parameters.FromMass(first.Parameters.["m2"].GetValue<float>(), first.Parameters.["lambda"].GetValue<float>())
        let parts = runs |> List.map series
        let merged = concat (parts |> List.map fst)
        let accepted = parts |> List.map snd |> Array.concat
        let physics = Phi4Study.analyse lattice merged
        let sampler =
            [ yield "acceptance", GammaMethod.analyze accepted
              if first.Experiment = "phi4-hmc" then
                  let boltzmann = runs |> List.map (fun r -> r.Columns.["delta_h"] |> Array.map (Array.map (fun d -> exp -d))) |> Array.concat
                  yield "exp_minus_delta_h", GammaMethod.analyze boltzmann ]
        let observables = physics.Observables @ sampler
        let report =
            String.concat "\n"
                [ sprintf "## Merged %s: L = %d, %O\n" first.Experiment lattice.Extent couplings
                  sprintf "%d run directories, %d Markov chains in all, analysed together (each chain one replica of the Γ-method; split-R̂ over all chains).\n"
                      runs.Length merged.Magnetization.Length
                  Phi4Study.markdown observables physics ]
        let parameters = first.Parameters.DeepClone().AsObject()
        for k in perReplica do parameters.Remove k |> ignore
        Json.write (dir.File "summary.json")
            (Json.object
                [ "experiment", Json.text "merge"
                  "merged_experiment", Json.text first.Experiment
                  "sources", Json.array [ for r in runs -> Json.text (Path.GetFullPath r.Path) ]
                  "parameters", (parameters :> JsonNode)
                  "chains", Json.integer merged.Magnetization.Length
                  "observables", Study.estimatesJson observables
                  "correlator", Phi4Study.correlatorJson physics ])
        Phi4Study.writeTables dir report observables physics
        report

    let private usage =
        "merge — combine the run directories of independent replicas of one experiment into one analysis\n\n"
        + "Usage: dotnet fsi scripts.fsx merge DIR DIR... [--out DIR] [--force]\n\n"
        + "Every directory must be a complete phi4-hmc or phi4-flow run of the same experiment and parameters (seeds differ);\n"
        + "each Markov chain of each directory is one replica of the Γ-method, so the merged error is that of one run over all chains."

    /// Runs `merge DIR... [--out DIR] [--force]`; returns the exit code.
    let execute (argv: string list) : int =
        match argv with
        | [] | [ "--help" ] | [ "help" ] | [ "-h" ] -> printfn "%s" usage; 0
        | _ ->
            let rec split dirs out force args =
                match args with
                | [] -> List.rev dirs, out, force
                | "--out" :: path :: rest -> split dirs (Some path) force rest
                | "--force" :: rest -> split dirs out true rest
                | (a: string) :: _ when a.StartsWith "--" -> raise (UsageError(sprintf "unknown option '%s'; allowed: --out DIR, --force" a))
                | d :: rest -> split (d :: dirs) out force rest
            try
                let dirs, out, force = split [] None false argv
                if dirs.Length < 2 then raise (UsageError(sprintf "merge needs at least two run directories, got %d" dirs.Length))
                let runs = dirs |> List.map read
                let first = runs.Head
                for r in runs.Tail do
                    if r.Experiment <> first.Experiment then
                        raise (UsageError(sprintf "'%s' is a %s run but '%s' a %s run; merge combines replicas of one experiment" r.Path r.Experiment first.Path first.Experiment))
                    match differences first r with
                    | [] -> ()
                    | d -> raise (UsageError(sprintf "these runs are not replicas of one experiment: %s" (String.concat "; " d)))
                let seeds = runs |> List.map (fun r -> r.Parameters.["seed"].ToJsonString())
                if (List.distinct seeds).Length < seeds.Length then
                    raise (UsageError "two of these runs used the same seed, so they are not independent replicas; run each with its own --replica K --replicas N")
                let claimed =
                    match out with
                    | Some path -> RunDirectory.claim force path
                    | None -> RunDirectory.claimDefault "merge" DateTime.Now
                match claimed with
                | Error message -> eprintfn "error: %s" message; Experiment.BadInput
                | Ok dir ->
                    try
                        let report = mergeInto runs dir
                        RunDirectory.complete dir "merge"
                        printfn "\n%s" report
                        printfn "Results: %s" dir.Path
                        0
                    finally
                        RunDirectory.release dir
            with UsageError message ->
                eprintfn "error: %s (see 'dotnet fsi scripts.fsx merge help')" message
                Experiment.BadInput

    /// The command as the catalog lists it.
    let command : Command =
        { Name = "merge"
          Description = "combine run directories of independent replicas (--replica K --replicas N) into one Γ-method analysis"
          Options = []
          Execute = execute }
