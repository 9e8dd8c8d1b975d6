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
        test "significance: a linear axis in σ with the threshold line and every case" {
            let html =
                Plots.significance "λ<sub>min</sub> / σ" [ "OU", 0.4; "Gaussian kernel", -79.0 ] [ "0", 0.0; "violation threshold −3σ", -3.0 ]
                |> Plots.toStandaloneHtml
            let chart = html.Substring(html.IndexOf "<div id=\"hybrid-chart\"")
            Expect.isFalse (chart.Contains "\"type\":\"log\"") "no log axis for a signed quantity"
            Expect.stringContains chart "λ<sub>min</sub> / σ" "the y-axis names the quantity"
            Expect.stringContains chart "violation threshold −3σ" "the threshold line is a named trace"
            Expect.stringContains chart "-79.0" "the violation itself is drawn"
            Expect.stringContains chart "Gaussian kernel" "one category per case"
        }
        test "pulls: measured − exact in σ with ±3σ lines; relative deviations with the exact line" {
            let estimates = [ "G2", Estimate.independent 1.02 0.01 100; "G4c", Estimate.independent 0.0105 0.001 100; "other", Estimate.independent 1.0 0.1 100 ]
            let exact = Map.ofList [ "G2", 1.0; "G4c", 0.01 ]
            let pulls = Plots.toStandaloneHtml (Plots.pulls estimates exact)
            let chart = pulls.Substring(pulls.IndexOf "<div id=\"hybrid-chart\"")
            Expect.stringContains chart "(measured − exact) / σ" "axis title"
            Expect.stringContains chart "+3σ" "+3σ line"
            Expect.stringContains chart "−3σ" "−3σ line"
            Expect.isFalse (chart.Contains "\"other\"") "a name without an exact value is left out"
            Expect.isFalse (chart.Contains "\"type\":\"log\"") "linear axis"
            let relative = Plots.toStandaloneHtml (Plots.relativeDeviation "(VMC − exact) / |exact|" estimates exact)
            let chart = relative.Substring(relative.IndexOf "<div id=\"hybrid-chart\"")
            Expect.stringContains chart "(VMC − exact) / |exact|" "axis title"
            Expect.stringContains chart "\"name\":\"exact\"" "the exact value as a zero line"
            Expect.stringContains chart "0.02" "G2 lies 2% high"
        }
        test "a model against its target: one log axis for both, the relative residual on a linear axis below" {
            let x = [| 0.0; 0.5; 1.0 |]
            let html =
                Plots.againstTarget "t" "G(t)" x ("target (exact)", [| 1.0; 0.5; 0.25 |]) ("trained model", [| 1.0; 0.51; 0.25 |])
                |> Plots.toStandaloneHtml
            let chart = html.Substring(html.IndexOf "<div id=\"hybrid-chart\"")
            Expect.stringContains chart "\"type\":\"log\"" "the two-point function on a log axis"
            Expect.stringContains chart "\"yaxis2\"" "the residual has its own axis"
            Expect.stringContains chart "relative residual" "residual axis title"
            Expect.stringContains chart "target (exact)" "target trace"
            Expect.stringContains chart "trained model" "model trace"
            Expect.stringContains chart "\"title\":{\"text\":\"t\"}" "x-axis is t, not an index"
            Expect.stringContains chart "0.02" "the 2% misfit at t = 0.5"
        }
        test "a training history names its x-axis" {
            let html = Plots.historyAgainst "optimiser step" [ "loss", [| 3.0; 2.0; 1.0 |] ] |> Plots.toStandaloneHtml
            let chart = html.Substring(html.IndexOf "<div id=\"hybrid-chart\"")
            Expect.stringContains chart "optimiser step" "x-axis title"
            Expect.isFalse (chart.Contains "trajectory") "not a Monte Carlo trajectory"
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
