namespace Hybrid.Scripting.O3

open System
open Hybrid.Analysis.Statistics
open Hybrid.Analysis.O3
open Hybrid.Scripting.Pipeline

/// The finite-volume mass gap at one (L, g²) from VMC of both states.
type GapResult =
    { Sites: int
      G2: float
      Ground: StateResult
      Excited: StateResult
      /// m(L) = E₁ − E₀. The two states are sampled by independent chains, so their covariance is zero and the
      /// errors add in quadrature.
      Gap: Estimate
      /// ū = L·m(L) (speed of light set to 1).
      Ubar: Estimate }

/// The one-particle dispersion of one chain at its lowest momentum.
type LightPoint =
    { Gap: GapResult
      /// The l = 1 state at momentum p = 2π/L.
      Moving: StateResult
      /// ε(p) = E₁(p) − E₀.
      Excitation: Estimate
      /// c² = (ε(p)² − ε(0)²)/p̂².
      LightSquared: Estimate }

/// One bare coupling and increasing chain lengths: what `o3-running` and `o3-light` scan.
type SizeScanConfig =
    { G2: float
      Sizes: int list
      Vmc: VmcSettings
      Points: string option }

/// The chain's low levels from VMC, kept in (and reused from) a points store: the gap of one chain, its dispersion at
/// the lowest momentum, and the size scans the O(3) studies run. Shared by the O(3) experiments, none of which calls
/// another for them.
[<RequireQualifiedAccess>]
module O3Levels =

    /// Both states at (L, g²), reusing and extending a points directory when one is given; the l = 1 state's seed
    /// differs through its name.
    let gap (points: string option) (sites: int) (g2: float) (vmc: VmcSettings) : GapResult =
        let ground = O3Points.state points sites g2 Ground vmc
        let excited = O3Points.state points sites g2 Isovector vmc
        let e0, e1 = ground.Energy, excited.Energy
        let gap = Estimate.independent (e1.Mean - e0.Mean) (sqrt (e0.Error ** 2.0 + e1.Error ** 2.0)) (min e0.Samples e1.Samples)
        { Sites = sites; G2 = g2; Ground = ground; Excited = excited; Gap = gap
          Ubar = Estimate.independent (float sites * gap.Mean) (float sites * gap.Error) gap.Samples }

    /// The CSV columns of gaps measured at several sizes: L, E₀ and E₁ with their errors.
    /// Each state's energy carried to zero local-energy variance along its late training (the last half, 10 blocks),
    /// and the gap between them; None when a state has no training curve (loaded from a points store) or its variance
    /// no longer moves.
    let zeroVariance (g: GapResult) : (ZeroVarianceEnergy * ZeroVarianceEnergy * Estimate) option =
        let carry (s: StateResult) = VarianceExtrapolation.fromTraining 0.5 10 s.Curve s.Energy s.Variance
        match carry g.Ground, carry g.Excited with
        | Some e0, Some e1 ->
            Some(e0, e1, Estimate.independent (e1.Energy.Mean - e0.Energy.Mean) (sqrt (e0.Energy.Error ** 2.0 + e1.Energy.Error ** 2.0)) 1)
        | _ -> None

    let gapColumns (gaps: GapResult list) =
        let column f = [| gaps |> List.map f |> Array.ofList |]
        [ "L", column (fun g -> float g.Sites); "E0", column (fun g -> g.Ground.Energy.Mean); "E0_error", column (fun g -> g.Ground.Energy.Error)
          "E1", column (fun g -> g.Excited.Energy.Mean); "E1_error", column (fun g -> g.Excited.Energy.Error) ]

    /// The dispersion of one chain at g²: both zero-momentum states and the l = 1 state at p = 2π/L.
    let dispersion (points: string option) (sites: int) (g2: float) (vmc: VmcSettings) : LightPoint =
        let gap = gap points sites g2 vmc
        let moving = O3Points.state points sites g2 (Moving 1) vmc
        let e0 = gap.Ground.Energy
        { Gap = gap; Moving = moving
          Excitation = Estimate.independent (moving.Energy.Mean - e0.Mean) (sqrt (moving.Energy.Error ** 2.0 + e0.Error ** 2.0)) moving.Energy.Samples
          LightSquared = SpeedOfLight.finiteVolume sites e0 gap.Excited.Energy moving.Energy }

    /// --sizes: increasing chain lengths ≥ 2 (at least `least` of them).
    let sizes (o: ParsedOptions) (least: int) : int list =
        let parsed = CommandLine.intList o "sizes" 2 4096 "chain length" "4,6,8" |> CommandLine.required "sizes"
        let text = String.Join(",", parsed)
        if parsed.Length < least then raise (UsageError(sprintf "--sizes %s is not allowed: give at least %d sizes" text least))
        if parsed |> List.pairwise |> List.exists (fun (a, b) -> b <= a) then
            raise (UsageError(sprintf "--sizes %s is not allowed: the sizes must be increasing" text))
        parsed

    /// --g2, --sizes (at least `least`), the VMC settings and --points, checked before any work.
    let scan (o: ParsedOptions) (least: int) : SizeScanConfig =
        let s = sizes o least
        let vmc = O3Vmc.settings o (List.head s)
        let points = CommandLine.text o "points"
        O3Points.check points vmc
        { G2 = O3Vmc.coupling o; Sizes = s; Vmc = vmc; Points = points |> Option.map IO.Path.GetFullPath }

    let describeScan (c: SizeScanConfig) =
        Json.object
            ([ "g2", Json.number c.G2; "sizes", Json.numbers (c.Sizes |> List.map float)
               "points", (match c.Points with Some p -> Json.text p | None -> null) ] @ O3Vmc.describeRun c.Vmc)
