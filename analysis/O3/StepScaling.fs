namespace Hybrid.Analysis.O3

open System
open Hybrid.Analysis.Statistics
open Hybrid.Analysis.Fitting

/// One continuum extrapolation of the lattice step-scaling function: Σ(a/L) = σ + A·f(a/L).
type ContinuumFit =
    { /// The form's name, e.g. "a/L".
      Form: string
      /// The smallest L in the fit (the fit range is this L and every larger one).
      From: int
      /// σ = Σ at a/L = 0.
      Sigma: Estimate
      /// The slope A.
      Slope: float
      ChiSquaredPerDof: float
      /// f of the form, for drawing it.
      Basis: float -> float }

/// The continuum limit: every form's fit over each fit range, the chosen central value and the spread of the fits as a
/// systematic error.
type ContinuumLimit =
    { Fits: ContinuumFit list
      /// The central value with its statistical error: the fit of smallest χ²/dof, or a/L over all sizes when no fit
      /// has degrees of freedom left (at accessible L the cutoff effects look like O(a)).
      Central: Estimate
      /// Half the spread of σ between the fits (forms and ranges).
      Systematic: float
      /// Central with statistical and systematic errors in quadrature.
      Combined: Estimate }

/// The Lüscher–Weisz–Wolff running coupling ū(L) = L·m(L) of the O(3) σ-model and its step-scaling function
/// σ(2, u) = ū(2L) at ū(L) = u: perturbation theory, tuning a coupling to a target ū on noisy data, and the continuum
/// extrapolation of the lattice Σ(2, u, a/L) with several forms of the cutoff effects.
[<RequireQualifiedAccess>]
module StepScaling =

    /// b₀ = (N − 2)/(2π) for O(N), N = 3.
    let b0 = 1.0 / (2.0 * Math.PI)

    /// b₁ = (N − 2)/(2π)² for N = 3.
    let b1 = 1.0 / (4.0 * Math.PI * Math.PI)

    /// The two-loop step-scaling function σ(s, u) = u + b₀ ln s u² + (b₁ ln s + b₀² ln² s) u³.
    let perturbative (s: float) (u: float) =
        let l = log s
        u + b0 * l * u * u + (b1 * l + b0 * b0 * l * l) * u * u * u

    /// d ln σ(s, u)/d ln u of the perturbative step-scaling function at one or two loops: how strongly ū(sL) answers a
    /// change of ū(L). It is 1 at tree level (σ = u) and 1.16 at two loops at u = 1.0595, s = 2.
    let logDerivative (loops: int) (s: float) (u: float) =
        if loops <> 1 && loops <> 2 then invalidArg "loops" (sprintf "loops is %d; the perturbative σ is known at 1 or 2" loops)
        let l = log s
        let c2 = b0 * l
        let c3 = if loops = 2 then b1 * l + b0 * b0 * l * l else 0.0
        u * (1.0 + 2.0 * c2 * u + 3.0 * c3 * u * u) / (u + c2 * u * u + c3 * u * u * u)

    /// ū at L from ū₀ at L₀ by the two-loop running L dū/dL = b₀ū² + b₁ū³ (RK4 in ln L).
    let running (u0: float) (l0: float) (l: float) =
        let steps = 200
        let h = log (l / l0) / float steps
        let f u = b0 * u * u + b1 * u * u * u
        let mutable u = u0
        for _ in 1 .. steps do
            let k1 = f u
            let k2 = f (u + 0.5 * h * k1)
            let k3 = f (u + 0.5 * h * k2)
            let k4 = f (u + h * k3)
            u <- u + h * (k1 + 2.0 * k2 + 2.0 * k3 + k4) / 6.0
        u

    /// The exact continuum σ(2, u) where it is known: 1.261210 at u = 1.0595, from the thermodynamic Bethe ansatz
    /// (Balog and Hegedűs; quoted by Balog, Niedermayer and Weisz, arXiv:0901.4033 and 0905.1730).
    let continuumAt (u: float) : float option = if abs (u - 1.0595) < 1e-12 then Some 1.261210 else None

    /// The coupling g² at which ū = `target`, from measurements (g², ū ± δū) around it, by a weighted fit of
    /// ln ū against x = ln g²: a straight line through two points, a parabola through three or more (ū(g²) is not a
    /// power law over the spread of a tuning: a line through points 10% apart misplaces the root by several times its
    /// statistical error). The fit is solved for the target at the root nearest the data; its error propagates the
    /// fit's covariance (numerically, through the root). Also returns d ln ū / d ln g² at the root.
    let tuneCoupling (target: float) (points: (float * Estimate) list) : Estimate * float =
        if points.Length < 2 then invalidArg "points" "tuning a coupling needs at least two measurements"
        let x = points |> List.map (fst >> log) |> Array.ofList
        let y = points |> List.map (fun (_, e) -> log e.Mean) |> Array.ofList
        let sigma = points |> List.map (fun (_, e) -> e.Error / e.Mean) |> Array.ofList
        let order = if points.Length >= 3 then 2 else 1
        // Centred at the data's mean x, so that the normal equations stay well conditioned.
        let centre = Array.average x
        let basis (xi: float) = Array.init (order + 1) (fun k -> (xi - centre) ** float k)
        let a = MathNet.Numerics.LinearAlgebra.Matrix<float>.Build.DenseOfRowArrays(Array.map2 (fun xi si -> basis xi |> Array.map (fun b -> b / si)) x sigma)
        let b = MathNet.Numerics.LinearAlgebra.Vector<float>.Build.DenseOfArray(Array.map2 (/) y sigma)
        let normal = a.TransposeThisAndMultiply a
        let covariance = normal.Inverse()
        let coefficients = covariance * (a.TransposeThisAndMultiply b)
        let lnTarget = log target
        let root (c: MathNet.Numerics.LinearAlgebra.Vector<float>) =
            if order = 1 then (lnTarget - c.[0]) / c.[1]
            else
                // c₂t² + c₁t + c₀ − ln u = 0 in t = x − centre; the root nearest the data (t near 0).
                let qa, qb, qc = c.[2], c.[1], c.[0] - lnTarget
                let disc = qb * qb - 4.0 * qa * qc
                if abs qa < 1e-12 * abs qb || disc < 0.0 then -qc / qb
                else
                    let s = sqrt disc
                    // The numerically stable pair of roots.
                    let q = -0.5 * (qb + (if qb >= 0.0 then s else -s))
                    let r1, r2 = q / qa, qc / q
                    if abs r1 < abs r2 then r1 else r2
        let t = root coefficients
        let gradient =
            Array.init (order + 1) (fun k ->
                let h = 1e-6 * max 1.0 (abs coefficients.[k])
                let up, down = coefficients.Clone(), coefficients.Clone()
                up.[k] <- up.[k] + h
                down.[k] <- down.[k] - h
                (root up - root down) / (2.0 * h))
        let g = MathNet.Numerics.LinearAlgebra.Vector<float>.Build.DenseOfArray gradient
        let varT = g * (covariance * g)
        let slope = if order = 1 then coefficients.[1] else coefficients.[1] + 2.0 * coefficients.[2] * t
        let g2 = exp (t + centre)
        Estimate.independent g2 (g2 * sqrt (max 0.0 varT)) points.Length, slope

    /// The forms of the cutoff effects: a/L, (a/L)², and the log-enhanced (a/L)²|ln(a/L)|³ expected for this model.
    let forms : (string * (float -> float)) list =
        [ "a/L", id; "(a/L)²", (fun x -> x * x); "(a/L)²|ln(a/L)|³", (fun x -> x * x * (abs (log x)) ** 3.0) ]

    /// Fits Σ(a/L) = σ + A·f(a/L) for each form to Σ measured at lattice sizes L (a/L = 1/L), over all sizes and, when
    /// three or more remain, without the smallest: at the coarsest lattice the higher orders of the cutoff effects weigh
    /// most, so the range is varied as well as the form.
    let extrapolate (points: (int * Estimate) list) : ContinuumLimit =
        if points.Length < 2 then invalidArg "points" "a continuum extrapolation needs Σ at two or more sizes"
        let points = points |> List.sortBy fst
        let fitOver (range: (int * Estimate) list) =
            let xs = range |> List.map (fun (l, _) -> 1.0 / float l) |> Array.ofList
            let data = LeastSquares.ofErrors (range |> List.map (fun (_, e) -> e.Mean) |> Array.ofList) (range |> List.map (fun (_, e) -> e.Error) |> Array.ofList)
            [ for name, f in forms ->
                  let model = { ParameterNames = [| "sigma"; "A" |]; Priors = [| Flat; Flat |]; Predict = fun p -> xs |> Array.map (fun x -> p.[0] + p.[1] * f x) }
                  let r = LeastSquares.fit model data (LeastSquares.options [| (snd (List.last range)).Mean; 0.0 |])
                  { Form = name; From = fst (List.head range); Sigma = Estimate.independent r.Parameters.[0] r.Errors.[0] range.Length
                    Slope = r.Parameters.[1]; ChiSquaredPerDof = r.ChiSquaredPerDof; Basis = f } ]
        let fits = fitOver points @ (if points.Length >= 4 then fitOver (List.tail points) else [])
        let central =
            match fits |> List.filter (fun f -> Double.IsFinite f.ChiSquaredPerDof) with
            | [] -> (List.head fits).Sigma
            | fitted -> (fitted |> List.minBy (fun f -> f.ChiSquaredPerDof)).Sigma
        let sigmas = fits |> List.map (fun f -> f.Sigma.Mean)
        let systematic = (List.max sigmas - List.min sigmas) / 2.0
        { Fits = fits; Central = central; Systematic = systematic
          Combined = Estimate.independent central.Mean (sqrt (central.Error ** 2.0 + systematic ** 2.0)) points.Length }
