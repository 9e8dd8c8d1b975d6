module Hybrid.Analysis.Tests.Correlators.CorrelatorTests

open System
open Expecto
open Hybrid.Analysis.Statistics
open Hybrid.Analysis.Correlators
open Hybrid.Analysis.Fitting
open Hybrid.Analysis.Tests.Synthetic

let private extent = 16
let private mass = 0.35
let private exactCorrelator = Array.init extent (fun t -> cosh (mass * float (t - extent / 2)))

// Noisy correlators slices.[t].[0].[i]: the exact G(t) times a common AR(1)-correlated factor
// (1 + 0.05u_i), which cancels in m_p, plus 0.2 % independent noise per time slice. The mean
// stays exactly cosh, so m_p and ξ at the means are exact up to the noise.
let private noisyCorrelators (gaussian: Gaussian) (samples: int) =
    let common = ar1 gaussian 0.8 samples
    Array.init extent (fun t ->
        [| Array.init samples (fun i ->
               exactCorrelator.[t] * (1.0 + 0.05 * common.[i]) * (1.0 + 0.002 * gaussian.Next())) |])

[<Tests>]
let tests =
    testList "Correlator" [
        test "G(t) = cosh(m(t − L/2)) gives m_p(t) = m at every t = 1..L−2, NaN at 0 and L−1" {
            let mp = Correlator.effectiveMass exactCorrelator
            Expect.equal mp.Length extent "indexed by t"
            for t in 1 .. extent - 2 do
                Expect.floatClose Accuracy.high mp.[t] mass (sprintf "m_p(%d)" t)
            Expect.isTrue (Double.IsNaN mp.[0] && Double.IsNaN mp.[extent - 1]) "ends"
        }
        test "argument below 1 (concave correlator) gives NaN" {
            Expect.isTrue (Double.IsNaN (Correlator.effectiveMass [| 1.0; 2.0; 1.0 |]).[1]) "(1+1)/(2·2) < 1"
        }
        test "default plateau is [max(1, L/4), max(t1, L/2 − 1)]" {
            Expect.equal (Correlator.defaultPlateau 16) (4, 7) "L = 16"
            Expect.equal (Correlator.defaultPlateau 8) (2, 3) "L = 8"
            Expect.equal (Correlator.defaultPlateau 4) (1, 1) "L = 4"
        }
        test "ξ on noisy correlators: pulls over 100 experiments have mean 0 ± 0.3 and rms 1 ± 0.25" {
            // Tolerances are 3 standard errors of the mean (1/√100) and of the rms (1/√(2·100)) of
            // 100 unit-normal pulls, rounded up.
            let g = Gaussian 4242
            let plateau = Correlator.defaultPlateau extent
            let pulls =
                Array.init 100 (fun _ ->
                    let xi = Correlator.correlationLength plateau (noisyCorrelators g 1000)
                    (xi.Mean - 1.0 / mass) / xi.Error)
            let meanPull = Array.average pulls
            let rms = sqrt (pulls |> Array.averageBy (fun p -> p * p))
            Expect.isLessThan (abs meanPull) 0.3 (sprintf "mean pull %g" meanPull)
            Expect.isLessThan (abs (rms - 1.0)) 0.25 (sprintf "rms pull %g" rms)
        }
        test "effective-mass estimates: ends undefined, plateau values within 4σ of m" {
            let slices = noisyCorrelators (Gaussian 99) 4000
            let estimates = Correlator.effectiveMassEstimates slices
            Expect.equal estimates.Length extent "indexed by t"
            Expect.isTrue (Double.IsNaN estimates.[0].Mean && Double.IsNaN estimates.[extent - 1].Mean) "ends"
            let t1, t2 = Correlator.defaultPlateau extent
            for t in t1 .. t2 do
                Expect.isLessThan (abs (estimates.[t].Mean - mass)) (4.0 * estimates.[t].Error) (sprintf "m_p(%d)" t)
            let plateauMass = Correlator.plateauMass (t1, t2) slices
            let xi = Correlator.correlationLength (t1, t2) slices
            Expect.floatClose Accuracy.veryHigh xi.Mean (1.0 / plateauMass.Mean) "ξ = 1/m_plateau"
            Expect.floatClose Accuracy.medium (xi.Error / xi.Mean) (plateauMass.Error / plateauMass.Mean) "same relative error"
            let g = Correlator.timeSliceEstimates slices
            Expect.isLessThan (abs (g.[3].Mean - exactCorrelator.[3])) (4.0 * g.[3].Error) "G_c(3)"
        }
        test "plateau outside 1..L−2 is rejected" {
            Expect.throwsT<ArgumentException>
                (fun () -> Correlator.plateauMass (0, 3) (noisyCorrelators (Gaussian 1) 10) |> ignore) "t1 = 0"
        }
        test "open boundary: the log-ratio mass of e^{−mt} is m at every t but the last" {
            let g = Array.init 10 (fun t -> 2.0 * exp (-0.3 * float t))
            let m = Correlator.effectiveMassWith Open g
            for t in 0 .. 8 do Expect.floatClose Accuracy.high m.[t] 0.3 (sprintf "m(%d)" t)
            Expect.isTrue (Double.IsNaN m.[9]) "undefined at the last slice"
            Expect.equal (Correlator.effectiveMassWith Periodic g |> Array.map string) (Correlator.effectiveMass g |> Array.map string) "Periodic is the cosh mass"
        }
        test "open boundary: the estimates recover the mass of noisy independent exponentials within errors" {
            // 400 samples per slice of e^{−0.5t}(1 + 0.01ξ): m(t) = 0.5 with an error about 0.014/√400 ≈ 0.0007.
            let gauss = Gaussian 77
            let slices = Array.init 6 (fun t -> [| Array.init 400 (fun _ -> exp (-0.5 * float t) * (1.0 + 0.01 * gauss.Next())) |])
            let m = Correlator.effectiveMassEstimatesWith Open slices
            for t in 0 .. 4 do
                Expect.isLessThan (abs (m.[t].Mean - 0.5)) (4.0 * m.[t].Error) (sprintf "m(%d) = %s" t (Estimate.format m.[t]))
            Expect.isTrue (Double.IsNaN m.[5].Mean) "undefined at the last slice"
        }
        test "the path autocorrelation by FFT equals the direct sums, and the dispatcher agrees with both" {
            let path = ar1 (Gaussian 5) 0.8 1000
            let direct = Correlator.pathAutocorrelationDirect path 700
            let fft = Correlator.pathAutocorrelationFft path 700
            for l in 0 .. 699 do Expect.floatClose { absolute = 1e-12; relative = 1e-9 } fft.[l] direct.[l] (sprintf "lag %d" l)
            for lags in [ 3; 700 ] do
                let chosen = Correlator.pathAutocorrelation path lags
                for l in 0 .. lags - 1 do Expect.floatClose { absolute = 1e-12; relative = 1e-9 } chosen.[l] direct.[l] (sprintf "%d lags, lag %d" lags l)
            Expect.throwsT<ArgumentException> (fun () -> Correlator.pathAutocorrelation path 1001 |> ignore) "more lags than points"
        }
    ]
