namespace Hybrid.Analysis.Numerics

/// Linear algebra on vectors and matrices of a few entries held as plain arrays (float[], float[,]), where a
/// MathNet matrix would cost more in allocation than the arithmetic. Loops run in a fixed order, so results are
/// reproducible bit for bit.
[<RequireQualifiedAccess>]
module SmallMatrices =

    /// x·y.
    let dot (x: float[]) (y: float[]) : float =
        let mutable s = 0.0
        for i in 0 .. x.Length - 1 do s <- s + x.[i] * y.[i]
        s

    /// |x|, the Euclidean norm.
    let norm (x: float[]) : float = sqrt (dot x x)

    /// Rows of the lower-triangular Cholesky factor L of C = L Lᵀ (None if C is not positive definite). Row i of L is
    /// the factor form of the i-th coordinate of N(0, C): vᵢ = Lᵢ·g with g standard normal.
    let choleskyRows (c: float[,]) : float[][] option =
        let n = Array2D.length1 c
        let l = Array2D.zeroCreate n n
        let mutable ok = true
        for j in 0 .. n - 1 do
            if ok then
                let mutable diagonal = c.[j, j]
                for k in 0 .. j - 1 do diagonal <- diagonal - l.[j, k] * l.[j, k]
                if diagonal <= 0.0 then ok <- false
                else
                    l.[j, j] <- sqrt diagonal
                    for i in j + 1 .. n - 1 do
                        let mutable v = c.[i, j]
                        for k in 0 .. j - 1 do v <- v - l.[i, k] * l.[j, k]
                        l.[i, j] <- v / l.[j, j]
        if ok then Some(Array.init n (fun i -> Array.init n (fun k -> l.[i, k]))) else None

    /// M⁻¹ by Gauss–Jordan elimination with partial pivoting. M must be square and non-singular; a singular M gives
    /// non-finite entries, not an exception.
    let inverse (m: float[,]) : float[,] =
        let n = Array2D.length1 m
        let a = Array2D.init n (2 * n) (fun i j -> if j < n then m.[i, j] elif j - n = i then 1.0 else 0.0)
        for col in 0 .. n - 1 do
            let pivot = [ col .. n - 1 ] |> List.maxBy (fun r -> abs a.[r, col])
            for j in 0 .. 2 * n - 1 do
                let t = a.[col, j]
                a.[col, j] <- a.[pivot, j]
                a.[pivot, j] <- t
            let p = a.[col, col]
            for j in 0 .. 2 * n - 1 do a.[col, j] <- a.[col, j] / p
            for r in 0 .. n - 1 do
                if r <> col then
                    let f = a.[r, col]
                    if f <> 0.0 then
                        for j in 0 .. 2 * n - 1 do a.[r, j] <- a.[r, j] - f * a.[col, j]
        Array2D.init n n (fun i j -> a.[i, j + n])

    /// Coordinates of the rows in an orthonormal basis of their span (modified Gram–Schmidt with pivoting, every new
    /// direction re-orthogonalised once against the basis so far). The Gram matrix of the result equals that of the
    /// rows, up to the dropped directions: a direction whose residual is below `threshold` times the largest row is
    /// dropped, which moves every row by at most that fraction of the largest.
    let reduceToSpan (threshold: float) (rows: float[][]) : float[][] =
        let n = rows.Length
        let scale = rows |> Array.map norm |> Array.max
        let residual = rows |> Array.map Array.copy
        let basis = ResizeArray<float[]>()
        let mutable searching = true
        while searching && basis.Count < min n rows.[0].Length do
            let norms = residual |> Array.map norm
            let pivot = Array.findIndex (fun v -> v = Array.max norms) norms
            if norms.[pivot] <= threshold * scale then searching <- false
            else
                let e = residual.[pivot] |> Array.map (fun v -> v / norms.[pivot])
                // Re-orthogonalise once against the basis so far: Gram–Schmidt twice is enough.
                for b in basis do
                    let p = dot e b
                    for k in 0 .. e.Length - 1 do e.[k] <- e.[k] - p * b.[k]
                let ne = norm e
                for k in 0 .. e.Length - 1 do e.[k] <- e.[k] / ne
                basis.Add e
                for i in 0 .. n - 1 do
                    let p = dot residual.[i] e
                    for k in 0 .. e.Length - 1 do residual.[i].[k] <- residual.[i].[k] - p * e.[k]
        rows |> Array.map (fun row -> [| for b in basis -> dot row b |])
