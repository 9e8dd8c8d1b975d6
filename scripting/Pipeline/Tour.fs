namespace Hybrid.Scripting.Pipeline

open System
open System.IO
open System.Text.Json.Nodes
open System.Text.RegularExpressions

/// One stop of the tour: a capability and the experiment that shows it, at full and at toy size.
type TourStop =
    { /// Short name, also the stop's subdirectory (e.g. "phi4").
      Key: string
      /// The section title, e.g. "Lattice φ⁴: flow samplers against HMC".
      Title: string
      /// One or two sentences on what the section shows and what to compare it with.
      About: string
      /// The experiment's command and its arguments (without --out).
      Command: string
      Arguments: string list
      /// The arguments at toy size (for `quick`).
      QuickArguments: string list }

/// Configuration of a tour: which stops, at which size.
type TourConfig =
    { Stops: TourStop list
      Quick: bool }

/// What each stop gave.
type TourSection =
    { Stop: TourStop
      ExitCode: int
      Seconds: float
      /// The stop's own summary.md (empty when it failed).
      Report: string
      /// Its HTML plots, relative to its directory.
      Plots: string list }

/// What a tour gave: its configuration and each stop's outcome.
type TourResult =
    { Config: TourConfig
      Sections: TourSection list }

/// The main job: one short run per capability, each a complete run directory of its own experiment under the tour's
/// directory, and one combined report (summary.md, summary.json) that puts them on one page.
module Tour =

    /// The stop's experiment arguments for this tour.
    let arguments (c: TourConfig) (s: TourStop) = if c.Quick then s.QuickArguments else s.Arguments

    /// Markdown headings one level deeper, so that a stop's report nests under its section.
    let private demote (markdown: string) = Regex.Replace(markdown, "^(#+) ", "#$1 ", RegexOptions.Multiline)

    /// The combined report.
    let report (c: TourConfig) (sections: TourSection list) =
        String.concat "\n"
            [ yield sprintf "# Hybrid: one run per capability%s\n" (if c.Quick then " (toy size: the code path, not physics)" else "")
              for i, s in List.indexed sections do
                  yield sprintf "## %d. %s\n" (i + 1) s.Stop.Title
                  yield s.Stop.About + "\n"
                  yield sprintf "`dotnet fsi scripts.fsx %s` → `%s/` (%.0f s)\n" (String.concat " " (s.Stop.Command :: arguments c s.Stop)) s.Stop.Key s.Seconds
                  if s.ExitCode = 0 then
                      yield demote s.Report
                      if not s.Plots.IsEmpty then
                          yield "Plots: " + (s.Plots |> List.map (fun p -> sprintf "[%s](%s/%s)" p s.Stop.Key p) |> String.concat " · ") + "\n"
                  else yield sprintf "**This stop failed (exit code %d); its run directory holds what it wrote and why it stopped.**\n" s.ExitCode ]

    /// Runs every stop with `execute` (the catalog's command runner) into a subdirectory; writes the combined report.
    /// A failed stop does not stop the tour, but the tour then stops with a diagnosis after writing its report.
    let run (execute: string -> string list -> int) (c: TourConfig) (dir: RunDirectory) =
        let sections =
            [ for stop in c.Stops ->
                  let sub = dir.File stop.Key
                  printfn "\n=== %s ===" stop.Title
                  let code, seconds = Experiment.timed (fun () -> execute stop.Command ("--out" :: sub :: arguments c stop))
                  let summary = Path.Combine(sub, "summary.md")
                  let plots =
                      if Directory.Exists sub then
                          Directory.GetFiles(sub, "*.html", SearchOption.AllDirectories)
                          |> Array.map (fun f -> Path.GetRelativePath(sub, f).Replace('\\', '/')) |> Array.sort |> List.ofArray
                      else []
                  { Stop = stop; ExitCode = code; Seconds = seconds; Plots = plots
                    Report = if code = 0 && File.Exists summary then File.ReadAllText summary else "" } ]
        AtomicFile.writeText (dir.File "summary.md") (report c sections)
        Json.write (dir.File "summary.json")
            (Json.object
                [ "experiment", Json.text "tour"
                  "quick", JsonValue.Create c.Quick
                  "sections",
                  Json.array
                      [ for s in sections ->
                            let own = Path.Combine(dir.File s.Stop.Key, "summary.json")
                            Json.object
                                [ "key", Json.text s.Stop.Key
                                  "title", Json.text s.Stop.Title
                                  "experiment", Json.text s.Stop.Command
                                  "exit_code", Json.integer s.ExitCode
                                  "seconds", Json.number s.Seconds
                                  "summary", (if s.ExitCode = 0 && File.Exists own then JsonNode.Parse(File.ReadAllText own) else null) ] ] ])
        match sections |> List.filter (fun s -> s.ExitCode <> 0) with
        | [] -> { Config = c; Sections = sections }
        | failed ->
            raise (Hybrid.Diagnostics.RunStoppedException(
                sprintf "%s of the tour failed (%s); see their run directories under %s"
                    (if failed.Length = 1 then "one stop" else sprintf "%d stops" failed.Length)
                    (failed |> List.map (fun s -> s.Stop.Key) |> String.concat ", ") dir.Path))

    /// The tour as an experiment: `tour [--quick] [--out DIR] [--force]`.
    let experiment (stops: TourStop list) (execute: string -> string list -> int) : Experiment<TourConfig, TourResult> =
        { Name = "tour"
          Description = "the main job: one run per capability (" + (stops |> List.map (fun s -> s.Key) |> String.concat ", ") + "), one combined report"
          Options = [ CommandLine.optional "quick" FlagOption "every stop at toy size: the code path in about a minute, not physics" ]
          Configure = fun o -> { Stops = stops; Quick = CommandLine.switch o "quick" }
          Describe =
            fun c ->
                Json.object
                    [ "quick", JsonValue.Create c.Quick
                      "stops", Json.array [ for s in c.Stops -> Json.object [ "key", Json.text s.Key; "experiment", Json.text s.Command; "arguments", Json.array [ for a in arguments c s -> Json.text a ] ] ] ]
          Run = run execute
          Report = fun r -> report r.Config r.Sections }
