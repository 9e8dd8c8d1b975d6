module Hybrid.Scripting.Tests.Pipeline.StudyTests

open System.IO
open Expecto
open Hybrid.Analysis.Statistics
open Hybrid.Scripting
open Hybrid.Scripting.Pipeline
open Hybrid.Scripting.Phi4
open Hybrid.Scripting.Tests.Support

[<Tests>]
let tests =
    testList
        "Study"
        [ test "estimates are reported with what each name means, as JSON, Markdown and CSV" {
              let estimates = [ "energy", Estimate.independent -1.25 0.01 400; "gap", Estimate.independent 0.5 0.02 400 ]
              let meaning = function "energy" -> Some "E₀ per site" | _ -> None
              let json = (Study.estimatesJson estimates).ToJsonString()
              Expect.stringContains json "\"energy\":{\"mean\":-1.25,\"error\":0.01" "mean and error by name"
              Expect.stringContains json "\"r_hat\":null" "R̂ is not formed for independent samples (null, not NaN)"
              let markdown = Study.estimatesMarkdown meaning estimates
              Expect.stringContains markdown "| energy | E₀ per site | -1.250(10) |" "the meaning of a known name"
              Expect.stringContains markdown "| gap | gap | 0.500(20) |" "an unknown name shown as it is"
              let dir = newDirectory "hybrid-study"
              Study.writeReport { Path = dir } "# report" meaning estimates
              Expect.equal (File.ReadAllText(Path.Combine(dir, "summary.md"))) "# report" "summary.md is the report"
              Expect.stringContains (File.ReadAllLines(Path.Combine(dir, "observables.csv")).[0]) "variance,r_hat" "every field in the CSV"
              Directory.Delete(dir, true)
          } ]
