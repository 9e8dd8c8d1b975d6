using System.Runtime.CompilerServices;
using Hybrid.Runtime;

namespace Hybrid.Core.Tests;

/// <summary>
/// Loads TorchSharp's native libraries (patched for an older libstdc++ where needed) before any test runs.
/// Tests run in parallel and in no fixed order, and many touch <c>torch</c> directly (a device, a dtype, a
/// tensor) before any Hybrid type: that would run TorchSharp's own loader on the unpatched shim, whose failure
/// TorchSharp's type initializer then keeps for the whole process.
/// </summary>
internal static class LoadRuntimeFirst
{
    [ModuleInitializer]
    internal static void Load() => TorchRuntime.EnsureLoaded();
}
