namespace Hybrid.Analysis.Reporting

open System
open System.Text.RegularExpressions
open Plotly.NET
open Hybrid.Analysis.Statistics

/// Standard plots of a lattice analysis as Plotly.NET charts, and their rendering as a
/// self-contained HTML document. Labels use Plotly's HTML subset for physics notation.
[<RequireQualifiedAccess>]
module Plots =


    // Estimates with their x positions (the index), without the undefined ones.
    let private definedPoints (estimates: Estimate[]) =
        estimates
        |> Array.indexed
        |> Array.filter (fun (_, e) -> Double.IsFinite e.Mean && Double.IsFinite e.Error)

    let private pointsWithErrors (name: string) (points: (int * Estimate)[]) =
        Chart.Point(x = Array.map fst points, y = Array.map (fun (_, e: Estimate) -> e.Mean) points, Name = name)
        |> Chart.withYErrorStyle (Array = Array.map (fun (_, e: Estimate) -> e.Error) points)

    // A ±1σ band: an invisible lower edge, an invisible upper edge filled down to it, and the
    // central line, which alone appears in the legend.
    let private band (name: string) (x: int[]) (centre: float[]) (error: float[]) =
        let colour = Color.fromString "rgba(31, 119, 180, 1.0)"
        let fill = Color.fromString "rgba(31, 119, 180, 0.25)"
        let edge (y: float[]) (filled: bool) =
            if filled then
                Chart.Line(x = x, y = y, ShowLegend = false, LineWidth = 0.0, LineColor = fill,
                           Fill = StyleParam.Fill.ToNext_y, FillColor = fill)
            else
                Chart.Line(x = x, y = y, ShowLegend = false, LineWidth = 0.0, LineColor = fill)
        [ edge (Array.map2 (-) centre error) false
          edge (Array.map2 (+) centre error) true
          Chart.Line(x = x, y = centre, Name = name, LineColor = colour) ]
        |> Chart.combine

    let private labelled (title: string) (xTitle: string) (yTitle: string) (chart: GenericChart) =
        chart
        |> Chart.withTitle title
        |> Chart.withXAxisStyle (TitleText = xTitle)
        |> Chart.withYAxisStyle (TitleText = yTitle)

    /// Connected correlator G_c(t) with error bars on a logarithmic axis (undefined and
    /// non-positive points cannot be shown on it and are left out).
    let correlator (g: Estimate[]) : GenericChart =
        definedPoints g
        |> Array.filter (fun (_, e) -> e.Mean > 0.0)
        |> pointsWithErrors "G<sub>c</sub>(t)"
        |> labelled "Connected correlator G<sub>c</sub>(t)" "t" "G<sub>c</sub>(t)"
        |> Chart.withYAxisStyle (AxisType = StyleParam.AxisType.Log)

    /// Effective mass m_p(t) (indexed by t, as Correlator.effectiveMassEstimates gives it) with
    /// error bars, and the plateau fit `plateauMass` as a band of ±1σ over [t1, t2].
    let effectiveMass (mp: Estimate[]) (plateau: int * int) (plateauMass: Estimate) : GenericChart =
        let t1, t2 = plateau
        let m, dm = plateauMass.Mean, plateauMass.Error
        let plateauBand =
            band (sprintf "plateau [%d, %d]: m<sub>p</sub> = %s" t1 t2 (Estimate.format plateauMass))
                 [| t1; t2 |] [| m; m |] [| dm; dm |]
        [ plateauBand; pointsWithErrors "m<sub>p</sub>(t)" (definedPoints mp) ]
        |> Chart.combine
        |> labelled "Effective mass m<sub>p</sub>(t) = arccosh[(G<sub>c</sub>(t−1) + G<sub>c</sub>(t+1)) / 2G<sub>c</sub>(t)]" "t" "m<sub>p</sub>(t)"

    /// Named estimates with error bars beside exact values (open diamonds), one category per name: how a Monte
    /// Carlo measurement compares with a formula at a glance. Names without an exact value show only the estimate.
    let againstExact (yTitle: string) (estimates: (string * Estimate) list) (exact: Map<string, float>) : GenericChart =
        let names = estimates |> List.map fst |> Array.ofList
        let measured =
            Chart.Point(x = names, y = (estimates |> List.map (fun (_, e) -> e.Mean)), Name = "Monte Carlo ± 1σ")
            |> Chart.withYErrorStyle (Array = (estimates |> List.map (fun (_, e) -> e.Error) |> Array.ofList))
        let known = names |> Array.filter exact.ContainsKey
        let formula =
            Chart.Point(x = known, y = (known |> Array.map (fun n -> exact.[n])), Name = "exact",
                        MarkerSymbol = StyleParam.MarkerSymbol.Modified(StyleParam.MarkerSymbol.Diamond, StyleParam.SymbolStyle.Open))
        [ measured; formula ] |> Chart.combine |> labelled "Monte Carlo against exact values" "" yTitle

    /// |y| against x on log-log axes with error bars, and a fitted power law A·x^(−s) as a line: how a finite-size
    /// (or finite-width) effect falls off. Points with non-positive or undefined values cannot be shown and are left out.
    let powerLaw (xTitle: string) (yTitle: string) (points: (float * Estimate) list) (amplitude: float) (exponent: Estimate) : GenericChart =
        let shown = points |> List.filter (fun (x, e) -> x > 0.0 && Double.IsFinite e.Mean && abs e.Mean > 0.0 && Double.IsFinite e.Error)
        let xs = shown |> List.map fst
        let data =
            Chart.Point(x = xs, y = (shown |> List.map (fun (_, e) -> abs e.Mean)), Name = "|" + yTitle + "| ± 1σ")
            |> Chart.withYErrorStyle (Array = (shown |> List.map (fun (_, e) -> e.Error) |> Array.ofList))
        let line =
            match xs with
            | [] -> Chart.Line(x = ([||]: float[]), y = ([||]: float[]))
            | _ ->
                let lo, hi = List.min xs, List.max xs
                let grid = [ for k in 0 .. 40 -> lo * (hi / lo) ** (float k / 40.0) ]
                Chart.Line(x = grid, y = (grid |> List.map (fun x -> amplitude * x ** (-exponent.Mean))),
                           Name = sprintf "fit: %.3g · x<sup>−s</sup>, s = %s" amplitude (Estimate.format exponent))
        [ data; line ]
        |> Chart.combine
        |> labelled (sprintf "|%s| against %s" yTitle xTitle) xTitle ("|" + yTitle + "|")
        |> Chart.withXAxisStyle (AxisType = StyleParam.AxisType.Log)
        |> Chart.withYAxisStyle (AxisType = StyleParam.AxisType.Log)

    /// Named sets of estimates against x with error bars, beside named curves (e.g. a perturbative prediction or a
    /// fitted extrapolation): how measurements follow a law. Undefined points are left out.
    let againstCurves (title: string) (xTitle: string) (yTitle: string) (points: (string * (float * Estimate) list) list) (curves: (string * float[] * float[]) list) : GenericChart =
        [ for name, set in points do
              let shown = set |> List.filter (fun (x, e) -> Double.IsFinite x && Double.IsFinite e.Mean && Double.IsFinite e.Error)
              yield
                  Chart.Point(x = (shown |> List.map fst), y = (shown |> List.map (fun (_, e) -> e.Mean)), Name = name)
                  |> Chart.withYErrorStyle (Array = (shown |> List.map (fun (_, e) -> e.Error) |> Array.ofList))
          for name, x, y in curves do
              yield Chart.Line(x = x, y = y, Name = name) ]
        |> Chart.combine
        |> labelled title xTitle yTitle

    /// Named series against their index (the Monte Carlo trajectory, the optimiser step, …, named by `xTitle`), each
    /// on its own y-axis in a stack sharing the x-axis: quantities of different size (|M| and M²) never share a scale
    /// that flattens one of them. Long series are drawn with WebGL so that the browser stays responsive.
    let historyAgainst (xTitle: string) (series: (string * float[]) list) : GenericChart =
        series
        |> List.map (fun (name, values) ->
            Chart.Line(x = Array.init values.Length (fun i -> i + 1), y = values, Name = name, UseWebGL = (values.Length > 10000))
            |> Chart.withYAxisStyle (TitleText = name))
        |> Chart.SingleStack(Pattern = StyleParam.LayoutGridPattern.Coupled)
        |> Chart.withTitle (sprintf "History against the %s" xTitle)
        |> Chart.withXAxisStyle (TitleText = xTitle)

    /// Monte Carlo history: `historyAgainst "trajectory"`.
    let history (series: (string * float[]) list) : GenericChart = historyAgainst "trajectory" series

    // A horizontal reference line across categories, drawn as a dashed trace so that the legend names it.
    let private levelAcross (categories: string[]) (name: string) (y: float) (dash: StyleParam.DrawingStyle) =
        Chart.Line(x = categories, y = Array.create categories.Length y, Name = name, LineDash = dash, LineColor = Color.fromString "rgba(214, 39, 40, 0.8)")

    /// Named significances, values already in units of their own standard error (e.g. a Gram matrix's smallest
    /// eigenvalue λ_min/σ), one category per name with ±1 error bars, beside horizontal reference lines (e.g. the
    /// violation threshold at −3σ). Linear axis: a signed significance must show its sign.
    let significance (yTitle: string) (values: (string * float) list) (lines: (string * float) list) : GenericChart =
        let names = values |> List.map fst |> Array.ofList
        let points =
            Chart.Point(x = names, y = (values |> List.map snd), Name = "measured ± 1σ")
            |> Chart.withYErrorStyle (Array = Array.create names.Length 1.0)
        [ yield points
          for name, y in lines -> levelAcross names name y (if y = 0.0 then StyleParam.DrawingStyle.Solid else StyleParam.DrawingStyle.Dash) ]
        |> Chart.combine
        |> labelled "Significance per case" "" yTitle
        |> Chart.withYAxisStyle (AxisType = StyleParam.AxisType.Linear)

    /// Pulls (estimate − exact)/σ of named estimates against exact values, with ±1 error bars, the zero line and the
    /// ±3σ lines: estimates of very different size (G₂ and G₄) are judged on one axis. Names without an exact
    /// value or with a zero error are left out.
    let pulls (estimates: (string * Estimate) list) (exact: Map<string, float>) : GenericChart =
        let shown =
            estimates |> List.choose (fun (n, e) ->
                match exact.TryFind n with
                | Some x when Double.IsFinite x && Double.IsFinite e.Mean && e.Error > 0.0 -> Some(n, (e.Mean - x) / e.Error)
                | _ -> None)
        significance "(measured − exact) / σ" shown [ "exact", 0.0; "+3σ", 3.0; "−3σ", -3.0 ]
        |> Chart.withTitle "Pull of each measurement from its exact value"

    /// Relative deviations (estimate − exact)/|exact| of named estimates, with their errors, and the zero line of the
    /// exact values: how far a variational estimate lies from its reference, whatever the size of each quantity.
    let relativeDeviation (yTitle: string) (estimates: (string * Estimate) list) (exact: Map<string, float>) : GenericChart =
        let shown =
            estimates |> List.choose (fun (n, e) ->
                match exact.TryFind n with
                | Some x when Double.IsFinite x && x <> 0.0 && Double.IsFinite e.Mean -> Some(n, (e.Mean - x) / abs x, e.Error / abs x)
                | _ -> None)
        let names = shown |> List.map (fun (n, _, _) -> n) |> Array.ofList
        [ Chart.Point(x = names, y = (shown |> List.map (fun (_, d, _) -> d)), Name = "measured ± 1σ")
          |> Chart.withYErrorStyle (Array = (shown |> List.map (fun (_, _, e) -> e) |> Array.ofList))
          levelAcross names "exact" 0.0 StyleParam.DrawingStyle.Solid ]
        |> Chart.combine
        |> labelled "Relative deviation from the exact value" "" yTitle
        |> Chart.withYAxisStyle (AxisType = StyleParam.AxisType.Linear)

    /// A positive function of x and a model of it on one logarithmic axis (the target as a line, the model as points),
    /// and below it on a linear axis the residual model/target − 1 with its zero line: agreement over decades and
    /// the size of the misfit at each x, in one figure.
    let againstTarget (xTitle: string) (yTitle: string) (x: float[]) (target: string * float[]) (model: string * float[]) : GenericChart =
        let targetName, t = target
        let modelName, m = model
        let top =
            [ Chart.Line(x = x, y = t, Name = targetName)
              Chart.Point(x = x, y = m, Name = modelName) ]
            |> Chart.combine
            |> Chart.withYAxisStyle (TitleText = yTitle, AxisType = StyleParam.AxisType.Log)
        let residual = Array.map2 (fun a b -> if b > 0.0 then a / b - 1.0 else nan) m t
        let bottom =
            [ Chart.Point(x = x, y = residual, Name = sprintf "%s / %s − 1" modelName targetName)
              Chart.Line(x = [| Array.min x; Array.max x |], y = [| 0.0; 0.0 |], Name = "no misfit", LineColor = Color.fromString "rgba(214, 39, 40, 0.8)") ]
            |> Chart.combine
            |> Chart.withYAxisStyle (TitleText = "relative residual", AxisType = StyleParam.AxisType.Linear)
        [ top; bottom ]
        |> Chart.SingleStack(Pattern = StyleParam.LayoutGridPattern.Coupled)
        |> Chart.withTitle (sprintf "%s: %s against %s" yTitle modelName targetName)
        |> Chart.withXAxisStyle (TitleText = xTitle)

    /// Adds what was simulated (e.g. "L = 8, m² = −4, λ = 8") under the chart's title, so that a plot opened on
    /// its own says which run it shows.
    let withContext (title: string) (context: string) (chart: GenericChart) : GenericChart =
        chart |> Chart.withTitle (sprintf "%s<br><sub>%s</sub>" title context)

    /// Training curve of a flow: the variational free energy F_q (the loss, top) and the ESS/N of each
    /// training batch (bottom) against the optimizer step.
    let trainingCurve (steps: float[]) (freeEnergy: float[]) (ess: float[]) : GenericChart =
        let webGL = steps.Length > 10000
        [ Chart.Line(x = steps, y = freeEnergy, Name = "F<sub>q</sub> = ⟨S + log q⟩", UseWebGL = webGL)
          |> Chart.withYAxisStyle (TitleText = "F<sub>q</sub>")
          Chart.Line(x = steps, y = ess, Name = "ESS/N (batch)", UseWebGL = webGL)
          |> Chart.withYAxisStyle (TitleText = "ESS/N", MinMax = (0.0, 1.0)) ]
        |> Chart.SingleStack(Pattern = StyleParam.LayoutGridPattern.Coupled)
        |> Chart.withTitle "Reverse-KL training"
        |> Chart.withXAxisStyle (TitleText = "optimizer step")

    /// Integrated autocorrelation time τ_int(W) against the summation window W with its ±1σ
    /// band and a vertical line at the automatically chosen window; W is shown up to
    /// max(10, 3 W_chosen) (or all available lags if fewer).
    let tauIntWindow (profile: AutocorrelationProfile) : GenericChart =
        let last = min (profile.TauIntByWindow.Length - 1) (max 10 (3 * profile.Window))
        let windows = [| 0 .. last |]
        let tau = profile.TauIntByWindow.[0..last]
        let dtau = profile.TauIntErrorByWindow.[0..last]
        let curve = band (sprintf "τ<sub>int</sub>(W), S = %g" profile.S) windows tau dtau
        let chosen =
            Chart.Line(x = [ profile.Window; profile.Window ], y = [ 0.0; Array.max (Array.map2 (+) tau dtau) ],
                       Name = sprintf "W = %d" profile.Window, LineDash = StyleParam.DrawingStyle.Dash)
        [ curve; chosen ]
        |> Chart.combine
        |> labelled "Integrated autocorrelation time τ<sub>int</sub>(W)" "W" "τ<sub>int</sub>(W)"

    // Plotly.NET names the chart's <div> after a fresh Guid; a fixed name makes the document a
    // pure function of the chart (reproducible artefacts, content hashes).
    let private renderFunction = Regex("renderPlotly_([0-9a-f]{32})", RegexOptions.CultureInvariant)

    /// A complete HTML document showing the chart, with the plotly.js source inlined: no
    /// reference to a CDN, so it works offline. The same chart always gives the same text.
    let toStandaloneHtml (chart: GenericChart) : string =
        let html =
            chart
            |> Chart.withDisplayOptions (DisplayOptions.init (PlotlyJSReference = PlotlyJSReference.Full))
            // Fill the browser window and follow its size, rather than a fixed 600 × 600 box.
            |> Chart.withConfig (Config.init (Responsive = true))
            |> Chart.withLayout (Layout.init (AutoSize = true))
            |> GenericChart.toEmbeddedHTML
        // plotly.js (inlined first) does not contain "renderPlotly_"; the last match is ours.
        let matches = renderFunction.Matches html
        if matches.Count = 0 then
            html
        else
            let compact = matches.[matches.Count - 1].Groups.[1].Value
            let dashed = Guid.ParseExact(compact, "N").ToString("D")
            let html = html.Replace(compact, "hybrid_chart").Replace(dashed, "hybrid-chart")
            // Plotly.NET's layout fixes 600 × 600 pixels; without it (and with the responsive config) the chart fills
            // its div, which fills the window. Only the chart's own part is edited, never the inlined plotly.js.
            let start = html.IndexOf("<div id=\"hybrid-chart\">", StringComparison.Ordinal)
            if start < 0 then html
            else
                let chart =
                    html.Substring(start)
                        .Replace("<div id=\"hybrid-chart\">", "<div id=\"hybrid-chart\" style=\"width: 100%; height: 90vh;\">")
                        .Replace("\"width\":600,", "").Replace("\"height\":600,", "").Replace(",\"width\":600", "").Replace(",\"height\":600", "")
                html.Substring(0, start) + chart
