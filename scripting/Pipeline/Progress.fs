namespace Hybrid.Scripting.Pipeline

open System
open System.Diagnostics

/// Progress of a long loop on the console: step, figures of merit, rate and time left.
/// On a terminal the line is redrawn in place; when output is redirected (CI, logs) a line is
/// printed every few seconds instead, so logs stay short.
type ProgressReporter(phase: string, total: int, ?unit: string) =
    let unit = defaultArg unit "steps"
    let clock = Stopwatch.StartNew()
    let interactive = not Console.IsOutputRedirected
    let interval = if interactive then 0.25 else 5.0
    let mutable lastPrint = -infinity

    let formatTime (seconds: float) =
        if Double.IsFinite seconds then
            TimeSpan.FromSeconds(Math.Round seconds).ToString(if seconds >= 3600.0 then @"h\:mm\:ss" else @"m\:ss")
        else
            "?"

    let render step (figures: string) =
        let elapsed = clock.Elapsed.TotalSeconds
        let rate = float step / max elapsed 1e-9
        let left = float (total - step) / rate
        sprintf "[%s] %d/%d %s  %s  %.1f %s/s  elapsed %s  left %s" phase step total unit figures rate unit (formatTime elapsed) (formatTime left)

    /// Seconds since the reporter started.
    member _.Elapsed = clock.Elapsed.TotalSeconds

    /// Reports step (1-based) with figures such as "acc 0.81  ε 0.12"; prints only every so often.
    member _.Report(step: int, figures: string) =
        let now = clock.Elapsed.TotalSeconds
        if now - lastPrint >= interval || step = total then
            lastPrint <- now
            let line = render step figures
            if interactive then
                Console.Write("\r" + line.PadRight(Console.WindowWidth - 1 |> max 0 |> min 160))
                if step = total then Console.WriteLine()
            else
                Console.WriteLine line
