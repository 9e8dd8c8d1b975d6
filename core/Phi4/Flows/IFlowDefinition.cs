using Hybrid.Lattice;

namespace Hybrid.Phi4.Flows;

/// <summary>
/// What a kind of lattice flow is, decided in one place: its names, its checks against a lattice, how to build it,
/// and the optimiser settings it trains well with. <see cref="RealNvpDefinition"/> and
/// <see cref="EquivariantFlowDefinition"/> implement it; scripting, benchmarks and checkpoints ask it.
/// </summary>
public interface IFlowDefinition
{
    /// <summary>Short name on the command line and in checkpoints ("realnvp", "cnf").</summary>
    string Kind { get; }

    /// <summary>Name in tables and reports ("realNVP", "CNF").</summary>
    string DisplayName { get; }

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first value that does not fit <paramref name="lattice"/>.</summary>
    void Validate(SquareLattice lattice);

    /// <summary>Builds the flow for <paramref name="lattice"/> with parameters initialised from <paramref name="seed"/>.</summary>
    LatticeFlow Build(SquareLattice lattice, long seed);

    /// <summary>The optimiser settings this flow trains well with (learning rate, Adam's betas), from its paper.</summary>
    FlowTrainingOptions RecommendedTraining { get; }
}

/// <summary>The flows Hybrid knows, by kind.</summary>
public static class FlowDefinitions
{
    /// <summary>Every kind, in the order tables show them.</summary>
    public static IReadOnlyList<string> Kinds { get; } = new[] { "realnvp", "cnf" };

    /// <summary>The default definition of <paramref name="kind"/>.</summary>
    /// <exception cref="ArgumentException">An unknown kind; the message lists the known ones.</exception>
    public static IFlowDefinition Default(string kind) => kind switch
    {
        "realnvp" => new RealNvpDefinition(),
        "cnf" => new EquivariantFlowDefinition(),
        _ => throw new ArgumentException($"flow '{kind}' is not known; allowed: {string.Join(", ", Kinds)}"),
    };
}
