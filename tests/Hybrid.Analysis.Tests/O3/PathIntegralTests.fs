module Hybrid.Analysis.Tests.O3.PathIntegralTests

open System
open Expecto
open Hybrid.Analysis.Statistics
open Hybrid.Analysis.Correlators
open Hybrid.Analysis.O3

let private cosh (extent: float) (m: float) (a: float) (t: float) = a * (exp (-m * t) + exp (-m * (extent - t)))

[<Tests>]
let tests =
    testList
        "path integral"
        [ test "the cosh fit recovers mass and amplitude of noiseless data, whatever the starting slope" {
              for m, extent in [ 0.53, 24.0; 0.05, 300.0; 3.8, 4.0 ] do
                  let times = Array.init 20 (fun k -> extent / 2.0 * float k / 19.0)
                  let values = times |> Array.map (cosh extent m 2.5)
                  let fitted, amplitude, chi2 = Correlator.coshFit extent times values (values |> Array.map (fun v -> 0.01 * v))
                  Expect.floatClose { absolute = 0.0; relative = 1e-9 } fitted m (sprintf "m at T = %g" extent)
                  Expect.floatClose { absolute = 0.0; relative = 1e-9 } amplitude 2.5 "A"
                  Expect.isLessThan chi2 1e-12 "χ² = 0"
          }

          test "the gap of noisy block means is the true mass within its error, and the error is honest" {
              // 2 chains × 200 blocks of a cosh with 1% independent noise per lag: the fit's error must cover the truth
              // (4σ), and be of the size the noise implies (neither 0 nor wildly large).
              let extent, step, m = 20.0, 0.2, 0.5
              let lags = 51
              let random = Random(7)
              let gaussian () = sqrt (-2.0 * log (1.0 - random.NextDouble())) * cos (2.0 * Math.PI * random.NextDouble())
              let blocks =
                  Array.init 2 (fun _ -> Array.init 200 (fun _ -> Array.init lags (fun k -> cosh extent m 1.0 (float k * step) * (1.0 + 0.01 * gaussian ()))))
              let g = PathIntegral.timeCorrelatorGap extent step 1.0 blocks
              Expect.isLessThan (abs (g.Gap.Mean - m)) (4.0 * g.Gap.Error) (sprintf "m = %g ± %g" g.Gap.Mean g.Gap.Error)
              Expect.isTrue (g.Gap.Error > 1e-5 && g.Gap.Error < 1e-2) (sprintf "error %g" g.Gap.Error)
              Expect.floatClose { absolute = 0.0; relative = 1e-9 } g.FitFrom (ceil (1.0 / g.Gap.Mean / step) * step) "the fit starts at 1/m"
              Expect.floatClose { absolute = 1e-9; relative = 0.0 } g.FitTo (extent / 2.0) "and ends at T/2"
              for t, e in g.EffectiveMass |> Array.truncate 10 do
                  Expect.isLessThan (abs (e.Mean - m)) (5.0 * e.Error + 1e-9) (sprintf "m_eff(%g)" t)
          }

          test "the time-step extrapolation is exact on quadratic data and reports each form" {
              let points = [ for a in [ 0.2; 0.15; 0.1 ] -> a, Estimate.independent (0.5336 - 0.3 * a * a) 1e-4 100 ]
              let limit = PathIntegral.extrapolateTimeStep points
              Expect.equal limit.Central.Form "a_t²" "the theory's form"
              Expect.floatClose { absolute = 1e-12; relative = 0.0 } limit.Central.Limit.Mean 0.5336 "the limit"
              Expect.isLessThan limit.Central.ChiSquared 1e-12 "χ² = 0"
              let linear = limit.Fits |> List.find (fun f -> f.Form = "a_t")
              // A straight line in a_t through a parabola misses by many errors: the data reject it.
              Expect.isGreaterThan linear.ChiSquared 10.0 "the a_t form does not fit"
              let four = PathIntegral.extrapolateTimeStep ((0.25, Estimate.independent (0.5336 - 0.3 * 0.0625) 1e-4 100) :: points)
              Expect.isTrue (four.Fits |> List.exists (fun f -> f.Form = "a_t² + a_t⁴")) "a quartic term with four spacings"
          }

          test "a time-step limit is never more certain than its points agree (error scaled by √(χ²/dof))" {
              let scattered = [ 0.2, Estimate.independent 0.530 1e-4 100; 0.15, Estimate.independent 0.536 1e-4 100; 0.1, Estimate.independent 0.531 1e-4 100 ]
              let limit = PathIntegral.extrapolateTimeStep scattered
              let f = limit.Central
              Expect.isGreaterThan (f.ChiSquared / float f.DegreesOfFreedom) 100.0 "the points disagree"
              // Unscaled, the limit's error would be about 2.7e-4 (the covariance of three 1e-4 points).
              Expect.isGreaterThan f.Limit.Error 2e-3 (sprintf "scaled error %g" f.Limit.Error)
          }

          test "correlation lengths of a free massive field give its mass and speed of light" {
              // χ(p, ω) = 1/(m² + c² p̂² + ω̂²) for a Gaussian field: ξ_x = c/m, ξ_τ = 1/m, c = ξ_x/ξ_τ.
              let sites, slices, step, m, c = 16, 200, 0.1, 0.4, 0.8
              let p = 2.0 * sin (Math.PI / float sites)
              let w = 2.0 / step * sin (Math.PI / float slices)
              let random = Random(3)
              let noisy (x: float) = Array.init 400 (fun _ -> x * (1.0 + 1e-3 * (random.NextDouble() - 0.5)))
              let chi = [| noisy (1.0 / (m * m)) |]
              let chiX = [| noisy (1.0 / (m * m + c * c * p * p)) |]
              let chiT = [| noisy (1.0 / (m * m + w * w)) |]
              let xiX, xiT, speed = PathIntegral.correlationLengths sites slices step chi chiX chiT
              Expect.floatClose { absolute = 5e-3; relative = 0.0 } xiX.Mean (c / m) "ξ_x = c/m"
              Expect.floatClose { absolute = 5e-3; relative = 0.0 } xiT.Mean (1.0 / m) "ξ_τ = 1/m"
              Expect.floatClose { absolute = 2e-3; relative = 0.0 } speed.Mean c "c"
          }

          test "the finite-volume c² reads c² off a relativistic dispersion on the lattice momentum, with propagated errors" {
              // ω(p)² = m² + c² p̂², p̂ = 2 sin(π/L): E₀ = 0, E₁ = m, E₁(p) = ω(p).
              let sites, m, c2 = 6, 0.4, 0.8
              let p = 2.0 * sin (Math.PI / float sites)
              let e x err = Estimate.independent x err 100
              let r = SpeedOfLight.finiteVolume sites (e 0.0 1e-4) (e m 1e-4) (e (sqrt (m * m + c2 * p * p)) 1e-4)
              Expect.floatClose { absolute = 1e-12; relative = 0.0 } r.Mean c2 "c² exactly"
              Expect.isGreaterThan r.Error 0.0 "an error from the three energies"
              Expect.isLessThan r.Error 1e-3 "of the size the energies' errors give"
          }

          test "the speed of light: one loop, strong coupling, and a fit that recovers its coefficients" {
              Expect.floatClose { absolute = 1e-4; relative = 0.0 } (SpeedOfLight.oneLoop 0.79) 0.7485 "0.75 at g² = 0.79 (physics.md)"
              Expect.floatClose { absolute = 1e-12; relative = 0.0 } SpeedOfLight.strongCoupling (2.0 / 3.0) "2/3"
              let truth g2 = SpeedOfLight.oneLoop g2 + 0.05 * g2 ** 2.0 - 0.01 * g2 ** 3.0
              let points = [ for g2 in [ 0.6; 0.8; 1.0; 1.2; 1.5 ] -> g2, Estimate.independent (truth g2) 1e-3 100 ]
              let f = SpeedOfLight.fit 2 points
              Expect.floatClose { absolute = 1e-9; relative = 0.0 } f.Coefficients.[0] 0.05 "κ₂"
              Expect.floatClose { absolute = 1e-9; relative = 0.0 } f.Coefficients.[1] -0.01 "κ₃"
              let at = SpeedOfLight.evaluate f 0.7
              Expect.floatClose { absolute = 1e-9; relative = 0.0 } at.Mean (truth 0.7) "c² between the points"
              Expect.isTrue (at.Error > 0.0 && at.Error < 1e-3) (sprintf "its error %g" at.Error)
          } ]
