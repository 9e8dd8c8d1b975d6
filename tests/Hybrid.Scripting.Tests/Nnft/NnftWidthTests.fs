module Hybrid.Scripting.Tests.Nnft.NnftWidthTests

open System.IO
open System.Text.Json
open Expecto
open Hybrid.Scripting.Tests.Support

[<Tests>]
let tests =
    testList
        "nnft-width"
        [ test "the connected 4-point function of Gauss-nets falls as 1/N: the fitted power is 1 within its error" {
              let dir = runInto [ "nnft-width"; "--widths"; "2,4,8,16,32"; "--networks"; "400000" ]
              use summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "summary.json")))
              let fit = summary.RootElement.GetProperty("fit")
              let s, ds = fit.GetProperty("s").GetDouble(), fit.GetProperty("s_error").GetDouble()
              Expect.isLessThan (abs (s - 1.0)) (4.0 * ds) (sprintf "s = %g ± %g" s ds)
              for w in summary.RootElement.GetProperty("widths").EnumerateArray() do
                  let g = w.GetProperty("G4c")
                  let analytic = w.GetProperty("analytic_G4c").GetDouble()
                  Expect.isLessThan (abs (g.GetProperty("mean").GetDouble() - analytic)) (4.0 * g.GetProperty("error").GetDouble())
                      (sprintf "N = %d: G4c against the formula" (w.GetProperty("width").GetInt32()))
              Expect.isTrue (File.Exists(Path.Combine(dir, "width-scaling.html"))) "log-log plot"
              Expect.stringContains (File.ReadAllText(Path.Combine(dir, "summary.md"))) "Fit G₄c = A·N^(−s)" "the fit in the report"
              Directory.Delete(dir, true)
          }

          test "one width is not a scan" {
              let code, err = runCapturingErrors [ "nnft-width"; "--widths"; "8"; "--out"; Path.Combine(newDirectory "hybrid-w", "run") ]
              Expect.equal code 2 "exit 2"
              Expect.stringContains err "at least two widths" "says why"
          } ]
