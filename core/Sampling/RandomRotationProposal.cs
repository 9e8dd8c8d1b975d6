using Hybrid.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Sampling;

/// <summary>Which unit vectors of a configuration a <see cref="RandomRotationProposal"/> moves.</summary>
public enum RotationMove
{
    /// <summary>
    /// One site per chain, chosen uniformly: small moves that keep the acceptance high at any chain length. Only the
    /// chosen site's vector is turned, so a sampler whose target supports it can evaluate the move locally.
    /// </summary>
    SingleSite,
    /// <summary>Every site at once, each by its own rotation: collective moves that decorrelate long-wavelength modes.</summary>
    AllSites,
}

/// <summary>
/// Proposes rotated unit vectors for configurations [B, sites, 3] on (S²)^sites: each moved vector turns about a uniformly
/// random axis by an angle uniform in [−Scale, Scale] (Scale capped at π). The rotation and its inverse have the same
/// density, so the proposal is symmetric and the Hastings correction is zero. Vectors are renormalised after the turn,
/// so rounding never lets them drift off the sphere.
/// </summary>
public sealed class RandomRotationProposal : ISiteProposal
{
    private double scale;

    /// <summary>A proposal of <paramref name="move"/> with initial angle scale <paramref name="scale"/> (radians).</summary>
    public RandomRotationProposal(RotationMove move, double scale = 0.5)
    {
        TorchRuntime.EnsureLoaded();
        Move = move;
        Scale = scale;
    }

    /// <summary>Which sites move.</summary>
    public RotationMove Move { get; }

    /// <inheritdoc/>
    public bool MovesOneSite => Move == RotationMove.SingleSite;

    /// <summary>The largest rotation angle (radians), in (0, π]; larger values are held at π.</summary>
    public double Scale
    {
        get => scale;
        set
        {
            if (!(value > 0) || !double.IsFinite(value)) throw new ArgumentException($"rotation scale {value} is not allowed; it must be a finite angle > 0");
            scale = Math.Min(value, Math.PI);
        }
    }

    /// <inheritdoc/>
    public (Tensor Proposed, Tensor LogCorrection) Propose(Tensor x, Generator generator)
    {
        if (x.dim() != 3 || x.shape[2] != 3) throw new ArgumentException($"configurations of shape [{string.Join(", ", x.shape)}] do not fit; expected [batch, sites, 3]");
        long batch = x.shape[0];
        Tensor proposed;
        if (Move == RotationMove.AllSites) proposed = Rotate(x, generator);
        else
        {
            var (site, vector) = ProposeSite(x, generator);
            var index = site.view(batch, 1, 1).expand(batch, 1, 3);
            proposed = x.scatter(1, index, vector.unsqueeze(1));
        }
        return (proposed, zeros(new long[] { batch }, dtype: x.dtype, device: x.device));
    }

    /// <summary>
    /// A single-site move of every chain of <paramref name="x"/> [B, sites, 3]: the site, uniform in 0 … sites − 1 ([B],
    /// int64), and its turned vector [B, 3]. The random numbers are drawn in this order (sites, axes, angles), the same
    /// whether the move is then applied to the whole configuration (<see cref="Propose"/>) or evaluated locally, so that
    /// both routes of a sampler follow identical chains.
    /// </summary>
    public (Tensor Site, Tensor Vector) ProposeSite(Tensor x, Generator generator)
    {
        if (x.dim() != 3 || x.shape[2] != 3) throw new ArgumentException($"configurations of shape [{string.Join(", ", x.shape)}] do not fit; expected [batch, sites, 3]");
        if (Move != RotationMove.SingleSite) throw new InvalidOperationException("only a single-site proposal moves one site");
        long batch = x.shape[0], sites = x.shape[1];
        var site = randint(sites, new long[] { batch }, dtype: ScalarType.Int64, device: x.device, generator: generator);
        var current = x.gather(1, site.view(batch, 1, 1).expand(batch, 1, 3)).squeeze(1);
        return (site, Rotate(current, generator));
    }

    /// <summary>Every vector of <paramref name="x"/> ([…, 3]) turned by its own random rotation (Rodrigues' formula).</summary>
    private Tensor Rotate(Tensor x, Generator generator)
    {
        var axis = randn(x.shape, dtype: x.dtype, device: x.device, generator: generator);
        axis = axis / axis.norm(-1, keepdim: true);
        var angleShape = x.shape.ToArray();
        angleShape[^1] = 1;
        var angle = (rand(angleShape, dtype: x.dtype, device: x.device, generator: generator) * 2 - 1) * scale;
        var cos = angle.cos();
        var turned = x * cos + linalg.cross(axis, x) * angle.sin() + axis * (axis * x).sum(-1, keepdim: true) * (1 - cos);
        return turned / turned.norm(-1, keepdim: true);
    }
}
