namespace Hybrid.Analysis.Numerics

/// Elementary functions accurate to rounding near the points where the direct formula cancels. MathNet's Log1p
/// and Expm1 are truncated series, good to ~1e-10 only, and .NET's LogP1 and ExpM1 are the direct formulas.
[<RequireQualifiedAccess>]
module Elementary =

    /// ln(1 + x) without the cancellation of 1 + x for small x (Goldberg's correction).
    let log1p (x: float) : float =
        let u = 1.0 + x
        if u = 1.0 then x else log u * x / (u - 1.0)

    /// eˣ − 1 without cancellation for small x (Kahan's correction).
    let expm1 (x: float) : float =
        let u = exp x
        if u = 1.0 then x
        elif u - 1.0 = -1.0 then -1.0
        else (u - 1.0) * x / log u
