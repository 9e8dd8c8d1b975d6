module Hybrid.Analysis.Tests.Reporting.TableTests

open System
open System.Globalization
open Expecto
open Deedle
open Hybrid.Analysis.Statistics
open Hybrid.Analysis.Reporting

let private chi2 = { Mean = 0.75123; Error = 0.00432; TauInt = 3.25; TauIntError = 0.4; Window = 17; Samples = 10_000; Variance = 0.02; RHat = 1.001 }
let private binder = Estimate.independent 0.5 0.0123 2000

let private lines (text: string) = text.Split('\n', StringSplitOptions.RemoveEmptyEntries) |> Array.map (fun l -> l.TrimEnd('\r'))

// A minimal RFC 4180 reader (quoted fields, doubled quotes, CRLF records), to check the writer.
let private parseCsv (text: string) : string list list =
    let records = Collections.Generic.List<string list>()
    let fields = Collections.Generic.List<string>()
    let field = Text.StringBuilder()
    let mutable i = 0
    let mutable quoted = false
    while i < text.Length do
        let c = text.[i]
        if quoted then
            if c = '"' && i + 1 < text.Length && text.[i + 1] = '"' then field.Append('"') |> ignore; i <- i + 1
            elif c = '"' then quoted <- false
            else field.Append(c) |> ignore
        elif c = '"' then quoted <- true
        elif c = ',' then fields.Add(field.ToString()); field.Clear() |> ignore
        elif c = '\r' && i + 1 < text.Length && text.[i + 1] = '\n' then
            fields.Add(field.ToString()); field.Clear() |> ignore
            records.Add(List.ofSeq fields); fields.Clear()
            i <- i + 1
        else field.Append(c) |> ignore
        i <- i + 1
    List.ofSeq records

[<Tests>]
let tests =
    testList "Table" [
        test "ofEstimates has the summary columns in order, one row per name" {
            let frame = Table.ofEstimates [ "chi2", chi2; "U4", binder ]
            Expect.sequenceEqual frame.ColumnKeys [ "mean"; "error"; "tau_int"; "tau_int_error"; "window"; "samples"; "variance"; "r_hat"; "value" ] "columns"
            Expect.sequenceEqual frame.RowKeys [ "chi2"; "U4" ] "rows"
            Expect.equal (frame.GetColumn<string>("value").["chi2"]) "0.7512(43)" "formatted value"
            Expect.equal (frame.GetColumn<int>("window").["chi2"]) 17 "window"
        }
        test "markdown has header, separator and formatted rows" {
            let markdown = Table.toMarkdown (Table.ofEstimates [ "chi2", chi2; "U4", binder ])
            let rows = lines markdown
            Expect.equal rows.Length 4 "header, separator, two rows"
            Expect.equal rows.[0] "|  | mean | error | tau_int | tau_int_error | window | samples | variance | r_hat | value |" "header"
            Expect.equal rows.[1] "|---|---|---|---|---|---|---|---|---|---|" "separator"
            Expect.equal rows.[2] "| chi2 | 0.75123 | 0.00432 | 3.25 | 0.4 | 17 | 10000 | 0.02 | 1.001 | 0.7512(43) |" "row"
            Expect.stringContains rows.[3] "0.500(12)" "second row"
        }
        test "markdown shows Estimate cells with Estimate.format and escapes pipes" {
            let frame = Frame.ofColumns [ "chi_2", Series([ "a|b" ], [ chi2 ]) ]
            let rows = lines (Table.toMarkdown frame)
            Expect.equal rows.[2] "| a\\|b | 0.7512(43) |" "escaped key, formatted estimate"
        }
        test "CSV round-trips floats bit for bit" {
            let values = [ 0.1; 1.0 / 3.0; Math.PI * 1e-300; -2.5e17; 5e-324; 123456789.123456789 ]
            let keys = values |> List.mapi (fun i _ -> i)
            let frame = Frame.ofColumns [ "x", Series(keys, values) ]
            let records = parseCsv (Table.toCsv frame)
            Expect.equal records.Head [ ""; "x" ] "header with empty key column"
            let parsed = records.Tail |> List.map (fun r -> Double.Parse(r.[1], CultureInfo.InvariantCulture))
            for original, back in List.zip values parsed do
                Expect.equal (BitConverter.DoubleToInt64Bits back) (BitConverter.DoubleToInt64Bits original) (sprintf "%g" original)
        }
        test "CSV quotes commas, quotes and line breaks (RFC 4180) and uses CRLF" {
            let frame = Frame.ofColumns [ "note", Series([ "r1"; "r2" ], [ "a,\"b\""; "two\nlines" ]) ]
            let csv = Table.toCsv frame
            Expect.equal csv ",note\r\nr1,\"a,\"\"b\"\"\"\r\nr2,\"two\nlines\"\r\n" "quoted fields"
            Expect.equal (parseCsv csv) [ [ ""; "note" ]; [ "r1"; "a,\"b\"" ]; [ "r2"; "two\nlines" ] ] "parses back"
        }
        test "CSV does not depend on the current culture" {
            let previous = CultureInfo.CurrentCulture
            try
                CultureInfo.CurrentCulture <- CultureInfo.GetCultureInfo "de-DE"
                let csv = Table.toCsv (Table.ofEstimates [ "chi2", chi2 ])
                Expect.stringContains csv "chi2,0.75123,0.00432,3.25,0.4,17,10000,0.02,1.001,0.7512(43)" "decimal points"
            finally
                CultureInfo.CurrentCulture <- previous
        }
    ]
