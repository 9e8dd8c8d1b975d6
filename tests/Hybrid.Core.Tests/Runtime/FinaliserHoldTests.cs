using System.Runtime.CompilerServices;
using Hybrid.Runtime;
using Xunit;

namespace Hybrid.Core.Tests.Runtime;

public class FinaliserHoldTests
{
    private sealed class Finalisable(ManualResetEventSlim finalised)
    {
        ~Finalisable() => finalised.Set();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Drop(ManualResetEventSlim finalised) => _ = new Finalisable(finalised);

    [Fact]
    public void NoFinaliserRunsWhileATestRuns()
    {
        // Every test of this suite runs inside a hold (HoldFinaliserAttribute); without it the dropped object's
        // finaliser runs within milliseconds of the collection.
        using var finalised = new ManualResetEventSlim(false);
        Drop(finalised);
        var other = new Thread(() => GC.Collect());
        other.Start();
        other.Join();
        Assert.False(finalised.Wait(TimeSpan.FromMilliseconds(500)), "finalised during the test");
    }

    [Fact]
    public void HoldsNestAndTheLastOneReleasesTheFinaliser()
    {
        // Inside the test's own hold, a nested hold changes nothing; the object is finalised only after the test, so
        // here the nesting's bookkeeping is what is checked: closing the inner hold does not release the thread.
        using var finalised = new ManualResetEventSlim(false);
        using (FinaliserHold.Enter())
        {
            Drop(finalised);
            GC.Collect();
        }
        Assert.False(finalised.Wait(TimeSpan.FromMilliseconds(300)), "the outer hold still holds");
    }
}
