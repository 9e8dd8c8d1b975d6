using System.Reflection;
using Hybrid.Runtime;
using Xunit.Sdk;

[assembly: Hybrid.Core.Tests.HoldFinaliser]

namespace Hybrid.Core.Tests;

/// <summary>
/// Runs every test with the finaliser thread held (<see cref="FinaliserHold"/>): a collection that the test runner's
/// threads trigger while a test's TorchSharp call runs cannot then free one of TorchSharp's temporary scalars under
/// libtorch (docs/runtime.md). The suite runs its tests one at a time (xunit.runner.json).
/// </summary>
[AttributeUsage(AttributeTargets.Assembly)]
internal sealed class HoldFinaliserAttribute : BeforeAfterTestAttribute
{
    private static IDisposable? hold;

    public override void Before(MethodInfo methodUnderTest) => hold = FinaliserHold.Enter();

    public override void After(MethodInfo methodUnderTest)
    {
        hold?.Dispose();
        hold = null;
    }
}
