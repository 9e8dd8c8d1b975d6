module Hybrid.Analysis.Tests.Statistics.EstimateTests

open Expecto
open Hybrid.Analysis.Statistics

let private withError mean error = Estimate.independent mean error 100

[<Tests>]
let tests =
    testList "Estimate.format" [
        let cases =
            [ 0.75123, 0.00432, "0.7512(43)", "two error digits in units of the last digit"
              -0.75123, 0.00432, "-0.7512(43)", "negative mean"
              123.456, 4.3, "123.5(43)", "error above 1"
              1.0, 0.00996, "1.000(10)", "error rounding up to 100 drops a decimal"
              12345.0, 432.0, "12350(430)", "error above 100 rounds the mean to tens"
              -0.00001, 0.0432, "0.000(43)", "no minus sign on a zero"
              1.234e-18, 1.0e-20, "1.234(10)e-18", "tiny magnitudes get a power of ten"
              6.02214e23, 3.1e19, "6.02214(31)e23", "huge magnitudes get a power of ten" ]
        for mean, error, expected, why in cases do
            yield test why { Expect.equal (Estimate.format (withError mean error)) expected why }
        yield test "zero error shows (0)" {
            Expect.equal (Estimate.format (withError (2.0 / 3.0) 0.0)) "0.666667(0)" "exact value"
        }
        yield test "undefined estimate is NaN" {
            Expect.equal (Estimate.format (Estimate.undefined 10)) "NaN" "NaN mean"
            Expect.equal (Estimate.format (withError 1.5 nan)) "1.5(NaN)" "NaN error"
        }
    ]
