/// scripts.fsx end to end, through `dotnet fsi` as a user runs it: every experiment at toy size, and help.
module Hybrid.Scripting.Tests.ScriptsFsxTests

open System.IO
open Expecto
open Hybrid.Scripting
open Hybrid.Scripting.Pipeline
open Hybrid.Scripting.Phi4
open Hybrid.Scripting.Tests.Support

/// Toy-size arguments of every experiment that scripts.fsx offers. A new experiment without an entry here fails
/// the first test below: each one gets an end-to-end run through the command line.
let private smoke =
    Map.ofList
        [ "phi4-hmc", [ "--L"; "4"; "--chains"; "2"; "--thermalization"; "10"; "--trajectories"; "20" ]
          "phi4-flow", [ "--L"; "4"; "--couplings"; "2"; "--steps"; "3"; "--samples"; "64" ]
          // HMC, then realNVP, then the continuous flow in one process, as the main job runs them.
          "phi4-compare", [ "--L"; "4"; "--chains"; "2"; "--trajectories"; "20"; "--realnvp-steps"; "3"; "--cnf-steps"; "2"; "--rk-steps"; "4"; "--batch"; "16"; "--samples"; "64" ]
          "nnft-correlators", [ "--networks"; "2000"; "--blocks"; "8" ]
          "nnft-width", [ "--widths"; "2,4,8"; "--networks"; "2000"; "--blocks"; "8" ]
          "nnft-phi4", [ "--width"; "10"; "--networks"; "2000"; "--blocks"; "8" ]
          "nnft-momentum", [ "--networks"; "2000"; "--blocks"; "8" ]
          "nnft-cutoff", [ "--cutoffs"; "2,4"; "--widths"; "2,3,4,5"; "--networks"; "1000"; "--blocks"; "8" ]
          "nnqm-kl", [ "--panels"; "4"; "--modes"; "3"; "--paths"; "100" ]
          "nnqm-spectrum", [ "--paths"; "200"; "--T"; "8"; "--states"; "1" ]
          "nnqm-rp", [ "--paths"; "200"; "--substeps"; "2"; "--modes"; "8" ]
          "nnqm-train", [ "--steps"; "20"; "--paths"; "200"; "--T"; "8" ]
          "o3-ed", [ "--L"; "3"; "--g2"; "1"; "--lmax"; "3" ]
          "o3-mc", [ "--L"; "3"; "--sweeps"; "200"; "--blocks"; "10"; "--thermal"; "20"; "--chains"; "1"; "--extent"; "12" ]
          "o3-mc-stepscaling", [ "--sizes"; "3"; "--sweeps"; "200"; "--blocks"; "10"; "--thermal"; "20"; "--chains"; "1"; "--extent"; "12" ]
          "o3-vmc", [ "--L"; "3"; "--steps"; "5"; "--chains"; "8"; "--measure"; "10"; "--hidden"; "4"; "--optimizer"; "adam"; "--lr"; "0.01" ]
          "o3-gap", [ "--L"; "3"; "--steps"; "5"; "--chains"; "8"; "--measure"; "10"; "--hidden"; "4" ]
          "o3-running", [ "--sizes"; "2,3"; "--steps"; "5"; "--chains"; "8"; "--measure"; "10"; "--hidden"; "4" ]
          "o3-light", [ "--sizes"; "3"; "--steps"; "5"; "--chains"; "8"; "--measure"; "10"; "--hidden"; "4" ]
          "o3-stepscaling", [ "--sizes"; "2"; "--tune-points"; "2"; "--steps"; "5"; "--chains"; "8"; "--measure"; "10"; "--hidden"; "4" ] ]

let private runSmoke (name: string) =
    let dir = Path.Combine(newDirectory "hybrid-fsx", "run")
    let code, out, err = runScript ([ name ] @ smoke.[name] @ [ "--out"; dir ])
    Expect.equal code 0 (sprintf "dotnet fsi scripts.fsx %s exits 0; stderr:\n%s" name err)
    Expect.isTrue (File.Exists(Path.Combine(dir, "summary.json"))) "summary.json written"
    Expect.isTrue (RunDirectory.isComplete dir) "the run directory is marked complete"
    out, dir

[<Tests>]
let tests =
    testList
        "scripts.fsx end to end"
        [ test "every experiment has a toy-size end-to-end run" {
              // merge takes run directories, not a toy size, and the tour is the quick main job: their own end-to-end
              // tests are below.
              for c in Catalog.commands |> List.filter (fun c -> c.Name <> "merge" && c.Name <> "tour") do
                  Expect.isTrue (smoke.ContainsKey c.Name) (sprintf "%s has smoke arguments in ScriptsFsxTests" c.Name)
          }

          test "two flow replicas run and merge through dotnet fsi" {
              let root = newDirectory "hybrid-fsx-merge"
              let replica k =
                  let dir = Path.Combine(root, sprintf "r%d" k)
                  let code, _, err = runScript ([ "phi4-flow" ] @ smoke.["phi4-flow"] @ [ "--replica"; string k; "--replicas"; "2"; "--out"; dir ])
                  Expect.equal code 0 (sprintf "replica %d exits 0; stderr:\n%s" k err)
                  dir
              let a, b = replica 0, replica 1
              let code, out, err = runScript [ "merge"; a; b; "--out"; Path.Combine(root, "merged") ]
              Expect.equal code 0 (sprintf "merge exits 0; stderr:\n%s" err)
              Expect.stringContains out "2 Markov chains" "one flow-MCMC chain per replica"
              Directory.Delete(root, true)
          }

          test "every NN-FT, NN-QM and O(3) experiment runs through scripts.fsx (one dotnet fsi process)" {
              // Each experiment, and a line of its report that says it ran to the end.
              let expected =
                  [ "nnft-correlators", "| G4c |"; "nnft-width", "## NN-FT width scan"; "nnft-phi4", "| delta_G4c |"
                    "nnft-momentum", "p₁ = p₂ = −p₃ = −p₄"; "nnft-cutoff", "against the cutoff"; "nnqm-kl", "Karhunen–Loève"
                    "nnqm-spectrum", "gap (fit)"; "nnqm-rp", "Reflection positivity"; "nnqm-train", "gap (trained model)"
                    "o3-ed", "## Exact diagonalisation of the O(3) rotor chain"; "o3-mc", "## The rotor chain's path integral"; "o3-mc-stepscaling", "## Step scaling on the path-integral reference"; "o3-vmc", "| local-energy variance |"; "o3-gap", "| m(L) = E₁ − E₀ |"
                    "o3-running", "## The running coupling"; "o3-light", "## The speed of light"; "o3-stepscaling", "## Step scaling" ]
              let root = newDirectory "hybrid-fsx"
              let dirs = expected |> List.map (fun (name, _) -> Path.Combine(root, name))
              let results = runScripts [ for (name, _), dir in List.zip expected dirs -> [ name ] @ smoke.[name] @ [ "--out"; dir ] ]
              for ((name, printed), dir), (code, out) in List.zip (List.zip expected dirs) results do
                  Expect.equal code 0 (sprintf "scripts.fsx %s exits 0; output:\n%s" name out)
                  Expect.stringContains out printed (sprintf "%s prints its report" name)
                  Expect.isTrue (RunDirectory.isComplete dir) (sprintf "%s: the run directory is marked complete" name)
              Directory.Delete(root, true)
          }

          test "phi4-hmc runs through dotnet fsi" {
              let out, dir = runSmoke "phi4-hmc"
              Expect.stringContains out "| chi2 |" "prints the table"
              Directory.Delete(Path.GetDirectoryName dir, true)
          }

          test "phi4-flow runs through dotnet fsi" {
              let out, dir = runSmoke "phi4-flow"
              Expect.stringContains out "| ess |" "prints the flow's figures of merit"
              Directory.Delete(Path.GetDirectoryName dir, true)
          }

          test "phi4-compare runs HMC, realNVP and the continuous flow in one process through dotnet fsi" {
              let out, dir = runSmoke "phi4-compare"
              Expect.stringContains out "|  | HMC | realNVP | CNF |" "prints the comparison with all three samplers"
              for sub in [ "hmc"; "realnvp"; "cnf" ] do
                  Expect.isTrue (RunDirectory.isComplete (Path.Combine(dir, sub))) (sprintf "%s run complete" sub)
              Directory.Delete(Path.GetDirectoryName dir, true)
          }

          test "the quick main job tours every capability at toy size, with one combined report" {
              let dir = Path.Combine(newDirectory "hybrid-quick", "run")
              let code, out, err = runScript [ "quick"; "--out"; dir ]
              Expect.equal code 0 (sprintf "dotnet fsi scripts.fsx quick exits 0; stderr:\n%s" err)
              Expect.stringContains out "|  | HMC | realNVP | CNF |" "prints the comparison"
              Expect.stringContains out "L = 6" "at toy size"
              Expect.isTrue (RunDirectory.isComplete dir) "the tour's directory is complete"
              Expect.isTrue (RunDirectory.isComplete (Path.Combine(dir, "phi4"))) "the φ⁴ stop's directory is complete"
              let report = File.ReadAllText(Path.Combine(dir, "summary.md"))
              Expect.stringContains report "## 1. Lattice φ⁴: flow samplers against HMC" "the φ⁴ section"
              Expect.stringContains report "### φ⁴ samplers side by side" "with the comparison nested in it"
              Expect.stringContains report "(phi4/hmc/correlator.html)" "linking the plots"
              Directory.Delete(Path.GetDirectoryName dir, true)
          }

          test "help reaches Hybrid in every documented form" {
              // `--help` is dotnet fsi's own unless it follows `--`: these two forms go through dotnet fsi's argument
              // handling; the others reach Catalog.main as typed.
              for argv in [ [ "help" ]; [ "--"; "--help" ] ] do
                  let code, out, _ = runScript argv
                  Expect.equal code 0 (sprintf "%A exits 0" argv)
                  Expect.stringContains out "phi4-compare" (sprintf "%A lists the experiments" argv)
              let forms = [ [ "help"; "phi4-hmc" ]; [ "phi4-hmc"; "help" ] ]
              for argv, (code, out) in List.zip forms (runScripts forms) do
                  Expect.equal code 0 (sprintf "%A exits 0" argv)
                  Expect.stringContains out "--trajectory-length" (sprintf "%A lists phi4-hmc's options" argv)
          } ]
