namespace Hybrid.Lattice;

/// <summary>
/// The point group D4 of the square lattice (rotations by multiples of 90° and reflections) acting on
/// periodic lattice offsets d = (d₀, d₁) ∈ Z_L², and the orbits of offsets under it.
/// </summary>
public static class LatticeSymmetry
{
    /// <summary>The number of elements of D4.</summary>
    public const int D4Order = 8;

    /// <summary>
    /// Applies D4 element <paramref name="operation"/> (0 … 7) to the offset (d₀, d₁) modulo L.
    /// Elements 0–3 rotate by <c>operation</c> × 90° ((d₀, d₁) ↦ (−d₁, d₀) per quarter turn); elements 4–7
    /// first reflect (d₀, d₁) ↦ (d₀, −d₁) and then rotate by (<c>operation</c> − 4) × 90°. Element 2 is the
    /// inversion d ↦ −d.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The operation is not in 0 … 7 or L &lt; 1.</exception>
    public static (int D0, int D1) Apply(int operation, int d0, int d1, int extent)
    {
        if (operation is < 0 or >= D4Order)
            throw new ArgumentOutOfRangeException(nameof(operation), operation, "a D4 element is numbered 0 … 7");
        if (extent < 1)
            throw new ArgumentOutOfRangeException(nameof(extent), extent, "the lattice extent must be ≥ 1");
        if (operation >= 4) d1 = -d1;
        for (int r = 0; r < operation % 4; r++) (d0, d1) = (-d1, d0);
        return (Mod(d0, extent), Mod(d1, extent));
    }

    /// <summary>
    /// The D4 orbits of the offsets of a periodic L×L lattice. Orbit 0 is the zero offset; the others are
    /// numbered in the row-major order of their first member.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">L &lt; 1.</exception>
    public static OffsetOrbits D4Orbits(int extent)
    {
        if (extent < 1)
            throw new ArgumentOutOfRangeException(nameof(extent), extent, "the lattice extent must be ≥ 1");
        var index = new int[extent * extent];
        Array.Fill(index, -1);
        int count = 0;
        for (int d0 = 0; d0 < extent; d0++)
        {
            for (int d1 = 0; d1 < extent; d1++)
            {
                if (index[d0 * extent + d1] >= 0) continue;
                for (int g = 0; g < D4Order; g++)
                {
                    var (e0, e1) = Apply(g, d0, d1, extent);
                    index[e0 * extent + e1] = count;
                }
                count++;
            }
        }
        return new OffsetOrbits(extent, count, index);
    }

    /// <summary>The number of D4 orbits of offsets on an L×L lattice: (n + 1)(n + 2)/2 with n = ⌊L/2⌋.</summary>
    public static int D4OrbitCount(int extent)
    {
        int n = extent / 2;
        return (n + 1) * (n + 2) / 2;
    }

    private static int Mod(int a, int m) => ((a % m) + m) % m;
}

/// <summary>A partition of the offsets of a periodic L×L lattice into symmetry orbits.</summary>
public sealed class OffsetOrbits
{
    private readonly int[] index;

    internal OffsetOrbits(int extent, int count, int[] index)
    {
        Extent = extent;
        Count = count;
        this.index = index;
    }

    /// <summary>The lattice extent L.</summary>
    public int Extent { get; }

    /// <summary>The number of orbits.</summary>
    public int Count { get; }

    /// <summary>The orbit of every offset, row-major: entry d₀·L + d₁ is the orbit of (d₀, d₁).</summary>
    public IReadOnlyList<int> Index => index;

    /// <summary>The orbit of the offset (d₀, d₁), taken modulo L.</summary>
    public int OrbitOf(int d0, int d1)
    {
        int l = Extent;
        return index[(((d0 % l) + l) % l) * l + ((d1 % l) + l) % l];
    }

    /// <summary>
    /// The real discrete Fourier transform of the orbit indicators: entry [o, p₀·L + p₁] is
    /// Σ_{d ∈ o} cos(2π (p₀d₀ + p₁d₁)/L). For a kernel k that is constant on D4 orbits,
    /// k̂(p) = Σ_o k_o · entry[o, p] is its (real) discrete Fourier transform, and it is even in p₀ and p₁
    /// separately. Terms are summed in sorted order, so that momenta related by the symmetry get bitwise
    /// equal values.
    /// </summary>
    public double[] CosineTransform()
    {
        int l = Extent, volume = l * l;
        var members = new List<(int D0, int D1)>[Count];
        for (int o = 0; o < Count; o++) members[o] = new List<(int, int)>();
        for (int d0 = 0; d0 < l; d0++)
            for (int d1 = 0; d1 < l; d1++)
                members[index[d0 * l + d1]].Add((d0, d1));

        var result = new double[Count * volume];
        var terms = new List<double>();
        for (int o = 0; o < Count; o++)
        {
            for (int p = 0; p < volume; p++)
            {
                int p0 = p / l, p1 = p % l;
                terms.Clear();
                foreach (var (d0, d1) in members[o])
                {
                    long phase = ((long)p0 * d0 + (long)p1 * d1) % l;
                    terms.Add(Math.Cos(2 * Math.PI * phase / l));
                }
                terms.Sort();
                double sum = 0;
                foreach (var x in terms) sum += x;
                result[o * volume + p] = sum;
            }
        }
        return result;
    }
}
