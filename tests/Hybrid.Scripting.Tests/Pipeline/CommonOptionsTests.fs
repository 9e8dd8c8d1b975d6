/// The options that mean the same everywhere: every experiment that samples or trains takes --seed, --replica and
/// --replicas, and --device where its tensors can live on a GPU, from CommonOptions; config.json records them; bad
/// values are refused in one line; `merge` accepts exactly the experiments whose help says it can.
module Hybrid.Scripting.Tests.Pipeline.CommonOptionsTests

open System
open System.IO
open System.Text.Json.Nodes
open Expecto
open Hybrid.Sampling
open Hybrid.Scripting
open Hybrid.Scripting.Pipeline
open Hybrid.Scripting.Phi4
open Hybrid.Scripting.Nnft
open Hybrid.Scripting.Nnqm
open Hybrid.Scripting.O3
open Hybrid.Scripting.Tests.Support

/// An experiment as these tests see it: its name and options, config.json's parameters for a command line (configured
/// and described, nothing run), where in them the seeds are, and whether it takes --device.
type private Case =
    { Name: string
      Options: OptionSpec list
      Parameters: string list -> JsonNode
      Seeds: JsonNode -> JsonNode
      Device: bool }

let private case (e: Experiment<'Config, 'Result>) (device: bool) (seeds: JsonNode -> JsonNode) =
    { Name = e.Name; Options = e.Options; Parameters = (fun args -> e.Describe(e.Configure(CommandLine.parse e.Options args)))
      Seeds = seeds; Device = device }

/// The experiments that sample or train, but for phi4-flow and phi4-compare (whose tests are their own). nnqm-kl (a
/// small CPU eigenproblem and a managed-code check), o3-mc and the step scaling on it (a managed-code cluster sampler)
/// have no tensors to place, so no --device.
let private cases =
    [ case Phi4Hmc.experiment true id
      case NnftCorrelators.experiment true id
      case NnftWidth.experiment true id
      case NnftPhi4.experiment true id
      case NnftMomentum.experiment true id
      case NnftCutoff.experiment true id
      case NnqmKl.experiment false id
      case NnqmRp.experiment true id
      case NnqmSpectrum.experiment true id
      case NnqmTrain.experiment true id
      case O3Mc.experiment false id
      case O3State.experiment true id
      case O3Gap.experiment true id
      case O3Running.experiment true id
      case O3Light.experiment true id
      case O3StepScaling.experiment true id
      case O3McStepScaling.experiment false (fun p -> p.["mc"]) ]

let private integer (node: JsonNode) (key: string) = node.[key].GetValue<int64>()

/// Runs the command line; expects exit 2, one line on stderr naming every fragment, and no run directory.
let private refused (argv: string list) (fragments: string list) =
    let out = Path.Combine(newDirectory "hybrid-options", "never")
    let code, message = runCapturingErrors (argv @ [ "--out"; out ])
    Expect.equal code 2 (sprintf "exit code 2 for %A (stderr: %s)" argv message)
    for f in fragments do
        Expect.stringContains message f (sprintf "the error of %A names %s" argv f)
    Expect.equal (message.Trim().Split('\n').Length) 1 (sprintf "the error is one line: %s" message)
    Expect.isFalse (Directory.Exists out) "nothing is written"

/// config.json's parameters of a finished run.
let private parameters (dir: string) = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json"))).["parameters"]

/// The paths of an nnqm-spectrum run, read back from its measurements.csv.
let private paths (dir: string) = fst (NnqmSpectrum.ofMeasurements (Measurements.read (Path.Combine(dir, "measurements.csv"))))

[<Tests>]
let tests =
    testList
        "options"
        [ test "every experiment that samples or trains takes the shared seed, replica and device options; config.json records them" {
              for c in cases do
                  let spec name = c.Options |> List.tryFind (fun o -> o.Name = name)
                  Expect.equal (spec "seed") (Some CommonOptions.seedOptions.Head) (sprintf "%s: --seed is the shared one" c.Name)
                  for name in [ "replica"; "replicas" ] do
                      Expect.isSome (spec name) (sprintf "%s takes --%s" c.Name name)
                  Expect.equal (spec "replicas") (Some (CommonOptions.replicaOptionsWith "").[1]) (sprintf "%s: --replicas is the shared one" c.Name)
                  Expect.equal (spec "device").IsSome c.Device (sprintf "%s takes --device: %b" c.Name c.Device)
                  let single = c.Parameters ([ "--seed"; "7" ] @ (if c.Device then [ "--device"; "cpu" ] else []))
                  let seeds = c.Seeds single
                  Expect.equal (integer seeds "seed") 7L (sprintf "%s: a single run uses the root seed" c.Name)
                  Expect.equal (integer seeds "root_seed") 7L (sprintf "%s: the root seed" c.Name)
                  Expect.isNull seeds.["replica"] (sprintf "%s: no replica" c.Name)
                  Expect.isNull seeds.["replicas"] (sprintf "%s: no replicas" c.Name)
                  if c.Device then Expect.equal (single.["device"].GetValue<string>()) "cpu" (sprintf "%s: the device" c.Name)
                  else Expect.isFalse (single.AsObject().ContainsKey "device") (sprintf "%s records no device it does not take" c.Name)
                  let replica k = c.Seeds(c.Parameters [ "--seed"; "7"; "--replica"; string k; "--replicas"; "2" ])
                  let first, second = replica 0, replica 1
                  Expect.equal (integer second "seed") (Seeds.Replica(7L, 1)) (sprintf "%s: replica 1's seed is derived from the root" c.Name)
                  Expect.notEqual (integer second "seed") (integer first "seed") (sprintf "%s: replicas 0 and 1 differ" c.Name)
                  Expect.notEqual (integer second "seed") 7L (sprintf "%s: not the root seed itself" c.Name)
                  Expect.equal (integer second "root_seed") 7L (sprintf "%s: the root seed" c.Name)
                  Expect.equal (integer second "replica") 1L (sprintf "%s: the replica" c.Name)
                  Expect.equal (integer second "replicas") 2L (sprintf "%s: the replicas" c.Name)
          }

          test "a step-scaling study's stored points are stamped with the root seed, so its replicas share them" {
              // VMC: the stamp of a points file; the path integral: what o3-mc-stepscaling stamps its gaps with.
              let vmc k = O3Vmc.settings (CommandLine.parse (O3Vmc.options "10" O3Vmc.sharedPointsReplicas) [ "--seed"; "7"; "--replica"; string k; "--replicas"; "2" ]) 4
              let stamp k = (Json.object (O3Vmc.describeSettings (vmc k))).ToJsonString()
              Expect.equal (stamp 0) (stamp 1) "replicas stamp their states alike"
              Expect.notEqual (O3Vmc.seed (vmc 0)) (O3Vmc.seed (vmc 1)) "and sample with their own seeds"
              let mc k = O3PathIntegral.configure (CommandLine.parse O3PathIntegral.options [ "--seed"; "7"; "--replica"; string k; "--replicas"; "2" ])
              Expect.equal (mc 0).Seed (mc 1).Seed "the gaps' stamp holds the root seed"
              Expect.notEqual (O3PathIntegral.seed (mc 0)) (O3PathIntegral.seed (mc 1)) "the chains sample with the replica's seed"
          }

          test "bad seed, replica and device values are refused in one line before any work" {
              for c in cases do
                  refused [ c.Name; "--seed"; "-1" ] [ "--seed -1" ]
                  refused [ c.Name; "--replica"; "2"; "--replicas"; "2" ] [ "--replica 2"; "0..1" ]
                  refused [ c.Name; "--replicas"; "0"; "--replica"; "0" ] [ "--replicas 0" ]
                  refused [ c.Name; "--replica"; "1" ] [ "go together" ]
                  if c.Device then refused [ c.Name; "--device"; "tpu" ] [ "'tpu'"; "auto, cpu, cuda" ]
                  else refused [ c.Name; "--device"; "cpu" ] [ "unknown option '--device'" ]
          }

          test "--replica says how the replicas combine, and merge accepts exactly the experiments whose help says it can" {
              let mergeable = Catalog.mergers |> List.collect (fun m -> m.Experiments) |> set
              let withReplicas = Catalog.commands |> List.filter (fun c -> c.Options |> List.exists (fun o -> o.Name = "replica"))
              for c in withReplicas do
                  let help = (c.Options |> List.find (fun o -> o.Name = "replica")).Help
                  let merged, notMerged = help.Contains CommonOptions.merged, help.Contains(CommonOptions.notMerged "")
                  Expect.isTrue (merged <> notMerged) (sprintf "%s's --replica says whether merge combines its replicas: %s" c.Name help)
                  Expect.equal merged (mergeable.Contains c.Name) (sprintf "%s: its help says merge combines it (%b) exactly when merge does" c.Name merged)
              for name in cases |> List.map (fun c -> c.Name) do
                  Expect.isTrue (withReplicas |> List.exists (fun c -> c.Name = name)) (sprintf "%s is in the catalog with --replica" name)
          }

          test "replicas of nnqm-spectrum have their own seeds and merge into the analysis of all their paths" {
              let replica k =
                  runInto [ "nnqm-spectrum"; "--process"; "ou"; "--states"; "1"; "--paths"; "300"; "--T"; "6"; "--fit-until"; "2"
                            "--seed"; "3"; "--device"; "cpu"; "--replica"; string k; "--replicas"; "2" ]
              let a, b = replica 0, replica 1
              Expect.notEqual (integer (parameters a) "seed") (integer (parameters b) "seed") "each replica its own seed"
              Expect.equal ((parameters b).["device"].GetValue<string>()) "cpu" "the device is recorded"
              Expect.notEqual (paths a) (paths b) "and its own paths"
              Expect.equal (paths a).Length (300 * 61) "every path is kept: 300 paths of T/Δt + 1 = 61 steps"
              let merged = Path.Combine(newDirectory "hybrid-merge-nnqm", "merged")
              Expect.equal (Catalog.main [ "merge"; a; b; "--out"; merged ]) 0 "merge succeeds"
              // The same analysis of the 600 paths read back from the two replicas.
              let config = NnqmSpectrum.configure (CommandLine.parse NnqmSpectrum.options [ "--process"; "ou"; "--states"; "1"; "--paths"; "600"; "--T"; "6"; "--fit-until"; "2"; "--seed"; "3" ])
              let expected = NnqmSpectrum.analyse { config with Seed = integer (parameters a) "seed" } (Array.append (paths a) (paths b)) None 0.0
              let summary = JsonNode.Parse(File.ReadAllText(Path.Combine(merged, "summary.json")))
              let gap = summary.["fit"].["gaps"].[0]
              Expect.equal (summary.["merged_experiment"].GetValue<string>()) "nnqm-spectrum" "what was merged"
              Expect.equal (summary.["parameters"].["paths"].GetValue<int>()) 600 "300 + 300 paths"
              Expect.floatClose Accuracy.veryHigh (gap.["mean"].GetValue<float>()) expected.Fit.Energies.[0].Mean "the gap of all paths"
              Expect.floatClose Accuracy.veryHigh (gap.["error"].GetValue<float>()) expected.Fit.Energies.[0].Error "its error over all paths"
              Expect.floatClose Accuracy.veryHigh (summary.["observables"].["kink"].["mean"].GetValue<float>()) expected.Kink.Mean "the kink of all paths"
              let replicaError (dir: string) = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "summary.json"))).["fit"].["gaps"].[0].["error"].GetValue<float>()
              Expect.isLessThan (gap.["error"].GetValue<float>()) (max (replicaError a) (replicaError b)) "twice the paths, a smaller error"
              Expect.isLessThan (abs (gap.["mean"].GetValue<float>() - 1.0) / gap.["error"].GetValue<float>()) 4.0 "the gap ω = 1 within errors"
              // A replica whose measurements.csv lost its paths (here: only a correlator table) is refused by name.
              Measurements.write (Path.Combine(b, "measurements.csv")) (Measurements.ofColumns [ "t", [| [| 0.1; 0.2 |] |] ])
              refused [ "merge"; a; b ] [ b; "no column y" ]
          }

          test "merge refuses replicas of an experiment it cannot combine, naming it and what it can merge" {
              let replica k = runInto [ "nnqm-kl"; "--modes"; "4"; "--panels"; "4"; "--paths"; "100"; "--replica"; string k; "--replicas"; "2" ]
              let a, b = replica 0, replica 1
              refused [ "merge"; a; b ] [ "nnqm-kl"; "phi4-hmc"; "nnft-correlators"; "nnqm-spectrum" ]
          }

          test "replicas run with their derived seeds, on the device asked for" {
              let check (argv: string list) =
                  let dir = runInto (argv @ [ "--seed"; "11"; "--replica"; "1"; "--replicas"; "3" ])
                  let p = parameters dir
                  let seeds = if argv.Head = "o3-mc-stepscaling" then p.["mc"] else p
                  Expect.equal (integer seeds "seed") (Seeds.Replica(11L, 1)) (sprintf "%s: the derived seed" argv.Head)
                  if not (isNull p.["device"]) then Expect.equal (p.["device"].GetValue<string>()) "cpu" (sprintf "%s: the device" argv.Head)
                  dir
              let rp k = runInto [ "nnqm-rp"; "--processes"; "ou,deep-ou,kl,gaussian-kernel"; "--paths"; "400"; "--device"; "cpu"; "--replica"; string k; "--replicas"; "2" ]
              let eigenvalues (dir: string) = File.ReadAllText(Path.Combine(dir, "measurements.csv"))
              Expect.notEqual (eigenvalues (rp 0)) (eigenvalues (rp 1)) "nnqm-rp: replicas draw their own samples"
              check [ "nnqm-rp"; "--processes"; "anharmonic"; "--paths"; "200"; "--substeps"; "2"; "--device"; "cpu" ] |> ignore
              check [ "nnqm-train"; "--steps"; "20"; "--paths"; "100"; "--T"; "6"; "--fit-until"; "2"; "--states"; "1"; "--device"; "cpu" ] |> ignore
              check [ "nnqm-spectrum"; "--process"; "deep-ou"; "--paths"; "100"; "--T"; "6"; "--fit-until"; "2"; "--states"; "1"; "--device"; "cpu" ] |> ignore
              check [ "o3-vmc"; "--L"; "2"; "--chains"; "4"; "--measure"; "4"; "--hidden"; "4"; "--samples-per-chain"; "2"; "--steps"; "2"; "--device"; "cpu" ] |> ignore
              check [ "o3-mc"; "--L"; "8"; "--g2"; "4"; "--extent"; "4"; "--spacings"; "0.1,0.075,0.05"; "--sweeps"; "2000"; "--blocks"; "20"; "--thermal"; "50"; "--chains"; "1" ] |> ignore
          } ]
