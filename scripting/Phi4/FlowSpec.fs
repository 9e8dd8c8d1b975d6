namespace Hybrid.Scripting.Phi4

open System.Text.Json
open Hybrid.Phi4.Flows
open Hybrid.Lattice
open Hybrid.Phi4

/// A flow architecture, declared as data. The cases hold the core's definition records, so a definition
/// written here is the same object a C# caller would build.
type FlowSpec =
    /// Checkerboard affine couplings with convolutional networks (Albergo et al.).
    | RealNvp of RealNvpDefinition
    /// One D4- and Z₂-equivariant neural ODE (Gerdes et al.).
    | ContinuousFlow of EquivariantFlowDefinition

/// Declaring, naming and building flows:
/// `FlowSpec.realNvp 16 |> FlowSpec.withHidden [ 8; 8 ]` or `FlowSpec.continuous 50 |> FlowSpec.withSolverSteps 20`.
module FlowSpec =

    /// A realNVP of `couplings` checkerboard couplings (tutorial defaults otherwise).
    let realNvp couplings = RealNvp(RealNvpDefinition(Couplings = couplings))

    /// An equivariant continuous flow with `frequencies` field features (49 sines and the linear term for 50).
    let continuous frequencies = ContinuousFlow(EquivariantFlowDefinition(Frequencies = frequencies))

    /// The core's definition behind a spec: names, validation, building and recommended training all come from it.
    let definition spec : IFlowDefinition =
        match spec with
        | RealNvp d -> d :> IFlowDefinition
        | ContinuousFlow d -> d :> IFlowDefinition

    /// Sets the hidden channels of a realNVP's coupling networks.
    let withHidden (channels: int list) spec =
        match spec with
        | RealNvp d -> RealNvp(d.WithHiddenChannels channels)
        | other -> invalidArg "spec" (sprintf "hidden channels apply to realNVP, not %A" other)

    /// Sets the number of RK4 steps of a continuous flow (its accuracy knob).
    let withSolverSteps steps spec =
        match spec with
        | ContinuousFlow d -> ContinuousFlow(d.WithSolverSteps steps)
        | other -> invalidArg "spec" (sprintf "solver steps apply to continuous flows, not %A" other)

    /// The short name used on the command line and in checkpoints ("realnvp", "cnf").
    let name spec = (definition spec).Kind

    /// The name in tables ("realNVP", "CNF").
    let displayName spec = (definition spec).DisplayName

    /// The definition as JSON (recorded in checkpoints and config.json).
    let definitionJson spec =
        match spec with
        | RealNvp d -> JsonSerializer.Serialize d
        | ContinuousFlow d -> JsonSerializer.Serialize d

    /// Checks the definition against the lattice; raises ArgumentException naming the bad value.
    let validate (lattice: SquareLattice) spec = (definition spec).Validate lattice

    /// Builds the flow with parameters initialised from `seed`.
    let build (lattice: SquareLattice) (seed: int64) spec : LatticeFlow = (definition spec).Build(lattice, seed)
