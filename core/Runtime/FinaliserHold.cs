using System.Runtime.CompilerServices;

namespace Hybrid.Runtime;

/// <summary>
/// Parks the .NET finaliser thread while tensor work runs, so that no collection can free one of TorchSharp's
/// temporary scalars under libtorch.
/// </summary>
/// <remarks>
/// TorchSharp hands libtorch the native pointer of a temporary <c>Scalar</c> (every number given to an operation,
/// and inside TorchSharp <c>a + b</c>, <c>square()</c> and the operators with a number) without keeping the object
/// reachable through the call. A collection triggered by another thread of the process during that call lets the
/// finaliser free the scalar before libtorch reads it (docs/runtime.md). While a hold is open the finaliser thread
/// waits inside the finaliser of a planted object; whatever dies meanwhile is finalised when the last hold closes.
/// Meant for bounded stretches of work (a test case, one job of a server): garbage that only a finaliser releases
/// accumulates until then, and <see cref="GC.WaitForPendingFinalizers"/> inside a hold would wait forever.
/// </remarks>
public static class FinaliserHold
{
    private static readonly object Sync = new();
    private static int depth;
    // The open signal of the current hold; each hold plants its own blocker with its own signal, so a blocker of an
    // earlier hold can never be caught by a later one's reset.
    private static ManualResetEventSlim? opened;

    /// <summary>How long <see cref="Enter"/> waits for the finaliser thread to finish what was already queued.</summary>
    public static TimeSpan ParkTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Opens a hold (holds nest; the finaliser runs again when the last one is disposed).</summary>
    public static IDisposable Enter()
    {
        lock (Sync)
        {
            if (depth == 0)
            {
                var open = new ManualResetEventSlim(false);
                var parked = new ManualResetEventSlim(false);
                Plant(open, parked);
                GC.Collect();
                if (!parked.Wait(ParkTimeout))
                {
                    open.Set();
                    throw new InvalidOperationException($"the finaliser thread did not reach the planted finaliser within {ParkTimeout.TotalSeconds:0} s");
                }
                opened = open;
            }
            depth++;
        }
        return new Hold();
    }

    private static void Exit()
    {
        lock (Sync)
        {
            if (--depth > 0) return;
            opened!.Set();
            opened = null;
        }
        // Everything the held stretch left for the finaliser is released now, not at some later collection.
        GC.WaitForPendingFinalizers();
    }

    // Not inlined, so that the planted object is unreachable when GC.Collect runs.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Plant(ManualResetEventSlim open, ManualResetEventSlim parked) => _ = new Blocker(open, parked);

    private sealed class Blocker(ManualResetEventSlim open, ManualResetEventSlim parked)
    {
        ~Blocker()
        {
            parked.Set();
            open.Wait();
            open.Dispose();
        }
    }

    private sealed class Hold : IDisposable
    {
        private int disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref disposed, 1) == 0) Exit();
        }
    }
}
