namespace Hybrid.Scripting

open Hybrid.Scripting.Pipeline
open Hybrid.Scripting.Phi4
open Hybrid.Scripting.Nnft
open Hybrid.Scripting.Nnqm
open Hybrid.Scripting.O3

/// Every experiment that scripts.fsx can run, and the main job.
module Catalog =

    /// What `merge` combines: the replicas of the experiments that write their samples to measurements.csv.
    let mergers : Merger list = [ Phi4Merge.merger; NnftMerge.merger; NnqmMerge.merger ]

    /// The experiments that the tour and the command line run, by command name.
    let private experiments : Command list =
        [ Experiment.command Phi4Hmc.experiment
          Experiment.command Phi4Flow.experiment
          Experiment.command Phi4Compare.experiment
          Experiment.command NnftCorrelators.experiment
          Experiment.command NnftWidth.experiment
          Experiment.command NnftPhi4.experiment
          Experiment.command NnftMomentum.experiment
          Experiment.command NnftCutoff.experiment
          Experiment.command NnqmKl.experiment
          Experiment.command NnqmSpectrum.experiment
          Experiment.command NnqmRp.experiment
          Experiment.command NnqmTrain.experiment
          Experiment.command O3Ed.experiment
          Experiment.command O3Mc.experiment
          Experiment.command O3State.experiment
          Experiment.command O3Gap.experiment
          Experiment.command O3Running.experiment
          Experiment.command O3Light.experiment
          Experiment.command O3StepScaling.experiment
          Experiment.command O3McStepScaling.experiment
          Merge.command mergers ]

    /// The main job's stops, one per capability; the others join as they land.
    let stops : TourStop list =
        [ { Key = "phi4"
            Title = "Lattice φ⁴: flow samplers against HMC"
            About =
              "HMC, realNVP (Albergo, Kanwar, Shanahan, arXiv:1904.12072) and the equivariant continuous flow (Gerdes, de Haan, Rainone, "
              + "Bondesan, Cheng, arXiv:2207.00283) at the tutorial point L = 8, m² = −4, λ = 8, where the literature gives χ₂ = 0.75(1). "
              + "The flows sample exactly through independence Metropolis: their physics rows must agree with HMC's within errors, and "
              + "ESS, τ_int and cost say how well each flow has learned the theory."
            Command = "phi4-compare"
            Arguments = []
            QuickArguments =
              [ "--L"; "6"; "--chains"; "4"; "--trajectories"; "200"; "--realnvp-steps"; "20"; "--cnf-steps"; "5"
                "--rk-steps"; "8"; "--batch"; "32"; "--samples"; "512" ] }
          { Key = "nnft-kernel"
            Title = "Neural-network field theory: random networks against their Gaussian process"
            About =
              "An ensemble of 10⁶ one-layer Gauss-nets of width 8 (Halverson, Maiti, Stoner, arXiv:2008.08601, σ_W = 0.6, σ_b = 0.3, "
              + "x = −0.3, 0, 0.2, 0.5): every G₂ must match the infinite-width kernel at any width, and G₄c the O(1/N) formula, "
              + "0.0177 at N = 8."
            Command = "nnft-correlators"
            Arguments = []
            QuickArguments = [ "--networks"; "20000"; "--blocks"; "16" ] }
          { Key = "nnft-width"
            Title = "Neural-network field theory: the approach to the Gaussian process as the width grows"
            About =
              "G₄c of Gauss-nets against the width N = 2 … 128 (10⁶ networks each), with the O(1/N) formula beside it and a log-log fit "
              + "G₄c = A·N^(−s): s must be 1 within its error."
            Command = "nnft-width"
            Arguments = []
            QuickArguments = [ "--widths"; "2,4,8"; "--networks"; "20000"; "--blocks"; "16" ] }
          { Key = "nnqm-spectrum"
            Title = "Neural-network quantum mechanics: the Mehler spectrum read off a Euclidean correlator"
            About =
              "z = erf(u) of a standardised Ornstein–Uhlenbeck process (Ferko and Halverson, arXiv:2504.05462) is a quantum system whose "
              + "two-point function is (2/π) arcsin(k e^{−ωt}): gaps ω, 3ω, 5ω with weights (2/π)(k, k³/6, 3k⁵/40), k = 2/3. A correlated "
              + "Källén–Lehmann fit to 4000 sampled paths must recover the lowest gap and weight within errors."
            Command = "nnqm-spectrum"
            Arguments = []
            QuickArguments = [ "--paths"; "500" ] }
          { Key = "nnqm-rp"
            Title = "Neural-network quantum mechanics: which processes are quantum mechanics (reflection positivity)"
            About =
              "Osterwalder–Schrader Gram matrices ⟨f(x(t_i)) f(x(−t_j))⟩ of a bounded f at t = 0, 0.25, 0.5 for Ornstein–Uhlenbeck, "
              + "erf(u) and a random erf network of OU inputs (deep NN-QM), the Karhunen–Loève-built OU, the anharmonic oscillator's "
              + "ground-state diffusion, and a Gaussian process with kernel e^{−t²/2}. The first five must be positive within errors; "
              + "the Gaussian kernel, not completely monotone, must show a significantly negative eigenvalue."
            Command = "nnqm-rp"
            Arguments = []
            QuickArguments = [ "--paths"; "2000"; "--substeps"; "5" ] }
          { Key = "nnqm-train"
            Title = "Neural-network quantum mechanics: a network trained to be the anharmonic oscillator"
            About =
              "A deep NN-QM (an Ornstein–Uhlenbeck input of trainable rate feeding an odd tanh network) trained so that its Euclidean "
              + "two-point function is that of p²/2 + x²/2 + x⁴. Its spectrum, exact from its Hermite expansion and read off 20000 sampled "
              + "paths by the Källén–Lehmann fit, must give E₁ − E₀ = 1.93412 within 1% and |⟨0|x|1⟩|² = 0.25664 within 2% "
              + "(exact diagonalisation)."
            Command = "nnqm-train"
            Arguments = []
            QuickArguments = [ "--steps"; "300"; "--paths"; "500" ] }
          { Key = "o3"
            Title = "Neural-network wavefunctions: the O(3) σ-model's mass gap against exact diagonalisation"
            About =
              "Variational Monte Carlo of the rotor chain H = (g²/2) Σ L_i² − (1/g²) Σ n_i·n_{i+1} (the Hamiltonian lattice of the 1+1D "
              + "O(3) σ-model) at L = 4, g² = 1: a translation- and O(3)-invariant network for the singlet ground state and an "
              + "equivariant one for the l = 1 state, trained by stochastic reconfiguration with forward-Laplacian local energies. "
              + "Exact diagonalisation gives E₀ = −0.70111542 and m(L) = E₁ − E₀ = 0.48258741; VMC must reach E₀ within 2·10⁻⁴ "
              + "relative and the gap within 0.5%."
            Command = "o3-gap"
            Arguments = [ "--L"; "4"; "--g2"; "1" ]
            QuickArguments = [ "--L"; "4"; "--g2"; "1"; "--steps"; "30"; "--chains"; "16"; "--measure"; "20"; "--hidden"; "4" ] } ]

    let private execute (name: string) (argv: string list) =
        (experiments |> List.find (fun c -> c.Name = name)).Execute argv

    /// Every command: the tour (the main job), then each experiment.
    let commands : Command list = Experiment.command (Tour.experiment stops execute) :: experiments

    /// What `dotnet fsi scripts.fsx` runs without arguments: the tour, one run per capability (now lattice φ⁴: HMC,
    /// realNVP and the equivariant continuous flow side by side at the Albergo et al. tutorial point), one report.
    let mainJob : string list = [ "tour" ]

    /// The main job at toy size (`dotnet fsi scripts.fsx quick`, `dotnet fsi build.fsx run --quick`): the same code path
    /// in about a minute, for CI and for a first check on a new machine. Its numbers are not physics.
    let quickJob : string list = mainJob @ [ "--quick" ]

    let private overview () =
        let lines = commands |> List.map (fun c -> sprintf "  %-14s %s" c.Name c.Description) |> String.concat "\n"
        sprintf "Hybrid — neural-network methods for quantum field theory\n\nUsage: dotnet fsi scripts.fsx [experiment] [options]\n       (no arguments: the main job, %s; 'quick': the same at toy size)\n\nExperiments:\n%s\n\n'dotnet fsi scripts.fsx help <experiment>' lists an experiment's options. (dotnet fsi keeps --help and -h for itself;\n'help' works in every position, and so does '--help' after a '--'.)" (String.concat " " mainJob) lines

    let private unknown name =
        eprintfn "error: unknown experiment '%s'; allowed: %s (see 'dotnet fsi scripts.fsx help')" name (commands |> List.map (fun c -> c.Name) |> String.concat ", ")
        Experiment.BadInput

    /// Runs the command line of scripts.fsx; returns the exit code.
    let main (argv: string list) : int =
        match (if List.isEmpty argv then mainJob else argv) with
        | ("--help" | "-h" | "help") :: "quick" :: _ -> (commands |> List.find (fun c -> c.Name = List.head quickJob)).Execute [ "--help" ]
        | "quick" :: rest -> (commands |> List.find (fun c -> c.Name = List.head quickJob)).Execute(List.tail quickJob @ rest)
        | ("--help" | "-h" | "help") :: name :: _ when not (name.StartsWith "-") ->
            match commands |> List.tryFind (fun c -> c.Name = name) with
            | Some command -> command.Execute [ "--help" ]
            | None -> unknown name
        | ("--help" | "-h" | "help") :: _ ->
            printfn "%s" (overview ())
            0
        | name :: rest ->
            match commands |> List.tryFind (fun c -> c.Name = name) with
            | Some command -> command.Execute rest
            | None -> unknown name
        | [] -> Experiment.BadInput
