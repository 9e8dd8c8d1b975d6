namespace Hybrid.Analysis.Fitting

open System
open MathNet.Numerics.Distributions
open MathNet.Numerics.LinearAlgebra
open Hybrid.Analysis.Statistics

/// What is known about one fit parameter before the fit.
type Prior =
    /// No prior: the data alone determine the parameter.
    | Flat
    /// θ ~ N(mean, width²).
    | Gaussian of Mean: float * Width: float
    /// log θ ~ N(log median, logWidth²): θ > 0 (an energy, an amplitude). The fit works in log θ, so θ stays
    /// positive at every iteration, and the parameter's error is propagated back to θ at the end.
    | LogNormal of Median: float * LogWidth: float

/// What is fitted: named parameters with their priors, and the model's predictions for the data points.
type Model =
    {
        /// One name per parameter, in order.
        ParameterNames: string[]
        /// One prior per parameter (Flat for none).
        Priors: Prior[]
        /// The predictions at every data point, in data order, for parameters θ.
        Predict: float[] -> float[]
    }

/// Data to fit: central values and their covariance (a diagonal for independent errors).
type FitData =
    {
        /// Central values y_i.
        Values: float[]
        /// Covariance C_ij of the central values (symmetric, positive definite).
        Covariance: float[,]
    }

/// How the Levenberg–Marquardt iteration runs.
type SolverOptions =
    {
        /// Starting parameters θ (positive where the prior is log-normal).
        InitialGuess: float[]
        /// Most iterations before giving up (the result then says Converged = false).
        MaxIterations: int
        /// Converged when an accepted step changes χ² by less than Tolerance·(1 + χ²) and moves every
        /// internal parameter by less than Tolerance·(1 + |u|).
        Tolerance: float
        /// Starting damping λ of (JᵀJ + λ diag JᵀJ) δ = −Jᵀr.
        InitialDamping: float
    }

/// The outcome of a fit.
type FitResult =
    {
        ParameterNames: string[]
        /// Best-fit parameters θ.
        Parameters: float[]
        /// Covariance of the parameters (Gauss–Newton, from the whitened Jacobian at the best fit, priors included).
        Covariance: float[,]
        /// √diag Covariance.
        Errors: float[]
        /// χ² of the data alone at the best fit: (y − f)ᵀ C⁻¹ (y − f).
        DataChiSquared: float
        /// What the fit minimises: the data χ² plus one squared pull per prior.
        ChiSquared: float
        /// Number of data points.
        DataPoints: int
        /// Data points + priors − parameters (a prior counts as one more measurement, as in lsqfit).
        DegreesOfFreedom: int
        /// ChiSquared / DegreesOfFreedom (NaN without degrees of freedom).
        ChiSquaredPerDof: float
        /// Q = P(χ²_dof ≥ ChiSquared): small values say the model or the errors are wrong.
        PValue: float
        /// Akaike's information criterion ChiSquared + 2k for k parameters: lower is better among models fitted to the
        /// same data (for Gaussian errors −2 ln L = χ² up to a constant).
        Aic: float
        /// Accepted Levenberg–Marquardt steps.
        Iterations: int
        /// Whether the tolerance was met within MaxIterations.
        Converged: bool
    }

/// Non-linear least squares for correlated data with priors (Levenberg–Marquardt): the data are whitened by the
/// Cholesky factor of their covariance, each prior adds one residual, and the parameter covariance is
/// (JᵀJ)⁻¹ of the whitened problem at the best fit. Conventions follow G. P. Lepage's lsqfit (priors as extra
/// data, log-normal priors by fitting log θ; hep-lat/0110175).
[<RequireQualifiedAccess>]
module LeastSquares =

    /// Default solver settings from an initial guess: 200 iterations, tolerance 1e-10, damping 1e-3.
    let options (initialGuess: float[]) : SolverOptions =
        { InitialGuess = initialGuess; MaxIterations = 200; Tolerance = 1e-10; InitialDamping = 1e-3 }

    /// Data with independent errors.
    let ofErrors (values: float[]) (errors: float[]) : FitData =
        if values.Length <> errors.Length then
            invalidArg "errors" (sprintf "%d errors for %d values; give one error per value" errors.Length values.Length)
        { Values = values; Covariance = Array2D.init values.Length values.Length (fun i j -> if i = j then errors.[i] * errors.[i] else 0.0) }

    /// The mean of independent samples (samples.[s].[i]: sample s, data point i) and the covariance of that mean,
    /// e.g. a correlator measured on many independent configurations.
    let ofSamples (samples: float[][]) : FitData =
        if isNull samples || samples.Length < 2 then invalidArg "samples" "the covariance of a mean needs at least 2 samples"
        let n = samples.[0].Length
        if samples |> Array.exists (fun s -> s.Length <> n) then invalidArg "samples" "every sample must have the same number of data points"
        let count = float samples.Length
        let mean = Array.init n (fun i -> samples |> Array.averageBy (fun s -> s.[i]))
        let covariance =
            Array2D.init n n (fun i j -> (samples |> Array.sumBy (fun s -> (s.[i] - mean.[i]) * (s.[j] - mean.[j]))) / ((count - 1.0) * count))
        { Values = mean; Covariance = covariance }

    let private validate (model: Model) (data: FitData) (options: SolverOptions) =
        let k = model.ParameterNames.Length
        if k = 0 then invalidArg "model" "a model needs at least one parameter"
        if model.Priors.Length <> k then
            invalidArg "model" (sprintf "%d priors for %d parameters; give one prior (Flat for none) per parameter" model.Priors.Length k)
        if options.InitialGuess.Length <> k then
            invalidArg "options" (sprintf "initial guess of %d values for %d parameters" options.InitialGuess.Length k)
        let n = data.Values.Length
        if n = 0 then invalidArg "data" "no data to fit"
        if Array2D.length1 data.Covariance <> n || Array2D.length2 data.Covariance <> n then
            invalidArg "data" (sprintf "covariance of size %d×%d for %d values" (Array2D.length1 data.Covariance) (Array2D.length2 data.Covariance) n)
        if data.Values |> Array.exists (Double.IsFinite >> not) then invalidArg "data" "the data hold a value that is not finite"
        if not (options.MaxIterations >= 1) then invalidArg "options" (sprintf "MaxIterations = %d; it must be ≥ 1" options.MaxIterations)
        if not (options.Tolerance > 0.0) then invalidArg "options" (sprintf "Tolerance = %g; it must be > 0" options.Tolerance)
        if not (options.InitialDamping > 0.0) then invalidArg "options" (sprintf "InitialDamping = %g; it must be > 0" options.InitialDamping)
        for p in 0 .. k - 1 do
            let name = model.ParameterNames.[p]
            match model.Priors.[p] with
            | Gaussian(mean, width) when not (Double.IsFinite mean && width > 0.0 && Double.IsFinite width) ->
                invalidArg "model" (sprintf "prior of %s: N(%g, %g²) is not allowed; the mean must be finite and the width > 0" name mean width)
            | LogNormal(median, logWidth) when not (median > 0.0 && Double.IsFinite median && logWidth > 0.0 && Double.IsFinite logWidth) ->
                invalidArg "model" (sprintf "prior of %s: log-normal(median %g, log width %g) is not allowed; both must be finite and > 0" name median logWidth)
            | LogNormal _ when not (options.InitialGuess.[p] > 0.0) ->
                invalidArg "options" (sprintf "initial %s = %g; a parameter with a log-normal prior must start > 0" name options.InitialGuess.[p])
            | _ when not (Double.IsFinite options.InitialGuess.[p]) -> invalidArg "options" (sprintf "initial %s = %g is not finite" name options.InitialGuess.[p])
            | _ -> ()

    /// Fits `model` to `data`.
    /// Raises ArgumentException for inconsistent input (naming it) and for a covariance that is not positive definite.
    let fit (model: Model) (data: FitData) (options: SolverOptions) : FitResult =
        validate model data options
        let k, n = model.ParameterNames.Length, data.Values.Length
        let covariance = Matrix<float>.Build.DenseOfArray data.Covariance
        let cholesky =
            try covariance.Cholesky()
            with :? ArgumentException -> invalidArg "data" "the covariance of the data is not symmetric positive definite"
        let lower = cholesky.Factor
        let y = Vector<float>.Build.DenseOfArray data.Values
        let isLog p = match model.Priors.[p] with LogNormal _ -> true | _ -> false
        // Internal parameters u: log θ where the prior is log-normal, θ elsewhere.
        let toTheta (u: float[]) = Array.init k (fun p -> if isLog p then exp u.[p] else u.[p])
        let priorResiduals (u: float[]) =
            [| for p in 0 .. k - 1 do
                   match model.Priors.[p] with
                   | Flat -> ()
                   | Gaussian(mean, width) -> yield (u.[p] - mean) / width
                   | LogNormal(median, logWidth) -> yield (u.[p] - log median) / logWidth |]
        let residuals (u: float[]) : float[] =
            let f = model.Predict(toTheta u)
            if isNull f || f.Length <> n then
                invalidOp (sprintf "the model predicted %d values for %d data points" (if isNull f then 0 else f.Length) n)
            // Whitened data residuals L⁻¹(f − y): their squares sum to (f − y)ᵀ C⁻¹ (f − y).
            let whitened = lower.Solve(Vector<float>.Build.DenseOfArray f - y)
            Array.append (whitened.ToArray()) (priorResiduals u)
        let chi2 (r: float[]) = r |> Array.sumBy (fun x -> x * x)
        let jacobian (u: float[]) =
            let columns =
                Array.init k (fun p ->
                    let h = 1e-6 * max 1.0 (abs u.[p])
                    let up, down = Array.copy u, Array.copy u
                    up.[p] <- u.[p] + h
                    down.[p] <- u.[p] - h
                    Array.map2 (fun a b -> (a - b) / (2.0 * h)) (residuals up) (residuals down))
            Matrix<float>.Build.DenseOfColumnArrays columns
        let mutable u = Array.init k (fun p -> if isLog p then log options.InitialGuess.[p] else options.InitialGuess.[p])
        let mutable r = residuals u
        if r |> Array.exists (Double.IsFinite >> not) then
            invalidOp "the model's predictions at the initial guess are not finite; start from parameters where the model is defined"
        let mutable current = chi2 r
        let mutable damping = options.InitialDamping
        let mutable iterations, converged, stalled = 0, false, false
        while not converged && not stalled && iterations < options.MaxIterations do
            let j = jacobian u
            let a = j.TransposeThisAndMultiply j
            let g = j.TransposeThisAndMultiply(Vector<float>.Build.DenseOfArray r)
            let mutable accepted = false
            while not accepted && not stalled do
                let damped = a.Clone()
                for p in 0 .. k - 1 do
                    damped.[p, p] <- a.[p, p] + damping * max a.[p, p] 1e-12
                let step = damped.Solve(-g).ToArray()
                let trial = Array.map2 (+) u step
                let rTrial = residuals trial
                let trialChi2 = chi2 rTrial
                if Double.IsFinite trialChi2 && trialChi2 <= current then
                    let small = step |> Array.mapi (fun p s -> abs s <= options.Tolerance * (1.0 + abs u.[p])) |> Array.forall id
                    converged <- (current - trialChi2) <= options.Tolerance * (1.0 + trialChi2) && small
                    u <- trial
                    r <- rTrial
                    current <- trialChi2
                    damping <- max (damping / 10.0) 1e-15
                    accepted <- true
                    iterations <- iterations + 1
                else
                    damping <- damping * 10.0
                    // No step of any length lowers χ²: u is a minimum to the precision of the arithmetic.
                    if damping > 1e16 then
                        stalled <- true
                        converged <- true
        // Covariance of u from the whitened problem, then of θ by the chain rule dθ/du = θ on log parameters.
        let j = jacobian u
        let covarianceU = (j.TransposeThisAndMultiply j).Inverse()
        let theta = toTheta u
        let scale = Array.init k (fun p -> if isLog p then theta.[p] else 1.0)
        let covarianceTheta = Array2D.init k k (fun p q -> scale.[p] * covarianceU.[p, q] * scale.[q])
        let priors = model.Priors |> Array.filter (fun p -> p <> Flat) |> Array.length
        let dof = n + priors - k
        let dataChi2 = chi2 r.[.. n - 1]
        { ParameterNames = model.ParameterNames
          Parameters = theta
          Covariance = covarianceTheta
          Errors = Array.init k (fun p -> sqrt covarianceTheta.[p, p])
          DataChiSquared = dataChi2
          ChiSquared = current
          DataPoints = n
          DegreesOfFreedom = dof
          ChiSquaredPerDof = (if dof > 0 then current / float dof else nan)
          PValue = (if dof > 0 then 1.0 - ChiSquared.CDF(float dof, current) else nan)
          Aic = current + 2.0 * float k
          Iterations = iterations
          Converged = converged }

    /// The parameters as estimates (mean, error) for tables, in order.
    let estimates (result: FitResult) : (string * Estimate) list =
        [ for p in 0 .. result.Parameters.Length - 1 ->
              result.ParameterNames.[p], Estimate.independent result.Parameters.[p] result.Errors.[p] result.DataPoints ]

    /// The correlation matrix of the parameters.
    let correlation (result: FitResult) : float[,] =
        let k = result.Parameters.Length
        Array2D.init k k (fun p q -> result.Covariance.[p, q] / (result.Errors.[p] * result.Errors.[q]))
