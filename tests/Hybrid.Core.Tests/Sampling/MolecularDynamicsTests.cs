using Hybrid.Lattice;
using Hybrid.Phi4;
using Hybrid.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Core.Tests.Sampling;

public class MolecularDynamicsTests
{
    private static readonly Phi4Action Tutorial = new(new SquareLattice(8), Phi4Parameters.FromMass(-4, 8));

    private static (Tensor Phi, Tensor Momentum) Start(long seed, int batch = 8)
    {
        using var g = new Generator((ulong)seed);
        return (randn(new long[] { batch, 8, 8 }, dtype: ScalarType.Float64, generator: g) * 0.8,
                randn(new long[] { batch, 8, 8 }, dtype: ScalarType.Float64, generator: g));
    }

    [Theory]
    [InlineData(MolecularDynamicsIntegrator.Leapfrog)]
    [InlineData(MolecularDynamicsIntegrator.Omelyan)]
    public void IntegrationIsReversible(MolecularDynamicsIntegrator integrator)
    {
        using var scope = NewDisposeScope();
        var (phi, p) = Start(3);
        var (phi1, p1) = MolecularDynamics.Integrate(Tutorial, phi, p, 0.05, 20, integrator);
        var (phi2, p2) = MolecularDynamics.Integrate(Tutorial, phi1, -p1, 0.05, 20, integrator);
        Assert.True((phi2 - phi).abs().max().item<double>() < 1e-11, "φ not recovered after reversing the momenta");
        Assert.True((p2 + p).abs().max().item<double>() < 1e-11, "π not recovered after reversing the momenta");
        Assert.True((phi1 - phi).abs().max().item<double>() > 0.1, "the trajectory did not move");
    }

    [Theory]
    [InlineData(MolecularDynamicsIntegrator.Leapfrog)]
    [InlineData(MolecularDynamicsIntegrator.Omelyan)]
    public void EnergyViolationScalesAsStepSizeSquared(MolecularDynamicsIntegrator integrator)
    {
        // At fixed trajectory length τ = 1 both integrators are second order: ΔH = O(ε²) per trajectory,
        // so halving ε divides |ΔH| by 4. Measured as the RMS over configurations.
        using var scope = NewDisposeScope();
        var (phi, p) = Start(4, 32);
        var h0 = MolecularDynamics.Hamiltonian(Tutorial, phi, p);
        double Rms(int steps)
        {
            var (q, pp) = MolecularDynamics.Integrate(Tutorial, phi, p, 1.0 / steps, steps, integrator);
            return (MolecularDynamics.Hamiltonian(Tutorial, q, pp) - h0).square().mean().sqrt().item<double>();
        }
        double r1 = Rms(40), r2 = Rms(80), r3 = Rms(160);
        Assert.InRange(Math.Log2(r1 / r2), 1.8, 2.2);
        Assert.InRange(Math.Log2(r2 / r3), 1.9, 2.1);
    }

    [Fact]
    public void OmelyanIsMoreAccurateThanLeapfrogAtEqualCost()
    {
        // Equal gradient count: Omelyan with ε = 2/n against leapfrog with ε = 1/n.
        using var scope = NewDisposeScope();
        var (phi, p) = Start(5, 32);
        var h0 = MolecularDynamics.Hamiltonian(Tutorial, phi, p);
        double Rms(int steps, MolecularDynamicsIntegrator integrator)
        {
            var (q, pp) = MolecularDynamics.Integrate(Tutorial, phi, p, 1.0 / steps, steps, integrator);
            return (MolecularDynamics.Hamiltonian(Tutorial, q, pp) - h0).square().mean().sqrt().item<double>();
        }
        Assert.True(Rms(40, MolecularDynamicsIntegrator.Omelyan) < 0.5 * Rms(80, MolecularDynamicsIntegrator.Leapfrog));
    }
}
