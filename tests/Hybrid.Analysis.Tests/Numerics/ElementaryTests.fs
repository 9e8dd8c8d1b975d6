module Hybrid.Analysis.Tests.Numerics.ElementaryTests

open Expecto
open Hybrid.Analysis.Numerics

let private relative (tolerance: float) (actual: float) (expected: float) (message: string) =
    if not (abs (actual - expected) <= tolerance * abs expected) then
        failtestf "%s: %.17g vs %.17g (relative difference %.3g > %.3g)" message actual expected (abs (actual - expected) / abs expected) tolerance

[<Tests>]
let tests =
    testList "Elementary" [
        test "log1p and expm1 keep their relative precision for small arguments (within a few rounding errors of their Taylor series)" {
            for x in [ 1e-300; 1e-17; 1e-12; -3e-9; 2e-6; -1e-5 ] do
                relative 1e-15 (Elementary.log1p x) (x - x * x / 2.0 + x * x * x / 3.0 - x ** 4.0 / 4.0) (sprintf "log1p %g" x)
                relative 1e-15 (Elementary.expm1 x) (x + x * x / 2.0 + x * x * x / 6.0 + x ** 4.0 / 24.0) (sprintf "expm1 %g" x)
        }
        test "log1p and expm1 are the direct formulas away from zero, and inverse to each other" {
            for x in [ 0.5; 3.0; 700.0; -0.75 ] do
                relative 1e-15 (Elementary.log1p x) (log (1.0 + x)) (sprintf "log1p %g" x)
                relative 1e-15 (Elementary.expm1 x) (exp x - 1.0) (sprintf "expm1 %g" x)
            for x in [ 1e-14; 0.3; -0.2; 40.0 ] do
                relative 1e-15 (Elementary.log1p (Elementary.expm1 x)) x (sprintf "log1p (expm1 %g)" x)
            Expect.equal (Elementary.expm1 -800.0) -1.0 "e^{−800} − 1 = −1"
        }
    ]
