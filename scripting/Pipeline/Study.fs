namespace Hybrid.Scripting.Pipeline

open Deedle
open Hybrid.Analysis.Statistics
open Hybrid.Analysis.Reporting

/// What every study reports, whatever its capability: named estimates as JSON, as a table that says what each
/// name means, and the report files of a run directory. Capability modules (Phi4Study, …) add their own tables and
/// plots on top and pass their `meaning`.
module Study =

    /// One estimate as JSON: mean, error, τ_int and its error, window, samples, variance, split-R̂.
    let estimateJson (e: Estimate) =
        Json.object
            [ "mean", Json.number e.Mean; "error", Json.number e.Error; "tau_int", Json.number e.TauInt
              "tau_int_error", Json.number e.TauIntError; "window", Json.integer e.Window; "samples", Json.integer e.Samples
              "variance", Json.number e.Variance; "r_hat", Json.number e.RHat ]

    /// Named estimates as a JSON object (the "observables" of summary.json).
    let estimatesJson (estimates: (string * Estimate) list) =
        Json.object (estimates |> List.map (fun (name, e) -> name, estimateJson e))

    /// Named estimates as a Deedle frame (rows: name) whose "observable" column says what each name means
    /// (`meaning` gives None for a name it does not know, which is then shown as it is).
    let estimatesFrame (meaning: string -> string option) (estimates: (string * Estimate) list) : Frame<string, string> =
        let frame = Table.ofEstimates estimates
        let described = estimates |> List.map (fun (name, _) -> name, meaning name |> Option.defaultValue name) |> Series.ofObservations
        frame.AddColumn("observable", described)
        frame.Columns.[ [ "observable"; "value"; "mean"; "error"; "tau_int"; "tau_int_error"; "window"; "samples"; "variance"; "r_hat" ] ]

    /// The estimates in Markdown: what each name means, value(error), τ_int and samples.
    let estimatesMarkdown (meaning: string -> string option) (estimates: (string * Estimate) list) =
        Table.toMarkdown ((estimatesFrame meaning estimates).Columns.[ [ "observable"; "value"; "tau_int"; "samples" ] ])

    /// Writes the report (summary.md) and every field of the estimates as CSV (observables.csv).
    let writeReport (dir: RunDirectory) (report: string) (meaning: string -> string option) (estimates: (string * Estimate) list) =
        AtomicFile.writeText (dir.File "summary.md") report
        AtomicFile.writeText (dir.File "observables.csv") (Table.toCsv (estimatesFrame meaning estimates))

    /// Writes a chart as a self-contained HTML file of the run directory, titled and with the run's parameters under
    /// the title (`context`, e.g. "gauss, N = 8").
    let writePlot (dir: RunDirectory) (file: string) (title: string) (context: string) (chart: Plotly.NET.GenericChart) =
        AtomicFile.writeText (dir.File file) (Plots.toStandaloneHtml (chart |> Plots.withContext title context))
