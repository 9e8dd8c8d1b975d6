namespace Hybrid.Scripting.Nnqm

open System
open Hybrid.Scripting.Pipeline

/// Command-line options every NN-QM experiment shares: the sampled paths a spectrum is read off (Δt, T, the fitted
/// lags and states) and the anharmonic coupling. Option reading only: the measurements live in
/// Hybrid.Analysis.Nnqm (PathCorrelators, Mehler, SpectralSums).
module NnqmOptions =

    /// --paths, --dt, --T, --fit-until, --states: the options of a spectrum read off sampled paths.
    let pathOptions (paths: string) (pathsHelp: string) =
        [ CommandLine.option "paths" IntOption paths pathsHelp
          CommandLine.option "dt" FloatOption "0.1" "time step Δt (0 < Δt < T)"
          CommandLine.option "T" FloatOption "20" "path length T"
          CommandLine.option "fit-until" FloatOption "3" "largest lag fitted"
          CommandLine.option "states" IntOption "2" "states in the fit" ]

    /// Δt, T, the last fitted lag and the states, validated against one another (before any work).
    let configurePaths (o: ParsedOptions) =
        let dt = CommandLine.positive o "dt"
        let length = CommandLine.positive o "T"
        if dt >= length then raise (UsageError(sprintf "--dt %g is not allowed with --T %g; it must be smaller than T" dt length))
        let until = CommandLine.positive o "fit-until"
        if until > length / 2.0 || until < 2.0 * dt then
            raise (UsageError(sprintf "--fit-until %g is not allowed; the fit range [Δt, t] must hold at least two lags and end by T/2 = %g" until (length / 2.0)))
        let lags = int (until / dt)
        let states = CommandLine.intIn o "states" 1L 10L |> CommandLine.required "states" |> int
        if 2 * states > lags then raise (UsageError(sprintf "--states %d is not allowed: %d parameters for %d lags; use at most %d states or a larger --fit-until" states (2 * states) lags (lags / 2)))
        dt, length, until, states

    /// The anharmonic coupling --g, a finite number ≥ 0.
    let coupling (o: ParsedOptions) =
        let g = CommandLine.float o "g" |> Option.defaultValue 1.0
        if not (g >= 0.0 && Double.IsFinite g) then raise (UsageError(sprintf "--g %g is not allowed; it must be a finite number ≥ 0" g))
        g
