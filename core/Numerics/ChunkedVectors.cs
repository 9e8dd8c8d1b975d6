namespace Hybrid.Numerics;

/// <summary>
/// Vector kernels over long arrays, parallel over fixed chunks of rows, with sums reduced in chunk order: every run
/// gives the same bits whatever the thread count, which keeps exact diagonalisation reproducible.
/// </summary>
public static class ChunkedVectors
{
    /// <summary>Rows per parallel work item.</summary>
    public const int Chunk = 4096;

    /// <summary>Runs <paramref name="body"/>(from, to) over [0, n) in chunks of <see cref="Chunk"/> rows, in parallel.</summary>
    public static void ForChunks(int n, Action<int, int> body)
    {
        int chunks = (n + Chunk - 1) / Chunk;
        if (chunks <= 1)
        {
            body(0, n);
            return;
        }
        Parallel.For(0, chunks, c => body(c * Chunk, Math.Min(n, (c + 1) * Chunk)));
    }

    /// <summary>Σ over chunks of <paramref name="body"/>(from, to), added in chunk order (deterministic).</summary>
    public static double SumChunks(int n, Func<int, int, double> body)
    {
        int chunks = (n + Chunk - 1) / Chunk;
        if (chunks <= 1) return body(0, n);
        var partial = new double[chunks];
        Parallel.For(0, chunks, c => partial[c] = body(c * Chunk, Math.Min(n, (c + 1) * Chunk)));
        double sum = 0;
        foreach (double p in partial) sum += p;
        return sum;
    }

    /// <summary>a · b.</summary>
    public static double Dot(double[] a, double[] b) => SumChunks(a.Length, (from, to) =>
    {
        double sum = 0;
        for (int i = from; i < to; i++) sum += a[i] * b[i];
        return sum;
    });

    /// <summary>y ← y + a x.</summary>
    public static void Axpy(double a, double[] x, double[] y) => ForChunks(x.Length, (from, to) =>
    {
        for (int i = from; i < to; i++) y[i] += a * x[i];
    });

    /// <summary>x ← a x.</summary>
    public static void Scale(double[] x, double a) => ForChunks(x.Length, (from, to) =>
    {
        for (int i = from; i < to; i++) x[i] *= a;
    });

    /// <summary>target ← a · source.</summary>
    public static void Copy(double[] source, double[] target, double a) => ForChunks(source.Length, (from, to) =>
    {
        for (int i = from; i < to; i++) target[i] = a * source[i];
    });
}
