module Hybrid.Analysis.Tests.Reporting.PlotsTests

open System.Text.RegularExpressions
open Expecto
open Hybrid.Analysis.Statistics
open Hybrid.Analysis.Fitting
open Hybrid.Analysis.Reporting
open Hybrid.Analysis.Tests.Synthetic

let private estimates = Array.init 8 (fun t -> Estimate.independent (exp (-0.5 * float t)) (0.01 * exp (-0.5 * float t)) 100)

let private remoteScript = Regex("<script[^>]*\\ssrc\\s*=\\s*[\"']?\\s*(https?:)?//", RegexOptions.IgnoreCase)

[<Tests>]
let tests =
    testList "Plots" [
        test "standalone HTML inlines plotly.js and references no remote script" {
            let html = Plots.toStandaloneHtml (Plots.correlator estimates)
            Expect.stringStarts html "<!DOCTYPE html>" "a complete document"
            Expect.stringContains html "plotly.js v" "plotly.js source header"
            Expect.isGreaterThan html.Length 1_000_000 "the ~3.6 MB library is inside"
            Expect.isFalse (remoteScript.IsMatch html) "no <script src=http(s)://…>"
            Expect.isFalse (Regex.IsMatch(html, "<script[^>]*\\ssrc\\s*=", RegexOptions.IgnoreCase)) "no external script at all"
            Expect.stringContains html "Plotly.newPlot('hybrid-chart'" "chart rendered into a fixed div"
        }
        test "standalone HTML is a pure function of the chart" {
            let chart = Plots.correlator estimates
            Expect.equal (Plots.toStandaloneHtml chart) (Plots.toStandaloneHtml chart) "no random div ids"
        }
        test "correlator uses a log axis and physics labels" {
            let html = Plots.toStandaloneHtml (Plots.correlator estimates)
            Expect.stringContains html "\"type\":\"log\"" "log y axis"
            Expect.stringContains html "G<sub>c</sub>(t)" "G_c(t) label"
        }
        test "effective mass, history and τ_int(W) plots render" {
            let profile = GammaMethod.autocorrelation [| ar1 (Gaussian 3) 0.9 5000 |]
            let charts =
                [ Plots.effectiveMass estimates (2, 5) (Estimate.independent 0.5 0.01 100), "m<sub>p</sub>(t)"
                  Plots.history [ "M", [| 1.0; 2.0; 1.5 |]; "E", [| 0.1; 0.2; 0.3 |] ], "trajectory"
                  Plots.tauIntWindow profile, sprintf "W = %d" profile.Window ]
            for chart, label in charts do
                Expect.stringContains (Plots.toStandaloneHtml chart) label label
        }
        test "plots fill the window, put each history series on its own axis and name the run in the title" {
            let html =
                Plots.history [ "M²/V", [| 1.0; 2.0; 1.5 |]; "|M|/V", [| 0.1; 0.2; 0.3 |] ]
                |> Plots.withContext "Monte Carlo history" "HMC, L = 8"
                |> Plots.toStandaloneHtml
            let chart = html.Substring(html.IndexOf "<div id=\"hybrid-chart\"")
            Expect.isFalse (chart.Contains "\"width\":600" || chart.Contains "\"height\":600") "no fixed 600 × 600 layout"
            Expect.stringContains chart "\"responsive\":true" "follows the window"
            Expect.stringContains chart "width: 100%" "the div fills the window"
            Expect.stringContains chart "\"yaxis2\"" "a second y-axis: |M| is not drawn on M²'s scale"
            Expect.stringContains chart "HMC, L = 8" "the run is named under the title"
        }
    ]
