using System.Globalization;

namespace Hybrid.O3;

/// <summary>
/// Which pair invariants n_{i+a}·n_{i+b} a site i of the rotor chain feeds into its network: pairs of offsets
/// 0 ≤ a &lt; b &lt; <see cref="Offsets"/>. Each site's output then depends on the sites i … i + Offsets − 1 alone, which
/// is what keeps the forward Laplacian's cost linear in the chain length.
/// </summary>
public sealed class PairFeatures
{
    private readonly (int A, int B)[] pairs;

    private PairFeatures(string kind, IEnumerable<(int A, int B)> pairs)
    {
        Kind = kind;
        this.pairs = pairs.ToArray();
        if (this.pairs.Length == 0) throw new ArgumentException("a feature set needs at least one pair");
        Offsets = this.pairs.Max(p => p.B) + 1;
    }

    /// <summary>"star" or "window".</summary>
    public string Kind { get; }

    /// <summary>The pairs (a, b), a &lt; b.</summary>
    public IReadOnlyList<(int A, int B)> Pairs => pairs;

    /// <summary>Number of features K.</summary>
    public int Count => pairs.Length;

    /// <summary>D: the site's output depends on sites i … i + D − 1.</summary>
    public int Offsets { get; }

    /// <summary>
    /// The site with each of its partners at distance r = 1 … R: x_i = (n_i·n_{i+1}, …, n_i·n_{i+R}). With R = ⌊L/2⌋
    /// the sum over sites reaches every pair of the chain; a linear function of them is the two-body Jastrow form.
    /// </summary>
    public static PairFeatures Star(int range)
    {
        if (range < 1) throw new ArgumentException($"invariant range {range} is not allowed; it must be ≥ 1");
        return new PairFeatures("star", Enumerable.Range(1, range).Select(r => (0, r)));
    }

    /// <summary>
    /// Every pair of a window of <paramref name="width"/> consecutive sites (its Gram matrix): any O(3)-invariant
    /// function of the window's vectors (parity-even) is a function of these, so a network of them can express many-body
    /// correlations that a sum of pair terms cannot.
    /// </summary>
    public static PairFeatures Window(int width)
    {
        if (width < 2) throw new ArgumentException($"window width {width} is not allowed; it must be ≥ 2");
        return new PairFeatures("window", from a in Enumerable.Range(0, width) from b in Enumerable.Range(a + 1, width - a - 1) select (a, b));
    }

    /// <summary>
    /// The star out to <paramref name="range"/> together with the Gram matrix of a window of <paramref name="width"/>
    /// sites: long-range pairs for the long correlation lengths of weak coupling, and every invariant of the nearby
    /// sites for the many-body correlations at short distance.
    /// </summary>
    public static PairFeatures StarAndWindow(int range, int width)
    {
        var star = Star(range);
        var window = Window(width);
        return new PairFeatures("star+window", star.pairs.Concat(window.pairs).Distinct().OrderBy(p => p.A).ThenBy(p => p.B));
    }

    /// <summary>Throws unless the offsets fit a chain of <paramref name="sites"/> (distinct sites mod L).</summary>
    public void CheckFits(int sites)
    {
        if (Offsets > sites) throw new ArgumentException($"{Kind} features reach {Offsets} sites, more than the chain's L = {sites}");
    }

    /// <summary>The features as a JSON fragment.</summary>
    public string Describe() => string.Create(CultureInfo.InvariantCulture, $"{{\"kind\":\"{Kind}\",\"offsets\":{Offsets},\"count\":{Count}}}");
}
