namespace Hybrid.Numerics;

/// <summary>
/// Autocorrelations A(τ) = Σ_t x_t x_{t+τ} of real profiles by a radix-2 FFT (zero-padded, so the products are the
/// linear ones), for estimators that form a correlator of every sample: O(n log n) instead of O(n²). One instance
/// keeps its work arrays and twiddle factors, so it is not thread-safe: use one per sampler.
/// </summary>
public sealed class Autocorrelation
{
    private double[] _re = Array.Empty<double>();
    private double[] _im = Array.Empty<double>();
    private double[] _cos = Array.Empty<double>();
    private double[] _sin = Array.Empty<double>();
    private int _size;

    /// <summary>Below this length the direct double sum is cheaper than two transforms.</summary>
    public const int DirectBelow = 48;

    /// <summary>
    /// Adds weight · Σ_t x_t x_{t+τ mod n} for τ = 0 … result.Length − 1 to <paramref name="result"/>, where x is
    /// <paramref name="profile"/>, a window of consecutive points of a cycle of n = <paramref name="period"/> points
    /// (profile.Length ≤ n; the points outside the window are zero; where it starts does not matter).
    /// result.Length ≤ n/2 + 1.
    /// </summary>
    public void AddCyclic(ReadOnlySpan<double> profile, int period, double weight, Span<double> result)
    {
        int w = profile.Length;
        if (w > period) throw new ArgumentException($"a profile of {w} points does not fit a period of {period}");
        if (result.Length > period / 2 + 1) throw new ArgumentException($"lags up to {result.Length - 1} exceed half the period {period}");
        if (w == 0) return;
        // The cyclic sum at lag τ is the linear one at τ plus the linear one at n − τ (pairs that wrap around; at τ = n/2
        // the two are the same pairs seen from either end, and both count).
        if (w <= DirectBelow)
        {
            // Only lags below w, and their wrapped partners n − τ below w, have pairs: O(w²) work.
            for (int lag = 0; lag < w; lag++)
            {
                double sum = weight * Linear(profile, lag);
                if (lag < result.Length) result[lag] += sum;
                int wrapped = period - lag;
                if (lag > 0 && wrapped < result.Length) result[wrapped] += sum;
            }
            return;
        }
        Transform(profile);
        for (int tau = 0; tau < result.Length; tau++)
        {
            double sum = tau < w ? _re[tau] : 0.0;
            int back = period - tau;
            if (back < w) sum += _re[back];
            result[tau] += weight * sum;
        }
    }

    private static double Linear(ReadOnlySpan<double> x, int lag)
    {
        double sum = 0;
        for (int t = 0; t + lag < x.Length; t++) sum += x[t] * x[t + lag];
        return sum;
    }

    /// <summary>Leaves the linear autocorrelation of x at lags 0 … 2·len − 1 in _re (|X|² transformed back).</summary>
    private void Transform(ReadOnlySpan<double> x)
    {
        int size = 1;
        while (size < 2 * x.Length) size <<= 1;
        Prepare(size);
        Array.Clear(_re, 0, size);
        Array.Clear(_im, 0, size);
        x.CopyTo(_re);
        Fft(_re, _im, size, inverse: false);
        for (int k = 0; k < size; k++)
        {
            _re[k] = _re[k] * _re[k] + _im[k] * _im[k];
            _im[k] = 0;
        }
        Fft(_re, _im, size, inverse: true);
        double scale = 1.0 / size;
        for (int k = 0; k < size; k++) _re[k] *= scale;
    }

    private void Prepare(int size)
    {
        if (size == _size) return;
        if (_re.Length < size)
        {
            _re = new double[size];
            _im = new double[size];
        }
        _cos = new double[size / 2];
        _sin = new double[size / 2];
        for (int k = 0; k < size / 2; k++)
        {
            double angle = -2 * Math.PI * k / size;
            _cos[k] = Math.Cos(angle);
            _sin[k] = Math.Sin(angle);
        }
        _size = size;
    }

    private void Fft(double[] re, double[] im, int n, bool inverse)
    {
        for (int i = 1, j = 0; i < n; i++)
        {
            int bit = n >> 1;
            for (; (j & bit) != 0; bit >>= 1) j ^= bit;
            j ^= bit;
            if (i < j)
            {
                (re[i], re[j]) = (re[j], re[i]);
                (im[i], im[j]) = (im[j], im[i]);
            }
        }
        double sign = inverse ? -1 : 1;
        for (int length = 2; length <= n; length <<= 1)
        {
            int half = length >> 1, stride = n / length;
            for (int start = 0; start < n; start += length)
                for (int k = 0; k < half; k++)
                {
                    double wr = _cos[k * stride], wi = sign * _sin[k * stride];
                    int a = start + k, b = a + half;
                    double tr = re[b] * wr - im[b] * wi, ti = re[b] * wi + im[b] * wr;
                    re[b] = re[a] - tr;
                    im[b] = im[a] - ti;
                    re[a] += tr;
                    im[a] += ti;
                }
        }
    }
}
