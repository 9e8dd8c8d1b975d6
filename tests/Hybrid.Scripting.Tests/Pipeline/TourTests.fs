module Hybrid.Scripting.Tests.Pipeline.TourTests

open System.IO
open Expecto
open Hybrid.Scripting.Pipeline
open Hybrid.Scripting.Tests.Support

/// A stand-in for the catalog: "good" writes a report and a plot into its --out directory, "bad" fails.
let private execute (name: string) (argv: string list) =
    match argv with
    | "--out" :: dir :: _ ->
        Directory.CreateDirectory(Path.Combine(dir, "sub")) |> ignore
        File.WriteAllText(Path.Combine(dir, "summary.md"), "## good's table\n\n| a | b |\n")
        File.WriteAllText(Path.Combine(dir, "summary.json"), "{\"experiment\":\"good\"}")
        File.WriteAllText(Path.Combine(dir, "sub", "plot.html"), "<html></html>")
        if name = "good" then 0 else 1
    | _ -> failwith "the tour passes --out first"

let private stop key command =
    { Key = key; Title = "Stop " + key; About = "What " + key + " shows."; Command = command; Arguments = [ "--full" ]; QuickArguments = [ "--toy" ] }

[<Tests>]
let tests =
    testList
        "Tour"
        [ test "each stop runs into its own directory and the report puts them on one page" {
              let dir = newDirectory "hybrid-tour"
              let result = Tour.run execute { Stops = [ stop "one" "good"; stop "two" "good" ]; Quick = true } { Path = dir }
              Expect.equal (result.Sections |> List.map (fun s -> s.ExitCode)) [ 0; 0 ] "both stops ran"
              let report = File.ReadAllText(Path.Combine(dir, "summary.md"))
              Expect.stringContains report "(toy size" "says it is a toy run"
              Expect.stringContains report "## 1. Stop one" "first section"
              Expect.stringContains report "## 2. Stop two" "second section"
              Expect.stringContains report "### good's table" "each stop's report nested one level deeper"
              Expect.stringContains report "`dotnet fsi scripts.fsx good --toy` → `two/`" "the command line of each stop, at toy size"
              Expect.stringContains report "[sub/plot.html](two/sub/plot.html)" "links to the stop's plots"
              let json = File.ReadAllText(Path.Combine(dir, "summary.json"))
              Expect.stringContains json "\"summary\": {" "each stop's summary.json inside the tour's"
              Directory.Delete(dir, true)
          }

          test "a failed stop does not stop the others, and the tour then stops with a diagnosis" {
              let dir = newDirectory "hybrid-tour"
              let e =
                  Expect.throwsC
                      (fun () -> Tour.run execute { Stops = [ stop "one" "bad"; stop "two" "good" ]; Quick = false } { Path = dir } |> ignore)
                      id
              Expect.stringContains e.Message "one stop of the tour failed (one)" "names the failed stop"
              let report = File.ReadAllText(Path.Combine(dir, "summary.md"))
              Expect.stringContains report "This stop failed (exit code 1)" "the report says so"
              Expect.stringContains report "## 2. Stop two" "the next stop still ran"
              Expect.stringContains report "good --full" "full-size arguments"
              Directory.Delete(dir, true)
          } ]
