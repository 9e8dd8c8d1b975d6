namespace Hybrid.Scripting.Phi4

open Hybrid.Lattice
open Hybrid.Phi4
open Hybrid.Scripting.Pipeline

/// Command-line options that every φ⁴ experiment shares: lattice and couplings (seed, replicas and device are
/// CommonOptions, shared by every experiment).
module Phi4Options =

    /// --L, --m2, --lambda, --kappa, --lambda-tilde.
    let theory =
        [ CommandLine.option "L" IntOption "8" "lattice extent L (L×L periodic lattice, L ≥ 2)"
          CommandLine.option "m2" FloatOption "-4" "bare mass squared m²"
          CommandLine.option "lambda" FloatOption "8" "quartic coupling λ ≥ 0"
          CommandLine.optional "kappa" FloatOption "hopping parameter κ > 0 (with --lambda-tilde, instead of --m2/--lambda)"
          CommandLine.optional "lambda-tilde" FloatOption "hopping-form coupling λ̃ ≥ 0 (with --kappa)" ]

    /// The lattice, validated.
    let lattice (o: ParsedOptions) =
        let extent = CommandLine.intIn o "L" 2L 4096L |> CommandLine.required "L" |> int
        CommandLine.validate (fun () -> SquareLattice extent)

    /// The couplings from either parameterisation, validated.
    let couplings (o: ParsedOptions) =
        if CommandLine.has o "kappa" || CommandLine.has o "lambda-tilde" then
            if CommandLine.has o "m2" || CommandLine.has o "lambda" then
                raise (UsageError "give either --m2/--lambda or --kappa/--lambda-tilde, not both")
            let kappa = CommandLine.float o "kappa" |> CommandLine.required "kappa"
            let lambdaTilde = CommandLine.float o "lambda-tilde" |> CommandLine.required "lambda-tilde"
            CommandLine.validate (fun () -> Phi4Parameters.FromHopping(kappa, lambdaTilde))
        else
            let m2 = CommandLine.float o "m2" |> CommandLine.required "m2"
            let lambda = CommandLine.float o "lambda" |> CommandLine.required "lambda"
            CommandLine.validate (fun () -> Phi4Parameters.FromMass(m2, lambda))

    /// The theory part of config.json.
    let describe (lattice: SquareLattice) (p: Phi4Parameters) =
        [ "L", Json.integer lattice.Extent
          "m2", Json.number p.MassSquared
          "lambda", Json.number p.Lambda
          "kappa", Json.number p.Kappa
          "lambda_tilde", Json.number p.LambdaTilde ]
