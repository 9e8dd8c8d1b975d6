using Hybrid.Numerics;
using Hybrid.Sampling;

namespace Hybrid.O3;

/// <summary>
/// The measurements of one chain of <see cref="ClusterSampler"/>: per-sweep series of scalar estimators and
/// block means of the zero-momentum time correlator.
/// </summary>
/// <param name="Lattice">The lattice sampled.</param>
/// <param name="ClustersPerSweep">Clusters per sweep (fixed after thermalisation so that a sweep flips about L·N_t sites on average).</param>
/// <param name="Susceptibility">Per sweep: χ = ⟨|Σ_x n_x|²⟩/V by the improved (cluster) estimator.</param>
/// <param name="PlainSusceptibility">Per sweep: the same from the configuration after the sweep, without clusters (for τ_int).</param>
/// <param name="SpatialMomentumSusceptibility">Per sweep: χ at spatial momentum p = 2π/L, zero frequency (improved).</param>
/// <param name="TemporalMomentumSusceptibility">Per sweep: χ at frequency ω = 2π/(N_t a_t), zero momentum (improved).</param>
/// <param name="Energy">Per sweep: the energy estimator −(1/N_t) ∂ln Tr 𝒯^{N_t}/∂a_t of the configuration after the sweep, which is E₀ + O(a_t²) + O(e^{−mT}).</param>
/// <param name="ClusterFraction">Per sweep: mean cluster size / V.</param>
/// <param name="Correlator">Block means of G(τ) = (1/N_t) Σ_t ⟨Φ_t·Φ_{t+τ}⟩, Φ_t = Σ_x n_{x,t}, at τ = 0 … N_t/2 slices (improved estimator).</param>
/// <param name="SweepsPerBlock">Sweeps averaged into one block of <paramref name="Correlator"/>.</param>
/// <param name="Seconds">Wall time of the chain, thermalisation included.</param>
public sealed record ClusterChainSeries(
    RotorPathIntegral Lattice,
    int ClustersPerSweep,
    double[] Susceptibility,
    double[] PlainSusceptibility,
    double[] SpatialMomentumSusceptibility,
    double[] TemporalMomentumSusceptibility,
    double[] Energy,
    double[] ClusterFraction,
    double[][] Correlator,
    int SweepsPerBlock,
    double Seconds);

/// <summary>
/// Wolff single-cluster updates (Wolff 1989), with a heat-bath sweep after each sweep of clusters, of the rotor chain's path integral <see cref="RotorPathIntegral"/>, with
/// the improved estimators that Lüscher, Weisz and Wolff used for this model's step scaling. A cluster grows from a
/// random site through bonds activated with p = 1 − exp(min(0, −2β (r·n)(r·n′))) for a random direction r, and all its
/// spins are reflected in the plane ⊥ r. The cluster also measures: ⟨n_a·n_b⟩ = 3⟨(V/|C|)(r·n_a)(r·n_b) 1[a, b ∈ C]⟩, so
/// a correlator over the cluster's time profile S_t = Σ_{x:(x,t)∈C} r·n has noise proportional to its signal at every
/// distance. Plain managed code (no tensors): the work is pointer chasing, not arithmetic.
/// </summary>
public sealed class ClusterSampler
{
    private readonly RotorPathIntegral _lattice;
    private readonly int _sites, _slices, _volume;
    private readonly double[] _spins;          // 3 per site, site = t·L + x
    private readonly int[] _mark;              // cluster stamp per site
    private readonly int[] _stack;
    private readonly double[] _profile;        // S_t of the current cluster
    private readonly int[] _sliceMark;
    private readonly List<int> _touched = new();
    private readonly double[] _cosX, _sinX, _cosT, _sinT;
    private readonly Autocorrelation _autocorrelation = new();
    private readonly double[] _window;
    private Xoshiro256 _random;
    private int _stamp;

    /// <summary>A sampler of <paramref name="lattice"/> started from the ordered configuration (all n = ẑ), random numbers from <paramref name="seed"/>.</summary>
    public ClusterSampler(RotorPathIntegral lattice, long seed)
    {
        ArgumentNullException.ThrowIfNull(lattice);
        _lattice = lattice;
        _sites = lattice.Sites;
        _slices = lattice.Slices;
        _volume = lattice.Volume;
        _spins = new double[3 * _volume];
        for (int s = 0; s < _volume; s++) _spins[3 * s + 2] = 1;
        _mark = new int[_volume];
        _stack = new int[_volume];
        _profile = new double[_slices];
        _sliceMark = new int[_slices];
        _window = new double[_slices];
        _cosX = new double[_sites];
        _sinX = new double[_sites];
        for (int x = 0; x < _sites; x++)
        {
            _cosX[x] = Math.Cos(2 * Math.PI * x / _sites);
            _sinX[x] = Math.Sin(2 * Math.PI * x / _sites);
        }
        _cosT = new double[_slices];
        _sinT = new double[_slices];
        for (int t = 0; t < _slices; t++)
        {
            _cosT[t] = Math.Cos(2 * Math.PI * t / _slices);
            _sinT[t] = Math.Sin(2 * Math.PI * t / _slices);
        }
        _random = new Xoshiro256(seed);
    }

    /// <summary>The lattice sampled.</summary>
    public RotorPathIntegral Lattice => _lattice;

    /// <summary>The spins, 3 per site (site = t·L + x), for tests and checkpoints.</summary>
    public ReadOnlySpan<double> Spins => _spins;

    /// <summary>Sites of the last cluster.</summary>
    public int LastClusterSize { get; private set; }

    // Estimators of the last cluster (before weighting by 3/|C|).
    private double _sum, _spatialRe, _spatialIm;

    /// <summary>Grows and flips one cluster; returns its size.</summary>
    public int Update()
    {
        if (++_stamp == int.MaxValue)
        {
            Array.Clear(_mark);
            Array.Clear(_sliceMark);
            _stamp = 1;
        }
        int stamp = _stamp;
        double z = 2 * _random.NextDouble() - 1, phi = 2 * Math.PI * _random.NextDouble();
        double rho = Math.Sqrt(Math.Max(0, 1 - z * z));
        double rx = rho * Math.Cos(phi), ry = rho * Math.Sin(phi), rz = z;
        double twoBetaX = 2 * _lattice.SpatialCoupling, twoBetaT = 2 * _lattice.TemporalCoupling;
        int sites = _sites, slices = _slices, volume = _volume;
        var spins = _spins;
        var mark = _mark;
        var stack = _stack;
        _touched.Clear();
        _sum = _spatialRe = _spatialIm = 0;

        int seedSite = _random.NextInt(volume);
        int top = 0, size = 0;
        Add(seedSite);
        while (top > 0)
        {
            int i = stack[--top];
            int t = i / sites, x = i - t * sites;
            // The projection of i before its reflection; after it, r·n_i = −p_i.
            double pi = -(rx * spins[3 * i] + ry * spins[3 * i + 1] + rz * spins[3 * i + 2]);
            Try(t * sites + (x + 1 == sites ? 0 : x + 1), twoBetaX * pi);
            Try(t * sites + (x == 0 ? sites - 1 : x - 1), twoBetaX * pi);
            Try((t + 1 == slices ? 0 : t + 1) * sites + x, twoBetaT * pi);
            Try((t == 0 ? slices - 1 : t - 1) * sites + x, twoBetaT * pi);
        }
        LastClusterSize = size;
        return size;

        void Try(int j, double coupling)
        {
            if (mark[j] == stamp) return;
            double pj = rx * spins[3 * j] + ry * spins[3 * j + 1] + rz * spins[3 * j + 2];
            double exponent = coupling * pj;
            // Activate with 1 − e^{−2β p_i p_j} when the bond is satisfied (p_i p_j > 0), never otherwise.
            if (exponent > 0 && _random.NextDouble() < 1 - Math.Exp(-exponent)) Add(j);
        }

        void Add(int j)
        {
            mark[j] = stamp;
            double p = rx * spins[3 * j] + ry * spins[3 * j + 1] + rz * spins[3 * j + 2];
            spins[3 * j] -= 2 * p * rx;
            spins[3 * j + 1] -= 2 * p * ry;
            spins[3 * j + 2] -= 2 * p * rz;
            stack[top++] = j;
            size++;
            int t = j / sites, x = j - t * sites;
            if (_sliceMark[t] != stamp)
            {
                _sliceMark[t] = stamp;
                _touched.Add(t);
                _profile[t] = 0;
            }
            _profile[t] += p;
            _sum += p;
            _spatialRe += p * _cosX[x];
            _spatialIm += p * _sinX[x];
        }
    }

    /// <summary>
    /// Adds the last cluster's improved estimators: χ(0), χ(p = 2π/L), χ(ω = 2π/T) and, when
    /// <paramref name="correlator"/> is not empty, 3(L/|C|) Σ_t S_t S_{t+τ} for τ = 0 … correlator.Length − 1.
    /// </summary>
    private void Measure(ref double chi, ref double chiSpatial, ref double chiTemporal, Span<double> correlator)
    {
        double weight = 3.0 / LastClusterSize;
        chi += weight * _sum * _sum;
        chiSpatial += weight * (_spatialRe * _spatialRe + _spatialIm * _spatialIm);
        double re = 0, im = 0;
        foreach (int t in _touched)
        {
            re += _profile[t] * _cosT[t];
            im += _profile[t] * _sinT[t];
        }
        chiTemporal += weight * (re * re + im * im);
        if (correlator.Length == 0) return;
        // The profile on the shortest cyclic window that holds every touched slice (outside the largest gap).
        _touched.Sort();
        int count = _touched.Count, start = _touched[0], length = _slices;
        if (count < _slices)
        {
            int bestGap = _touched[0] + _slices - _touched[count - 1] - 1, bestAfter = 0;
            for (int k = 1; k < count; k++)
            {
                int gap = _touched[k] - _touched[k - 1] - 1;
                if (gap > bestGap) { bestGap = gap; bestAfter = k; }
            }
            start = _touched[bestAfter];
            length = _slices - bestGap;
        }
        else start = 0;
        var window = _window.AsSpan(0, length);
        window.Clear();
        foreach (int t in _touched)
        {
            int offset = t - start;
            if (offset < 0) offset += _slices;
            window[offset] = _profile[t];
        }
        _autocorrelation.AddCyclic(window, _slices, weight * _sites, correlator);
    }

    /// <summary>
    /// One heat-bath sweep: each spin in turn is drawn afresh from its conditional density ∝ exp(n·h), h the sum of
    /// its neighbours weighted by β_t and β_x (cos θ to h from the inverse of its exponential distribution, the
    /// azimuth uniform). Clusters move the long-wavelength modes; inside a cluster the relative angles of neighbouring
    /// slices never change, so at large β_t the short-distance modes (the kinetic energy) need these local updates.
    /// </summary>
    public void HeatBathSweep()
    {
        var s = _spins;
        double betaX = _lattice.SpatialCoupling, betaT = _lattice.TemporalCoupling;
        for (int t = 0; t < _slices; t++)
        {
            int row = t * _sites, next = (t + 1 == _slices ? 0 : t + 1) * _sites, previous = (t == 0 ? _slices - 1 : t - 1) * _sites;
            for (int x = 0; x < _sites; x++)
            {
                int right = 3 * (row + (x + 1 == _sites ? 0 : x + 1)), left = 3 * (row + (x == 0 ? _sites - 1 : x - 1));
                int up = 3 * (next + x), down = 3 * (previous + x), a = 3 * (row + x);
                double hx = betaX * (s[right] + s[left]) + betaT * (s[up] + s[down]);
                double hy = betaX * (s[right + 1] + s[left + 1]) + betaT * (s[up + 1] + s[down + 1]);
                double hz = betaX * (s[right + 2] + s[left + 2]) + betaT * (s[up + 2] + s[down + 2]);
                double h = Math.Sqrt(hx * hx + hy * hy + hz * hz);
                // cos θ = 1 + ln(1 − u(1 − e^{−2h}))/h samples the density ∝ e^{h cos θ} on [−1, 1] (e^{−2h} is below
                // double precision's resolution of 1 − u once 2h > 40).
                double u = _random.NextDouble();
                double c = h > 1e-8 ? 1 + Math.Log(1 - u * (h > 20 ? 1 : 1 - Math.Exp(-2 * h))) / h : 2 * u - 1;
                c = Math.Clamp(c, -1, 1);
                double sine = Math.Sqrt(1 - c * c);
                // The azimuth without trigonometry (Marsaglia): (a, b) uniform in the unit disc gives
                // (cos φ, sin φ) = ((a² − b²)/s, 2ab/s), s = a² + b².
                double da, db, ds;
                do
                {
                    da = 2 * _random.NextDouble() - 1;
                    db = 2 * _random.NextDouble() - 1;
                    ds = da * da + db * db;
                } while (ds >= 1 || ds < 1e-300);
                double cp = sine * (da * da - db * db) / ds, sp = sine * 2 * da * db / ds;
                // An orthonormal frame (e, f, ĥ) around the field.
                double zx, zy, zz;
                if (h > 1e-8) { zx = hx / h; zy = hy / h; zz = hz / h; } else { zx = 0; zy = 0; zz = 1; }
                double ex, ey, ez;
                if (Math.Abs(zx) < 0.9) { ex = 0; ey = zz; ez = -zy; } else { ex = -zz; ey = 0; ez = zx; }
                double norm = 1 / Math.Sqrt(ex * ex + ey * ey + ez * ez);
                ex *= norm; ey *= norm; ez *= norm;
                double fx = zy * ez - zz * ey, fy = zz * ex - zx * ez, fz = zx * ey - zy * ex;
                s[a] = c * zx + cp * ex + sp * fx;
                s[a + 1] = c * zy + cp * ey + sp * fy;
                s[a + 2] = c * zz + cp * ez + sp * fz;
            }
        }
    }

    /// <summary>|Σ n|²/V of the configuration, Σ over temporal bonds of n·n′ and Σ over spatial bonds.</summary>
    private (double Chi, double Temporal, double Spatial) Plain()
    {
        double mx = 0, my = 0, mz = 0, temporal = 0, spatial = 0;
        var s = _spins;
        for (int t = 0; t < _slices; t++)
        {
            int row = t * _sites, next = (t + 1 == _slices ? 0 : t + 1) * _sites;
            for (int x = 0; x < _sites; x++)
            {
                int a = 3 * (row + x), b = 3 * (next + x), c = 3 * (row + (x + 1 == _sites ? 0 : x + 1));
                mx += s[a];
                my += s[a + 1];
                mz += s[a + 2];
                temporal += s[a] * s[b] + s[a + 1] * s[b + 1] + s[a + 2] * s[b + 2];
                spatial += s[a] * s[c] + s[a + 1] * s[c + 1] + s[a + 2] * s[c + 2];
            }
        }
        return ((mx * mx + my * my + mz * mz) / _volume, temporal, spatial);
    }

    /// <summary>
    /// Thermalises for <paramref name="thermalSweeps"/> sweeps, fixes the clusters per sweep from the mean cluster size
    /// of the second half of them, then measures <paramref name="sweeps"/> sweeps in <paramref name="blocks"/> blocks.
    /// <paramref name="progress"/> is called after each sweep with (sweep, sweeps of the phase, measuring?).
    /// <paramref name="cancel"/>, when set, stops the chain between sweeps with an <see cref="OperationCanceledException"/>.
    /// </summary>
    public ClusterChainSeries Run(int thermalSweeps, int sweeps, int blocks, Action<int, int, bool>? progress = null, CancellationToken cancel = default)
        => Run(thermalSweeps, sweeps, blocks, 1, progress, cancel);

    /// <summary>
    /// As <see cref="Run(int, int, int, Action{int, int, bool}?, CancellationToken)"/>, with a heat-bath sweep after every
    /// <paramref name="heatBathEvery"/>-th sweep of clusters (0: none). The gap is a long-distance quantity that the
    /// clusters alone decorrelate; the heat bath is for the energy estimator, whose short-distance part the clusters move
    /// slowly at large β_t, and it costs about as much as the clusters.
    /// </summary>
    public ClusterChainSeries Run(int thermalSweeps, int sweeps, int blocks, int heatBathEvery, Action<int, int, bool>? progress = null, CancellationToken cancel = default)
    {
        if (heatBathEvery < 0) throw new ArgumentException($"a heat-bath sweep every {heatBathEvery} sweeps is not allowed; 0 (none) or more");
        if (thermalSweeps < 2) throw new ArgumentException($"{thermalSweeps} thermalisation sweeps are not allowed; at least 2");
        if (blocks < 2 || sweeps < blocks || sweeps % blocks != 0)
            throw new ArgumentException($"{sweeps} sweeps in {blocks} blocks are not allowed; blocks ≥ 2 and sweeps a multiple of blocks");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        // Thermalisation: a "sweep" flips about V sites; the second half sets the clusters per measured sweep.
        long flipped = 0, counted = 0;
        for (int sweep = 1; sweep <= thermalSweeps; sweep++)
        {
            long target = _volume;
            while (target > 0)
            {
                int size = Update();
                target -= size;
                if (sweep > thermalSweeps / 2)
                {
                    flipped += size;
                    counted++;
                }
            }
            if (heatBathEvery > 0 && sweep % heatBathEvery == 0) HeatBathSweep();
            cancel.ThrowIfCancellationRequested();
            progress?.Invoke(sweep, thermalSweeps, false);
        }
        int clustersPerSweep = (int)Math.Max(1, Math.Round(_volume / ((double)flipped / counted)));
        int lags = _slices / 2 + 1, perBlock = sweeps / blocks;
        var chi = new double[sweeps];
        var plainChi = new double[sweeps];
        var chiSpatial = new double[sweeps];
        var chiTemporal = new double[sweeps];
        var energy = new double[sweeps];
        var fraction = new double[sweeps];
        var correlator = new double[blocks][];
        double dBeta = _lattice.TemporalCouplingDerivative, langevin = RotorPathIntegral.Langevin(_lattice.TemporalCoupling);
        double inverseG2 = 1 / _lattice.CouplingSquared;
        for (int b = 0; b < blocks; b++)
        {
            var block = new double[lags];
            for (int k = 0; k < perBlock; k++)
            {
                int sweep = b * perBlock + k;
                double c0 = 0, cx = 0, ct = 0;
                long sizes = 0;
                for (int c = 0; c < clustersPerSweep; c++)
                {
                    sizes += Update();
                    Measure(ref c0, ref cx, ref ct, block);
                }
                if (heatBathEvery > 0 && (sweep + 1) % heatBathEvery == 0) HeatBathSweep();
                chi[sweep] = c0 / clustersPerSweep;
                chiSpatial[sweep] = cx / clustersPerSweep;
                chiTemporal[sweep] = ct / clustersPerSweep;
                fraction[sweep] = (double)sizes / clustersPerSweep / _volume;
                var (plain, temporal, spatial) = Plain();
                plainChi[sweep] = plain;
                // −(1/N_t) ∂/∂a_t [β_t(a_t) Σ_temporal n·n′ − V ln(sinh β_t/β_t) + (a_t/g²) Σ_spatial n·n′]: the kernel
                // e^{β n·n′}/(4π sinh β/β) conserves probability, so the l = 0 rotor level is 0 as in H.
                energy[sweep] = -(dBeta * (temporal - _volume * langevin) + inverseG2 * spatial) / _slices;
                cancel.ThrowIfCancellationRequested();
                progress?.Invoke(sweep + 1, sweeps, true);
            }
            double scale = 1.0 / (perBlock * clustersPerSweep);
            for (int tau = 0; tau < lags; tau++) block[tau] *= scale;
            correlator[b] = block;
        }
        return new ClusterChainSeries(_lattice, clustersPerSweep, chi, plainChi, chiSpatial, chiTemporal, energy, fraction, correlator, perBlock, clock.Elapsed.TotalSeconds);
    }
}
