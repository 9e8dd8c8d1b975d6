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
      /// The fit's weight in the model average (Akaike: ∝ exp(−(χ² + 2k + 2·N_cut)/2), normalised over the fits).
      Weight: float
      /// f of the form, for drawing it.
      Basis: float -> float }

/// The continuum limit: every form's fit over each fit range, their model average, and the spread of the fits.
type ContinuumLimit =
    { Fits: ContinuumFit list
      /// The model average's statistical part: Σ wᵢσᵢ with error √(Σ wᵢ δσᵢ²).
      Central: Estimate
      /// The model average's spread between the fits, √(Σ wᵢσᵢ² − (Σ wᵢσᵢ)²): forms and ranges that describe the
      /// data and disagree make it large; a form that does not describe the data carries no weight.
      Systematic: float
      /// Central with statistical and systematic errors in quadrature.
      Combined: Estimate
      /// Half the unweighted spread of σ over every fit, good or bad: a cruder, more pessimistic measure, reported
      /// beside the average.
      Spread: float }

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

    /// Fits Σ(a/L) = σ + A·f(a/L) for each form over every fit range that keeps at least three sizes (all sizes, then
    /// without the smallest, and so on: at the coarsest lattices the higher orders of the cutoff effects weigh most), and
    /// averages the fits with Akaike weights, wᵢ ∝ exp(−(χ²ᵢ + 2k + 2·N_cut,ᵢ)/2) with k = 2 parameters and N_cut the
    /// sizes a range drops (Jay and Neil, Phys. Rev. D 103, 114502 (2021), arXiv:2008.01069). The average's variance
    /// adds the weighted spread of the fits to their weighted statistical variance, so forms and ranges that describe the
    /// data equally well and disagree widen the error, while a form the data reject (large χ²) drops out instead of
    /// setting it. With only two sizes there is one fit per form and no χ²; the forms are then weighted equally.
    let extrapolate (points: (int * Estimate) list) : ContinuumLimit =
        if points.Length < 2 then invalidArg "points" "a continuum extrapolation needs Σ at two or more sizes"
        let points = points |> List.sortBy fst
        let fitOver (cut: int) (range: (int * Estimate) list) =
            let xs = range |> List.map (fun (l, _) -> 1.0 / float l) |> Array.ofList
            let data = LeastSquares.ofErrors (range |> List.map (fun (_, e) -> e.Mean) |> Array.ofList) (range |> List.map (fun (_, e) -> e.Error) |> Array.ofList)
            [ for name, f in forms ->
                  let model = { ParameterNames = [| "sigma"; "A" |]; Priors = [| Flat; Flat |]; Predict = fun p -> xs |> Array.map (fun x -> p.[0] + p.[1] * f x) }
                  let r = LeastSquares.fit model data (LeastSquares.options [| (snd (List.last range)).Mean; 0.0 |])
                  let chi2 = if range.Length > 2 then r.ChiSquaredPerDof * float (range.Length - 2) else 0.0
                  { Form = name; From = fst (List.head range); Sigma = Estimate.independent r.Parameters.[0] r.Errors.[0] range.Length
                    Slope = r.Parameters.[1]; ChiSquaredPerDof = r.ChiSquaredPerDof
                    // Log-weight for now; normalised below.
                    Weight = -0.5 * (chi2 + 2.0 * 2.0 + 2.0 * float cut); Basis = f } ]
        let ranges = if points.Length < 3 then [ 0, points ] else [ for cut in 0 .. points.Length - 3 -> cut, List.skip cut points ]
        let raw = ranges |> List.collect (fun (cut, range) -> fitOver cut range)
        let top = raw |> List.map (fun f -> f.Weight) |> List.filter Double.IsFinite |> List.max
        let unnormalised = raw |> List.map (fun f -> if Double.IsFinite f.Weight && Double.IsFinite f.Sigma.Mean then exp (f.Weight - top) else 0.0)
        let total = List.sum unnormalised
        let fits = List.map2 (fun f w -> { f with Weight = w / total }) raw unnormalised
        let used = fits |> List.filter (fun f -> f.Weight > 0.0)
        let mean = used |> List.sumBy (fun f -> f.Weight * f.Sigma.Mean)
        let statistical = sqrt (used |> List.sumBy (fun f -> f.Weight * f.Sigma.Error ** 2.0))
        let systematic = sqrt (max 0.0 ((used |> List.sumBy (fun f -> f.Weight * f.Sigma.Mean ** 2.0)) - mean * mean))
        let sigmas = fits |> List.map (fun f -> f.Sigma.Mean) |> List.filter Double.IsFinite
        { Fits = fits
          Central = Estimate.independent mean statistical points.Length
          Systematic = systematic
          Combined = Estimate.independent mean (sqrt (statistical ** 2.0 + systematic ** 2.0)) points.Length
          Spread = (List.max sigmas - List.min sigmas) / 2.0 }
