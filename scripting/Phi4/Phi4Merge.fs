namespace Hybrid.Scripting.Phi4

open System.IO
open System.Text.Json.Nodes
open Hybrid.Analysis.Statistics
open Hybrid.Lattice
open Hybrid.Phi4
open Hybrid.Scripting.Pipeline

/// Merging replicas of the φ⁴ samplers (phi4-hmc, phi4-flow): the joined chains analysed as one φ⁴ study.
module Phi4Merge =

    /// The φ⁴ series of a run, one replica per Markov chain: HMC chains as measured, a flow-MCMC chain as the
    /// sequence of proposals it visited.
    let private series (r: ReplicaRun) : Phi4Series * float[][] =
        let col (name: string) = r.Measurements.[name]
        let raw = Phi4Study.ofMeasurements r.Measurements
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
    let mergeInto (runs: ReplicaRun list) (dir: RunDirectory) =
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
                  let boltzmann = runs |> List.map (fun r -> r.Measurements.["delta_h"] |> Array.map (Array.map (fun d -> exp -d))) |> Array.concat
                  yield "exp_minus_delta_h", GammaMethod.analyze boltzmann ]
        let observables = physics.Observables @ sampler
        let report =
            String.concat "\n"
                [ sprintf "## Merged %s: L = %d, %O\n" first.Experiment lattice.Extent couplings
                  sprintf "%d run directories, %d Markov chains in all, analysed together (each chain one replica of the Γ-method; split-R̂ over all chains).\n"
                      runs.Length merged.Magnetization.Length
                  Phi4Study.markdown observables physics ]
        let parameters = Merge.sharedParameters runs
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

    /// The merger the catalog registers for phi4-hmc and phi4-flow.
    let merger : Merger = { Experiments = [ "phi4-hmc"; "phi4-flow" ]; Check = (fun _ -> None); Merge = mergeInto }
