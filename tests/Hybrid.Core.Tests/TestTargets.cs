using Hybrid.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Core.Tests;

/// <summary>S(x) = ½ xᵀ Σ⁻¹ x on configurations [d]: a non-lattice target with exact moments (⟨S⟩ = d/2, ⟨x xᵀ⟩ = Σ).</summary>
internal sealed class CorrelatedGaussian : IAction
{
    private readonly Tensor precision;

    public CorrelatedGaussian(Tensor covariance)
    {
        Covariance = covariance;
        precision = linalg.inv(covariance).DetachFromDisposeScope();
    }

    public Tensor Covariance { get; }
    public IReadOnlyList<long> ConfigurationShape => new[] { Covariance.shape[0] };
    public Tensor Action(Tensor x) => x.matmul(precision).mul(x).sum(1).mul_(0.5);
    public Tensor Gradient(Tensor x) => x.matmul(precision);
    public string Describe() => $"{{\"kind\":\"gaussian\",\"dimension\":{Covariance.shape[0]}}}";

    /// <summary>Σ = A Aᵀ/d + ½ I with A standard normal from <paramref name="seed"/>: correlated, eigenvalues from ½ up.</summary>
    public static CorrelatedGaussian Random(int d, ulong seed)
    {
        using var g = new Generator(seed);
        using var a = randn(new long[] { d, d }, dtype: ScalarType.Float64, generator: g);
        return new CorrelatedGaussian(a.matmul(a.T).div_(d).add_(eye(d, dtype: ScalarType.Float64).mul_(0.5)).DetachFromDisposeScope());
    }
}
