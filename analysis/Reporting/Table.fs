namespace Hybrid.Analysis.Reporting

open System
open System.Globalization
open System.Text
open Deedle
open Hybrid.Analysis.Statistics

/// Tables of results as text: Deedle frames rendered as GitHub Markdown or CSV. Cells may hold
/// strings, numbers or Estimate values (shown as "0.7512(43)" by Estimate.format). The row keys
/// form the first column, under an empty header. Deedle treats NaN in float columns as missing;
/// missing cells are empty.
[<RequireQualifiedAccess>]
module Table =

    let private invariant = CultureInfo.InvariantCulture

    // One cell as text; `floatFormat` is the only thing Markdown (readable) and CSV (round-trip)
    // do differently.
    let private cellText (floatFormat: string) (value: obj) =
        match value with
        | null -> ""
        | :? Estimate as estimate -> Estimate.format estimate
        | :? float as x -> x.ToString(floatFormat, invariant)
        | :? float32 as x -> x.ToString(floatFormat, invariant)
        | :? bool as b -> if b then "true" else "false"
        | :? string as s -> s
        | :? IFormattable as x -> x.ToString(null, invariant)
        | other -> string other

    // Rows of cells, header first: the row keys become column 0.
    let private cells (floatFormat: string) (frame: Frame<'R, 'C>) : string[][] =
        let text (key: obj) = cellText floatFormat key
        let columns = [| for c in frame.ColumnKeys -> frame.Columns.[c] |]
        let header = Array.append [| "" |] [| for c in frame.ColumnKeys -> text (box c) |]
        let body =
            [| for r in frame.RowKeys ->
                   Array.append
                       [| text (box r) |]
                       [| for column in columns ->
                              let value = column.TryGet r
                              if value.HasValue then text value.Value else "" |] |]
        Array.append [| header |] body

    // Inside a Markdown table a '|' ends the cell and a line break ends the table.
    let private markdownCell (text: string) =
        text.Replace("\\", "\\\\").Replace("|", "\\|").Replace("\r\n", " ").Replace('\n', ' ').Replace('\r', ' ')

    /// The frame as a GitHub-flavoured Markdown table (header row, separator row, one line per
    /// row; floats in "G6", Estimates as value(error)). Lines end with '\n'.
    let toMarkdown (frame: Frame<'R, 'C>) : string =
        let rows = cells "G6" frame
        let line (row: string[]) = "| " + String.Join(" | ", row |> Array.map markdownCell) + " |\n"
        let separator = "|" + String.Join("|", rows.[0] |> Array.map (fun _ -> "---")) + "|\n"
        let builder = StringBuilder()
        builder.Append(line rows.[0]).Append(separator) |> ignore
        for row in rows.[1..] do
            builder.Append(line row) |> ignore
        builder.ToString()

    // RFC 4180: fields containing a comma, a quote or a line break are quoted, quotes doubled.
    let private csvField (text: string) =
        if text.IndexOfAny([| ','; '"'; '\r'; '\n' |]) >= 0 then "\"" + text.Replace("\"", "\"\"") + "\""
        else text

    /// The frame as CSV text following RFC 4180 (CRLF line ends, quoting where needed), invariant
    /// culture, floats in round-trip format "R" so that Double.Parse gives back the same bits.
    let toCsv (frame: Frame<'R, 'C>) : string =
        let builder = StringBuilder()
        for row in cells "R" frame do
            builder.Append(String.Join(",", row |> Array.map csvField)).Append("\r\n") |> ignore
        builder.ToString()

    /// Summary table of named estimates, one row per name (names must be distinct), with columns
    /// mean, error, tau_int, tau_int_error, window, samples and value (formatted "0.7512(43)").
    let ofEstimates (estimates: (string * Estimate) list) : Frame<string, string> =
        let names = estimates |> List.map fst
        let column (field: Estimate -> 'T) : ISeries<string> =
            Series(names, estimates |> List.map (snd >> field)) :> ISeries<string>
        Frame.ofColumns
            [ "mean", column (fun e -> e.Mean)
              "error", column (fun e -> e.Error)
              "tau_int", column (fun e -> e.TauInt)
              "tau_int_error", column (fun e -> e.TauIntError)
              "window", column (fun e -> e.Window)
              "samples", column (fun e -> e.Samples)
              "variance", column (fun e -> e.Variance)
              "r_hat", column (fun e -> e.RHat)
              "value", column Estimate.format ]
