namespace Hybrid.Scripting.Pipeline

open System
open System.Diagnostics
open System.Text.Json.Nodes

/// An experiment: a typed configuration, validated from the command line before any work starts,
/// and a function from that configuration to results, which it writes into its run directory.
type Experiment<'Config, 'Result> =
    { Name: string
      Description: string
      Options: OptionSpec list
      /// Validates the options into a configuration; raises UsageError naming the bad value.
      Configure: ParsedOptions -> 'Config
      /// The configuration as written to config.json.
      Describe: 'Config -> JsonNode
      /// Does the work, shows progress, writes measurements, summary and plots into the run directory.
      Run: 'Config -> RunDirectory -> 'Result
      /// The table printed at the end (Markdown).
      Report: 'Result -> string }

/// An experiment as the command line sees it (its types erased).
type Command =
    { Name: string
      Description: string
      Options: OptionSpec list
      Execute: string list -> int }

/// Turning experiments into commands and running them.
module Experiment =

    /// Exit codes: 0 success, 1 the run failed (with a diagnosis), 2 bad input (nothing was done).
    [<Literal>]
    let BadInput = 2

    let private outOption =
        CommandLine.optional "out" TextOption "run directory (default runs/<experiment>/<yyyyMMdd-HHmmss>)"

    let private helpOption = CommandLine.optional "help" FlagOption "show this help"

    let private forceOption =
        CommandLine.optional "force" FlagOption "replace an earlier run in --out (without it a non-empty directory is refused)"

    /// The usage text of an experiment.
    let usage (name: string) (description: string) (options: OptionSpec list) =
        sprintf "%s — %s\n\nUsage: dotnet fsi scripts.fsx %s [options]\n\nOptions:\n%s" name description name (CommandLine.help options)

    /// Runs one experiment from its command-line arguments; returns the process exit code.
    let execute (experiment: Experiment<'Config, 'Result>) (argv: string list) : int =
        let options = experiment.Options @ [ outOption; forceOption; helpOption ]
        // `dotnet fsi` takes --help and -h for itself, so `phi4-hmc help` is the form that reaches us; `help` works in
        // every position (`o3-vmc --L 4 help`), except as the value of an option (`--out help` is a directory).
        let takesValue = options |> List.filter (fun s -> s.Kind <> FlagOption) |> List.map (fun s -> "--" + s.Name) |> set
        let wantsHelp =
            argv |> List.mapi (fun i a -> (a = "help" || a = "-h") && (i = 0 || not (takesValue.Contains argv.[i - 1]))) |> List.exists id
        let prepared =
            try
                let parsed = if wantsHelp then CommandLine.parse options [ "--help" ] else CommandLine.parse options argv
                if CommandLine.switch parsed "help" then
                    Error(0, usage experiment.Name experiment.Description options)
                else
                    let config = experiment.Configure parsed
                    // --force clears --out before the run starts: never when the run reads files from there (the
                    // checkpoint it resumes from, the points folder of a study it continues), which would be lost first.
                    match CommandLine.text parsed "out" with
                    | Some out when CommandLine.switch parsed "force" && RunDirectory.wouldClear out ->
                        for name, what in [ "checkpoint", "the checkpoint"; "points", "the measured states" ] do
                            match CommandLine.text parsed name with
                            | Some path when CommandLine.has parsed name && RunDirectory.contains out path ->
                                raise (UsageError(sprintf "--%s %s lies inside --out %s, which --force would clear before the run reads %s there; give a new --out (the files stay where they are and the run reads them from there)" name path out what))
                            | _ -> ()
                    | _ -> ()
                    let claimed =
                        match CommandLine.text parsed "out" with
                        | Some path -> RunDirectory.claim (CommandLine.switch parsed "force") path
                        | None -> RunDirectory.claimDefault experiment.Name DateTime.Now
                    match claimed with
                    | Ok dir -> Ok(config, dir)
                    | Error message -> Error(BadInput, "error: " + message)
            with UsageError message ->
                Error(BadInput, sprintf "error: %s (see 'dotnet fsi scripts.fsx help %s')" message experiment.Name)
        match prepared with
        | Error(code, text) ->
            (if code = 0 then stdout else stderr).WriteLine text
            code
        | Ok(config, dir) ->
            Json.write (dir.File "config.json") (Json.object [ "experiment", Json.text experiment.Name; "parameters", experiment.Describe config ])
            printfn "%s: writing results to %s" experiment.Name dir.Path
            try
                try
                    let result = experiment.Run config dir
                    RunDirectory.complete dir experiment.Name
                    printfn "\n%s" (experiment.Report result)
                    printfn "Results: %s" dir.Path
                    0
                with :? Hybrid.Diagnostics.RunStoppedException as e ->
                    eprintfn "error: the run stopped: %s" e.Message
                    eprintfn "What the run wrote before it stopped is in %s (not marked complete)." dir.Path
                    1
            finally
                RunDirectory.release dir

    /// Erases the types of an experiment for the command line.
    let command (experiment: Experiment<'Config, 'Result>) : Command =
        { Name = experiment.Name
          Description = experiment.Description
          Options = experiment.Options
          Execute = execute experiment }

    /// Wall-clock seconds of a function, with its result.
    let timed (f: unit -> 'a) : 'a * float =
        let clock = Stopwatch.StartNew()
        let result = f ()
        result, clock.Elapsed.TotalSeconds
