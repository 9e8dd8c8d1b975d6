namespace Hybrid.Analysis.Statistics

open System
open System.Globalization

/// A statistical estimate of one quantity: its mean, its standard error and the autocorrelation
/// information that went into the error.
type Estimate =
    {
        /// Central value (for derived quantities: the function of the primary means).
        Mean: float
        /// Standard error of Mean.
        Error: float
        /// Integrated autocorrelation time τ_int (bias-corrected); ½ for independent samples.
        TauInt: float
        /// Statistical error of TauInt; 0 for independent samples.
        TauIntError: float
        /// Summation window W of the Γ-method; 0 for independent samples.
        Window: int
        /// Number of samples N (over all replicas).
        Samples: int
        /// Variance of the data Γ(0) (of the linearised series for derived quantities); NaN where not known
        /// (e.g. bootstrap estimates).
        Variance: float
        /// Split-R̂ over the replicas (Gelman–Rubin with each chain split in halves, Vehtari et al. 2021 without
        /// rank normalisation): ≈ 1 when every chain samples the same distribution, above 1.01 worth a look, well
        /// above when chains disagree. NaN where it cannot be formed (halves shorter than 2 samples, or no replicas).
        RHat: float
    }

/// Construction and formatting of estimates.
[<RequireQualifiedAccess>]
[<CompilationRepresentation(CompilationRepresentationFlags.ModuleSuffix)>]
module Estimate =

    /// Estimate of `samples` independent draws (bootstrap, iid flow samples): τ_int = ½, no window, and the variance
    /// of the (linearised) data N·error², which is what an error of a mean of N independent samples implies.
    /// R̂ is not formed (NaN): independent draws have no chains to compare.
    let independent (mean: float) (error: float) (samples: int) : Estimate =
        { Mean = mean; Error = error; TauInt = 0.5; TauIntError = 0.0; Window = 0; Samples = samples
          Variance = float samples * error * error; RHat = nan }

    /// Estimate of a quantity that is not defined on these data (e.g. an effective mass where
    /// the correlator is not convex): every float is NaN.
    let undefined (samples: int) : Estimate =
        { Mean = nan; Error = nan; TauInt = nan; TauIntError = nan; Window = 0; Samples = samples; Variance = nan; RHat = nan }

    let private invariant = CultureInfo.InvariantCulture


    // Fixed-point "mean(error)" with two significant digits of the error, written in units of
    // the last digit of the mean: 0.75123 ± 0.00432 -> "0.7512(43)"; 123.456 ± 4.3 -> "123.5(43)".
    let private formatFixed (mean: float) (error: float) =
        let decimalsFor (err: float) = 1 - int (floor (log10 err))
        let errorDigits decimals = Math.Round(error * Math.Pow(10.0, float decimals), MidpointRounding.AwayFromZero)
        // Rounding 0.0996 to two digits gives 100: one decimal fewer then gives "10".
        let decimals =
            let d = decimalsFor error
            if errorDigits d >= 100.0 then d - 1 else d
        if decimals >= 0 then
            let meanText = mean.ToString("F" + string decimals, invariant)
            // "-0.0000" says nothing that "0.0000" does not.
            let meanText = if Double.Parse(meanText, invariant) = 0.0 then meanText.TrimStart('-') else meanText
            sprintf "%s(%s)" meanText ((errorDigits decimals).ToString("F0", invariant))
        else
            // Error ≥ 100: round the mean to the error's second digit and write the error in full.
            let unit = Math.Pow(10.0, float -decimals)
            let rounded = Math.Round(mean / unit, MidpointRounding.AwayFromZero) * unit
            let rounded = if rounded = 0.0 then 0.0 else rounded
            sprintf "%s(%s)" (rounded.ToString("F0", invariant)) ((errorDigits decimals * unit).ToString("F0", invariant))

    /// Formats mean and error as value(error) with two significant digits of the error, the
    /// error given in units of the last digit shown: mean 0.75123, error 0.00432 → "0.7512(43)".
    /// Very small or very large magnitudes use a power of ten: "1.234(10)e-18". A zero error
    /// gives "mean(0)"; a NaN or infinite error gives "mean(NaN)" / "mean(∞)" with the mean in
    /// six significant digits.
    let format (estimate: Estimate) : string =
        let mean, error = estimate.Mean, estimate.Error
        if not (Double.IsFinite mean) then
            mean.ToString(invariant)
        elif not (Double.IsFinite error) then
            sprintf "%s(%s)" (mean.ToString("G6", invariant)) (if Double.IsNaN error then "NaN" else "∞")
        elif error = 0.0 then
            sprintf "%s(0)" (mean.ToString("G6", invariant))
        else
            let error = abs error
            let magnitude = max (abs mean) error
            // Fixed point stays readable between 1e-3 and 1e6; outside, factor out 10^k so that
            // the digits do not drown in zeros.
            if magnitude >= 1e-3 && magnitude < 1e6 then
                formatFixed mean error
            else
                let exponent = int (floor (log10 magnitude))
                let scale = Math.Pow(10.0, float exponent)
                sprintf "%se%d" (formatFixed (mean / scale) (error / scale)) exponent
