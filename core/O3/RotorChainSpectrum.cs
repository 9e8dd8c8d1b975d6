using System.Collections.Concurrent;
using System.Globalization;
using Hybrid.Numerics;
using static Hybrid.Numerics.ChunkedVectors;

namespace Hybrid.O3;

/// <summary>
/// The two lowest levels of the truncated quantum rotor chain, from exact diagonalisation
/// (<see cref="RotorChainSpectrum.Solve"/>).
/// </summary>
/// <param name="Sites">L, the number of rotors (periodic).</param>
/// <param name="CouplingSquared">g².</param>
/// <param name="LMax">l_max, the largest angular momentum kept per site.</param>
/// <param name="GroundEnergy">E₀, the lowest level (an O(3) singlet, found in the M = 0 sector).</param>
/// <param name="ExcitedEnergy">E₁, the lowest l = 1 level (the lowest level of the M = 1 sector, checked to be l = 1).</param>
/// <param name="Gap">E₁ − E₀, the finite-volume mass gap m(L).</param>
/// <param name="GroundTotalL2">⟨L²_total⟩ of the ground state (0 for a singlet).</param>
/// <param name="ExcitedTotalL2">⟨L²_total⟩ of the excited state (l(l + 1) = 2 for l = 1).</param>
/// <param name="GroundSectorDimension">Basis states of the M = 0 sector.</param>
/// <param name="ExcitedSectorDimension">Basis states of the M = 1 sector.</param>
/// <param name="GroundResidual">‖Hψ₀ − E₀ψ₀‖ of the normalised ground state.</param>
/// <param name="ExcitedResidual">‖Hψ₁ − E₁ψ₁‖ of the normalised excited state.</param>
public sealed record RotorChainLevels(
    int Sites,
    double CouplingSquared,
    int LMax,
    double GroundEnergy,
    double ExcitedEnergy,
    double Gap,
    double GroundTotalL2,
    double ExcitedTotalL2,
    long GroundSectorDimension,
    long ExcitedSectorDimension,
    double GroundResidual,
    double ExcitedResidual);

/// <summary>
/// The levels at l_max and at l_max − 1 (<see cref="RotorChainSpectrum.SolveWithConvergence"/>): the truncation is
/// the only approximation of exact diagonalisation, so the shift between the two is its error estimate.
/// </summary>
/// <param name="Levels">The levels at l_max.</param>
/// <param name="Coarser">The levels at l_max − 1.</param>
/// <param name="GroundShift">E₀(l_max) − E₀(l_max − 1).</param>
/// <param name="GapShift">gap(l_max) − gap(l_max − 1).</param>
public sealed record RotorChainConvergence(RotorChainLevels Levels, RotorChainLevels Coarser, double GroundShift, double GapShift);

/// <summary>
/// Exact diagonalisation of the periodic quantum rotor chain (the Hamiltonian lattice 1+1D O(3) σ-model)
/// H = (g²/2) Σ_i L_i² − (1/g²) Σ_bonds n_i·n_{i+1}, with the bonds (i, i + 1 mod L) for L ≥ 3 and the single bond
/// (0, 1) for L = 2. Each site keeps the states |l m⟩ with l ≤ l_max: whole SO(3) irreps, so the truncated
/// Hamiltonian still commutes with the total angular momentum and its levels are labelled by total l and M.
/// The sectors of fixed total M are built as sparse matrices (CSR) and their lowest eigenpair is found by Lanczos,
/// in pure managed code (double precision, rows in parallel).
/// </summary>
public static class RotorChainSpectrum
{
    /// <summary>The memory budget of <see cref="Solve"/> unless told otherwise: 8 GiB.</summary>
    public const long DefaultMemoryLimitBytes = 8L << 30;

    /// <summary>The largest l_max accepted: far beyond what any chain converges at, and it keeps the factorials of the Clebsch–Gordan coefficients well inside double precision's range.</summary>
    public const int MaxLMax = 20;

    /// <summary>How far ⟨L²⟩ may lie from l(l + 1) before the level is not the one asked for.</summary>
    private const double TotalL2Tolerance = 1e-6;

    /// <summary>
    /// The eigensolver's settings: full reorthogonalisation up to 10⁴ states (300 steps), two-pass Lanczos beyond (2000
    /// steps), Ritz estimates to 10⁻¹¹ and true residuals to 10⁻⁸ relative to max(1, |E|), six restarts.
    /// </summary>
    private static readonly LanczosOptions Eigensolver = new(SmallDimension: 10_000, SmallSteps: 300, LargeSteps: 2000,
        RitzTolerance: 1e-11, ResidualTolerance: 1e-8, MaxRestarts: 6);

    /// <summary>Vectors of the sector's length that the large-sector Lanczos holds at once (start, v, v_prev, w, Ritz vector, Hx).</summary>
    private const int LargeSectorVectors = 6;

    /// <summary>
    /// The bytes that diagonalising the larger of the M = 0 and M = 1 sectors needs at its peak: the CSR Hamiltonian
    /// (12 bytes per non-zero, 8 per row pointer), the sorted basis codes and the Lanczos vectors. Exact counts from
    /// the selection rules, not sampling, so it costs milliseconds even where the sector would not fit.
    /// </summary>
    /// <param name="sites">L ≥ 2.</param>
    /// <param name="lMax">1 ≤ l_max ≤ <see cref="MaxLMax"/>.</param>
    public static long EstimateBytes(int sites, int lMax)
    {
        ValidateSites(sites);
        ValidateLMax(lMax);
        var site = SiteBasis.Get(lMax);
        // Beyond 2¹⁰⁰⁰ product states the sector is astronomically large (and the counts would overflow doubles).
        if (sites * Math.Log2(site.Count) > 1000) return long.MaxValue;
        double bytes = 0;
        for (int m = 0; m <= 1; m++) bytes = Math.Max(bytes, SectorBytes(site, sites, m));
        return bytes >= long.MaxValue ? long.MaxValue : (long)bytes;
    }

    /// <summary>
    /// E₀ (lowest level of the M = 0 sector, checked to be a singlet) and E₁ (lowest level of the M = 1 sector,
    /// checked to be l = 1) of the chain, with ⟨L²_total⟩ and the residual of each eigenvector.
    /// </summary>
    /// <param name="sites">L ≥ 2 (L = 2 has one bond).</param>
    /// <param name="couplingSquared">g² &gt; 0, finite.</param>
    /// <param name="lMax">1 ≤ l_max ≤ <see cref="MaxLMax"/>.</param>
    /// <param name="memoryLimitBytes">Refuse (ArgumentException) when <see cref="EstimateBytes"/> exceeds this.</param>
    public static RotorChainLevels Solve(int sites, double couplingSquared, int lMax, long memoryLimitBytes = DefaultMemoryLimitBytes)
    {
        Validate(sites, couplingSquared, lMax, memoryLimitBytes);
        var site = SiteBasis.Get(lMax);
        var ground = LowestLevel(site, sites, couplingSquared, 0);
        if (Math.Abs(ground.TotalL2) > TotalL2Tolerance)
            throw new EigensolverNotConvergedException(
                $"the lowest M = 0 level of L = {sites}, g² = {Format(couplingSquared)}, l_max = {lMax} has ⟨L²⟩ = {Format(ground.TotalL2)}, not 0: the ground state should be a singlet; the eigensolver did not converge to it");
        // The M = 0 Hamiltonian is garbage now; collect it before the M = 1 one is built, so that the peak is one
        // sector (what EstimateBytes counts) rather than two. Only worth a full collection for large sectors.
        if (ground.Dimension > Eigensolver.SmallDimension) GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        var excited = LowestLevel(site, sites, couplingSquared, 1);
        if (Math.Abs(excited.TotalL2 - 2) > TotalL2Tolerance)
            throw new EigensolverNotConvergedException(
                $"the lowest M = 1 level of L = {sites}, g² = {Format(couplingSquared)}, l_max = {lMax} has ⟨L²⟩ = {Format(excited.TotalL2)}, not 2: it is not the l = 1 level, so E₁ cannot be read off the M = 1 sector here");
        return new RotorChainLevels(sites, couplingSquared, lMax, ground.Energy, excited.Energy, excited.Energy - ground.Energy,
            ground.TotalL2, excited.TotalL2, ground.Dimension, excited.Dimension, ground.Residual, excited.Residual);
    }

    /// <summary>
    /// <see cref="Solve"/> at l_max and at l_max − 1, and the shifts of E₀ and of the gap between them: the
    /// truncation error of the finer solution is of the order of (and, with the rapid convergence in l_max, well
    /// below) those shifts.
    /// </summary>
    /// <param name="sites">L ≥ 2.</param>
    /// <param name="couplingSquared">g² &gt; 0, finite.</param>
    /// <param name="lMax">2 ≤ l_max ≤ <see cref="MaxLMax"/> (the coarser solution needs l_max − 1 ≥ 1).</param>
    /// <param name="memoryLimitBytes">Refuse (ArgumentException) when <see cref="EstimateBytes"/> at l_max exceeds this.</param>
    public static RotorChainConvergence SolveWithConvergence(int sites, double couplingSquared, int lMax, long memoryLimitBytes = DefaultMemoryLimitBytes)
    {
        if (lMax < 2) throw new ArgumentException($"l_max {lMax} is not allowed for a convergence check; it must be ≥ 2 (the coarser solution uses l_max − 1)");
        // Check the finer (larger) problem before spending time on the coarser one.
        Validate(sites, couplingSquared, lMax, memoryLimitBytes);
        var coarser = Solve(sites, couplingSquared, lMax - 1, memoryLimitBytes);
        var levels = Solve(sites, couplingSquared, lMax, memoryLimitBytes);
        return new RotorChainConvergence(levels, coarser, levels.GroundEnergy - coarser.GroundEnergy, levels.Gap - coarser.Gap);
    }

    /// <summary>
    /// The Hamiltonian of the sector of total M as a dense matrix, rows and columns in increasing basis-code order
    /// (site 0 the most significant digit, site state index s = l² + l + m): the same sparse matrix the solver
    /// uses, expanded, for checks against a dense eigensolver.
    /// </summary>
    /// <param name="sites">L ≥ 2.</param>
    /// <param name="couplingSquared">g² &gt; 0, finite.</param>
    /// <param name="lMax">1 ≤ l_max ≤ <see cref="MaxLMax"/>.</param>
    /// <param name="totalM">M, with |M| ≤ L·l_max.</param>
    /// <param name="maxDimension">Refuse (ArgumentException) sectors larger than this.</param>
    public static double[,] DenseSectorHamiltonian(int sites, double couplingSquared, int lMax, int totalM, int maxDimension = 2000)
    {
        ValidateSites(sites);
        ValidateCoupling(couplingSquared);
        ValidateLMax(lMax);
        if (Math.Abs((long)totalM) > (long)sites * lMax)
            throw new ArgumentException($"M {totalM} is not allowed; it must lie in −{(long)sites * lMax}..{(long)sites * lMax} for L = {sites} and l_max = {lMax}");
        var site = SiteBasis.Get(lMax);
        if (sites * Math.Log2(site.Count) >= 62)
            throw new ArgumentException($"L = {sites} with l_max = {lMax} has {site.Count}^{sites} product states, beyond the 64-bit basis codes; lower l_max or L");
        double dimension = SectorDimension(site, sites, totalM);
        if (dimension > maxDimension)
            throw new ArgumentException($"the M = {totalM} sector of L = {sites} with l_max = {lMax} has {dimension:0} states, more than maxDimension {maxDimension}");
        var codes = EnumerateSector(site, sites, totalM);
        var h = BuildHamiltonian(site, sites, couplingSquared, codes);
        int n = codes.Length;
        var dense = new double[n, n];
        for (int r = 0; r < n; r++)
            for (long k = h.RowStart[r]; k < h.RowStart[r + 1]; k++) dense[r, h.Column[k]] += h.Value[k];
        return dense;
    }

    /// <summary>
    /// The Clebsch–Gordan coefficient ⟨j₁ m₁; j₂ m₂ | j m⟩ (Condon–Shortley phases) for integer angular momenta, from
    /// Racah's closed formula; 0 when the triangle rule, |m| ≤ j or m₁ + m₂ = m fails.
    /// </summary>
    /// <param name="j1">j₁ ≥ 0.</param>
    /// <param name="m1">m₁.</param>
    /// <param name="j2">j₂ ≥ 0.</param>
    /// <param name="m2">m₂.</param>
    /// <param name="j">j ≥ 0.</param>
    /// <param name="m">m.</param>
    public static double ClebschGordan(int j1, int m1, int j2, int m2, int j, int m)
    {
        if (j1 < 0 || j2 < 0 || j < 0) throw new ArgumentException($"angular momenta ({j1}, {j2}, {j}) are not allowed; each must be ≥ 0");
        if (j1 + j2 + j + 1 >= Factorial.Length) throw new ArgumentException($"angular momenta ({j1}, {j2}, {j}) are not allowed; j₁ + j₂ + j must be < {Factorial.Length - 1}");
        if (m1 + m2 != m || Math.Abs(m1) > j1 || Math.Abs(m2) > j2 || Math.Abs(m) > j) return 0;
        if (j < Math.Abs(j1 - j2) || j > j1 + j2) return 0;
        double prefactor = Math.Sqrt((2 * j + 1) * Factorial[j + j1 - j2] * Factorial[j - j1 + j2] * Factorial[j1 + j2 - j] / Factorial[j1 + j2 + j + 1]
            * Factorial[j + m] * Factorial[j - m] * Factorial[j1 - m1] * Factorial[j1 + m1] * Factorial[j2 - m2] * Factorial[j2 + m2]);
        // The sum runs over every k for which all six factorial arguments are ≥ 0.
        int kMin = Math.Max(0, Math.Max(j2 - j - m1, j1 - j + m2));
        int kMax = Math.Min(j1 + j2 - j, Math.Min(j1 - m1, j2 + m2));
        double sum = 0;
        for (int k = kMin; k <= kMax; k++)
        {
            double term = 1 / (Factorial[k] * Factorial[j1 + j2 - j - k] * Factorial[j1 - m1 - k] * Factorial[j2 + m2 - k]
                * Factorial[j - j2 + m1 + k] * Factorial[j - j1 - m2 + k]);
            sum += (k & 1) == 0 ? term : -term;
        }
        return prefactor * sum;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Validation

    private static void ValidateSites(int sites)
    {
        if (sites < 2) throw new ArgumentException($"L = {sites} sites is not allowed; it must be ≥ 2");
    }

    private static void ValidateCoupling(double couplingSquared)
    {
        if (!(couplingSquared > 0) || !double.IsFinite(couplingSquared))
            throw new ArgumentException($"g² {Format(couplingSquared)} is not allowed; it must be a finite number > 0");
    }

    private static void ValidateLMax(int lMax)
    {
        if (lMax < 1) throw new ArgumentException($"l_max {lMax} is not allowed; it must be ≥ 1");
        if (lMax > MaxLMax) throw new ArgumentException($"l_max {lMax} is not allowed; it must be ≤ {MaxLMax}");
    }

    private static void Validate(int sites, double couplingSquared, int lMax, long memoryLimitBytes)
    {
        ValidateSites(sites);
        ValidateCoupling(couplingSquared);
        ValidateLMax(lMax);
        if (memoryLimitBytes <= 0) throw new ArgumentException($"memory limit {memoryLimitBytes} bytes is not allowed; it must be > 0");
        long need = EstimateBytes(sites, lMax);
        if (need > memoryLimitBytes)
            throw new ArgumentException($"L = {sites} with l_max = {lMax} would need {FormatBytes(need)} for exact diagonalisation (limit {FormatBytes(memoryLimitBytes)}); lower l_max or L");
        var site = SiteBasis.Get(lMax);
        // Basis states are mixed-radix codes in a long; the sector must fit .NET arrays (rows and non-zeros).
        if (sites * Math.Log2(site.Count) >= 62)
            throw new ArgumentException($"L = {sites} with l_max = {lMax} has {site.Count}^{sites} product states, beyond the 64-bit basis codes; lower l_max or L");
        double dimension = SectorDimension(site, sites, 0);
        double nonZeros = SectorNonZeros(site, sites, 0, dimension);
        if (dimension >= Array.MaxLength || nonZeros >= Array.MaxLength)
            throw new ArgumentException($"L = {sites} with l_max = {lMax} has {dimension:0} states and {nonZeros:0} non-zeros in the M = 0 sector, beyond .NET array lengths ({Array.MaxLength}); lower l_max or L");
    }

    private static string Format(double x) => x.ToString("R", CultureInfo.InvariantCulture);

    private static string FormatBytes(double bytes)
    {
        string[] units = { "bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
        int unit = 0;
        while (bytes >= 1024 && unit < units.Length - 1)
        {
            bytes /= 1024;
            unit++;
        }
        return bytes.ToString(unit == 0 ? "0" : "0.#", CultureInfo.InvariantCulture) + " " + units[unit];
    }

    // ---------------------------------------------------------------------------------------------------------------
    // One site: states s = l² + l + m, the matrix elements of n_q, and the bond operator n·n′ on pairs of sites.

    private static readonly double[] Factorial = BuildFactorials(100);

    private static double[] BuildFactorials(int n)
    {
        var f = new double[n + 1];
        f[0] = 1;
        for (int i = 1; i <= n; i++) f[i] = f[i - 1] * i;
        return f;
    }

    /// <summary>⟨l′m′|n_q|lm⟩ = √((2l+1)/(2l′+1)) ⟨l0;10|l′0⟩ ⟨lm;1q|l′m′⟩ (non-zero only for l′ = l ± 1, m′ = m + q).</summary>
    private static double UnitVectorElement(int q, int lOut, int mOut, int lIn, int mIn) =>
        Math.Sqrt((2.0 * lIn + 1) / (2.0 * lOut + 1)) * ClebschGordan(lIn, 0, 1, 0, lOut, 0) * ClebschGordan(lIn, mIn, 1, q, lOut, mOut);

    /// <summary>The single-site basis of one l_max and the bond operator n·n′ on two sites, built once per l_max.</summary>
    private sealed class SiteBasis
    {
        private static readonly ConcurrentDictionary<int, SiteBasis> Cache = new();

        public static SiteBasis Get(int lMax) => Cache.GetOrAdd(lMax, l => new SiteBasis(l));

        private SiteBasis(int lMax)
        {
            LMax = lMax;
            Count = (lMax + 1) * (lMax + 1);
            L = new int[Count];
            M = new int[Count];
            for (int l = 0; l <= lMax; l++)
                for (int m = -l; m <= l; m++)
                {
                    L[l * l + l + m] = l;
                    M[l * l + l + m] = m;
                }
            Casimir = L.Select(l => (double)l * (l + 1)).ToArray();
            // The bond operator n·n′ = Σ_q (−1)^q n_q n′_{−q} on the pair state (a, b) ↦ a·d + b: only l_a ± 1, l_b ± 1 and
            // m_a + q, m_b − q are reached, at most 12 targets. Each element is the average of ⟨a′b′|n·n′|ab⟩ and
            // ⟨ab|n·n′|a′b′⟩, equal in exact arithmetic: it makes the stored Hamiltonian exactly symmetric.
            int pairs = Count * Count;
            PairStart = new int[pairs + 1];
            var outA = new List<int>();
            var outB = new List<int>();
            var value = new List<double>();
            for (int a = 0; a < Count; a++)
                for (int b = 0; b < Count; b++)
                {
                    for (int q = -1; q <= 1; q++)
                        for (int la = L[a] - 1; la <= L[a] + 1; la += 2)
                            for (int lb = L[b] - 1; lb <= L[b] + 1; lb += 2)
                            {
                                int ma = M[a] + q, mb = M[b] - q;
                                if (la < 0 || la > lMax || lb < 0 || lb > lMax || Math.Abs(ma) > la || Math.Abs(mb) > lb) continue;
                                double sign = q == 0 ? 1 : -1;
                                double forward = UnitVectorElement(q, la, ma, L[a], M[a]) * UnitVectorElement(-q, lb, mb, L[b], M[b]);
                                double backward = UnitVectorElement(-q, L[a], M[a], la, ma) * UnitVectorElement(q, L[b], M[b], lb, mb);
                                double element = sign * 0.5 * (forward + backward);
                                if (element == 0) continue;
                                outA.Add(la * la + la + ma);
                                outB.Add(lb * lb + lb + mb);
                                value.Add(element);
                            }
                    PairStart[a * Count + b + 1] = value.Count;
                }
            PairOutA = outA.ToArray();
            PairOutB = outB.ToArray();
            PairValue = value.ToArray();
            // How many bond transitions leave each pair state, by m_a + m_b: the non-zeros per bond for the memory estimate.
            TransitionsByPairM = new double[4 * lMax + 1];
            for (int a = 0; a < Count; a++)
                for (int b = 0; b < Count; b++)
                    TransitionsByPairM[M[a] + M[b] + 2 * lMax] += PairStart[a * Count + b + 1] - PairStart[a * Count + b];
        }

        public int LMax { get; }

        /// <summary>d = (l_max + 1)², states per site.</summary>
        public int Count { get; }

        public int[] L { get; }

        public int[] M { get; }

        /// <summary>l(l + 1) of each site state.</summary>
        public double[] Casimir { get; }

        public int[] PairStart { get; }

        public int[] PairOutA { get; }

        public int[] PairOutB { get; }

        public double[] PairValue { get; }

        public double[] TransitionsByPairM { get; }

        /// <summary>
        /// Product states of k sites by total m: counts[k][m + k·l_max]. A site has l_max − |m| + 1 states of given m.
        /// Doubles: exact below 2⁵³, and estimates beyond that only need to be large.
        /// </summary>
        public double[] CountsBySum(int k)
        {
            var counts = new double[] { 1 };
            for (int s = 0; s < k; s++)
            {
                var next = new double[counts.Length + 2 * LMax];
                for (int i = 0; i < counts.Length; i++)
                {
                    if (counts[i] == 0) continue;
                    for (int m = -LMax; m <= LMax; m++) next[i + m + LMax] += counts[i] * (LMax - Math.Abs(m) + 1);
                }
                counts = next;
            }
            return counts;
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Sectors: size, memory, enumeration.

    private static int BondCount(int sites) => sites == 2 ? 1 : sites;

    private static double CountOf(double[] counts, int k, int lMax, long m)
    {
        long i = m + (long)k * lMax;
        return i < 0 || i >= counts.Length ? 0 : counts[i];
    }

    private static double SectorDimension(SiteBasis site, int sites, int totalM) =>
        CountOf(site.CountsBySum(sites), sites, site.LMax, totalM);

    /// <summary>Non-zeros of the sector's CSR: the diagonal plus, for each bond, each transition of the bond's pair times the configurations of the other L − 2 sites.</summary>
    private static double SectorNonZeros(SiteBasis site, int sites, int totalM, double dimension)
    {
        var rest = site.CountsBySum(sites - 2);
        double perBond = 0;
        for (int pairM = -2 * site.LMax; pairM <= 2 * site.LMax; pairM++)
            perBond += site.TransitionsByPairM[pairM + 2 * site.LMax] * CountOf(rest, sites - 2, site.LMax, totalM - pairM);
        return dimension + BondCount(sites) * perBond;
    }

    private static double SectorBytes(SiteBasis site, int sites, int totalM)
    {
        double dimension = SectorDimension(site, sites, totalM);
        double nonZeros = SectorNonZeros(site, sites, totalM, dimension);
        double vectors = dimension <= Eigensolver.SmallDimension ? Math.Min(dimension, Eigensolver.SmallSteps) + LargeSectorVectors : LargeSectorVectors;
        double pairTable = (double)site.PairValue.Length * 16 + (double)site.PairStart.Length * 4;
        return nonZeros * 12 + (dimension + 1) * 8 + dimension * 8 + vectors * dimension * 8 + pairTable;
    }

    /// <summary>
    /// The codes Σ_i s_i d^(L−1−i) (site 0 most significant) of the product states with Σ m_i = M, in increasing order:
    /// a depth-first walk that tries site states in increasing order and prunes sums the remaining sites cannot reach.
    /// </summary>
    private static long[] EnumerateSector(SiteBasis site, int sites, int totalM)
    {
        long dimension = (long)SectorDimension(site, sites, totalM);
        var codes = new long[dimension];
        int d = site.Count, lMax = site.LMax;
        var digit = new int[sites];
        var prefixCode = new long[sites + 1];
        var prefixM = new int[sites + 1];
        long n = 0;
        int i = 0;
        digit[0] = -1;
        while (i >= 0)
        {
            // Advance site i to its next state whose m leaves a sum the sites after it can still reach.
            int next = digit[i] + 1;
            int remainingSites = sites - 1 - i;
            while (next < d && Math.Abs(totalM - prefixM[i] - site.M[next]) > remainingSites * lMax) next++;
            if (next >= d)
            {
                i--;
                continue;
            }
            digit[i] = next;
            prefixCode[i + 1] = prefixCode[i] * d + next;
            prefixM[i + 1] = prefixM[i] + site.M[next];
            if (i == sites - 1) codes[n++] = prefixCode[sites];
            else digit[++i] = -1;
        }
        if (n != dimension) throw new InvalidOperationException($"enumerated {n} states of the M = {totalM} sector, expected {dimension}");
        return codes;
    }

    private static void Decode(long code, int d, Span<int> digits)
    {
        for (int i = digits.Length - 1; i >= 0; i--)
        {
            digits[i] = (int)(code % d);
            code /= d;
        }
    }

    private static long[] Powers(int sites, int d)
    {
        var powers = new long[sites];
        long p = 1;
        for (int i = sites - 1; i >= 0; i--)
        {
            powers[i] = p;
            p *= d;
        }
        return powers;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // The sparse Hamiltonian of a sector.

    private static SparseSymmetricMatrix BuildHamiltonian(SiteBasis site, int sites, double couplingSquared, long[] codes)
    {
        int n = codes.Length, d = site.Count;
        var powers = Powers(sites, d);
        int bonds = BondCount(sites);
        double kinetic = couplingSquared / 2, hopping = -1 / couplingSquared;
        var rowStart = new long[n + 1];
        // Pass 1: non-zeros per row (every transition stays in the sector, so no look-up is needed).
        ForChunks(n, (from, to) =>
        {
            Span<int> digits = stackalloc int[sites];
            for (int r = from; r < to; r++)
            {
                Decode(codes[r], d, digits);
                long count = 1;
                for (int b = 0; b < bonds; b++)
                {
                    int pair = digits[b] * d + digits[(b + 1) % sites];
                    count += site.PairStart[pair + 1] - site.PairStart[pair];
                }
                rowStart[r + 1] = count;
            }
        });
        for (int r = 0; r < n; r++) rowStart[r + 1] += rowStart[r];
        var column = new int[rowStart[n]];
        var value = new double[rowStart[n]];
        // Pass 2: the diagonal (g²/2) Σ l_i(l_i + 1), then −(1/g²) n_i·n_j of each bond.
        ForChunks(n, (from, to) =>
        {
            Span<int> digits = stackalloc int[sites];
            for (int r = from; r < to; r++)
            {
                long code = codes[r];
                Decode(code, d, digits);
                long k = rowStart[r];
                double diagonal = 0;
                for (int i = 0; i < sites; i++) diagonal += site.Casimir[digits[i]];
                column[k] = r;
                value[k++] = kinetic * diagonal;
                for (int b = 0; b < bonds; b++)
                {
                    int i = b, j = (b + 1) % sites;
                    int pair = digits[i] * d + digits[j];
                    for (int t = site.PairStart[pair]; t < site.PairStart[pair + 1]; t++)
                    {
                        long target = code + (site.PairOutA[t] - digits[i]) * powers[i] + (site.PairOutB[t] - digits[j]) * powers[j];
                        int c = Array.BinarySearch(codes, target);
                        if (c < 0) throw new InvalidOperationException($"basis state {target} reached from {code} is not in the sector");
                        column[k] = c;
                        value[k++] = hopping * site.PairValue[t];
                    }
                }
            }
        });
        return new SparseSymmetricMatrix(rowStart, column, value);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // The lowest level of a sector.

    private readonly record struct Level(double Energy, double TotalL2, double Residual, long Dimension);

    private static Level LowestLevel(SiteBasis site, int sites, double couplingSquared, int totalM)
    {
        var codes = EnumerateSector(site, sites, totalM);
        var (energy, vector, residual) = LowestEigenpair(BuildHamiltonian(site, sites, couplingSquared, codes), sites, couplingSquared, site.LMax, totalM);
        // The Hamiltonian is garbage once the eigenvector is known; ⟨L²⟩ needs only the codes and the vector.
        double totalL2 = TotalL2(site, sites, totalM, codes, vector);
        return new Level(energy, totalL2, residual, codes.Length);
    }

    /// <summary>
    /// ⟨L²_total⟩ = ‖L₊ψ‖² + M² + M (from L² = L₋L₊ + L_z² + L_z), with L₊ = Σ_i L_{i,+}. L₊ψ is gathered row by row in
    /// the M + 1 sector: (L₊ψ)(state) = Σ_i √(l_i(l_i + 1) − (m_i − 1)m_i) ψ(state with m_i lowered by one).
    /// </summary>
    private static double TotalL2(SiteBasis site, int sites, int totalM, long[] codes, double[] psi)
    {
        double m = totalM;
        if (totalM + 1 > (long)sites * site.LMax) return m * m + m;
        var raised = EnumerateSector(site, sites, totalM + 1);
        int d = site.Count;
        var powers = Powers(sites, d);
        double norm2 = SumChunks(raised.Length, (from, to) =>
        {
            Span<int> digits = stackalloc int[sites];
            double sum = 0;
            for (int r = from; r < to; r++)
            {
                Decode(raised[r], d, digits);
                double amplitude = 0;
                for (int i = 0; i < sites; i++)
                {
                    int l = site.L[digits[i]], mi = site.M[digits[i]];
                    if (mi == -l) continue;
                    // Lowering m by one is the site state index minus one.
                    int c = Array.BinarySearch(codes, raised[r] - powers[i]);
                    amplitude += Math.Sqrt((double)l * (l + 1) - (double)(mi - 1) * mi) * psi[c];
                }
                sum += amplitude * amplitude;
            }
            return sum;
        });
        return norm2 + m * m + m;
    }

    /// <summary>The lowest eigenpair of a sector's Hamiltonian (<see cref="Lanczos"/>), or a diagnosis if Lanczos does not converge.</summary>
    private static (double Energy, double[] Vector, double Residual) LowestEigenpair(SparseSymmetricMatrix h, int sites, double couplingSquared, int lMax, int totalM)
    {
        var pair = Lanczos.Lowest(h, Eigensolver);
        if (pair.Converged) return (pair.Value, pair.Vector, pair.Residual);
        throw new EigensolverNotConvergedException(
            $"Lanczos did not converge for the M = {totalM} sector of L = {sites}, g² = {Format(couplingSquared)}, l_max = {lMax} ({h.Rows} states): residual {pair.Residual.ToString("0.00E+0", CultureInfo.InvariantCulture)} at E = {Format(pair.Value)} after {Eigensolver.MaxRestarts} restarts (needs < {Eigensolver.ResidualTolerance.ToString("0E+0", CultureInfo.InvariantCulture)}·max(1, |E|)); the lowest levels may be nearly degenerate");
    }
}
