namespace Hybrid.Numerics;

/// <summary>
/// A real symmetric matrix in compressed sparse row form (both triangles stored), as the Hamiltonian of a sector of
/// a lattice model: row r's non-zeros are Value[RowStart[r] .. RowStart[r + 1]) in the columns Column[…]. 64-bit row
/// pointers, so a matrix may hold more than 2³¹ non-zeros.
/// </summary>
public sealed record SparseSymmetricMatrix(long[] RowStart, int[] Column, double[] Value)
{
    /// <summary>The dimension.</summary>
    public int Rows => RowStart.Length - 1;

    /// <summary>The stored non-zeros.</summary>
    public long NonZeros => RowStart[^1];

    /// <summary>y = A x, rows in parallel: each row is summed by one thread in a fixed order, so the result is deterministic.</summary>
    public void Multiply(double[] x, double[] y)
    {
        var rowStart = RowStart;
        var column = Column;
        var value = Value;
        ChunkedVectors.ForChunks(Rows, (from, to) =>
        {
            for (int r = from; r < to; r++)
            {
                double sum = 0;
                for (long k = rowStart[r]; k < rowStart[r + 1]; k++) sum += value[k] * x[column[k]];
                y[r] = sum;
            }
        });
    }
}
