using System.Runtime.InteropServices;

namespace Hybrid.Runtime;

/// <summary>How libtorch's CPU tensors get their memory from glibc's allocator.</summary>
/// <remarks>
/// libtorch allocates every CPU tensor with <c>posix_memalign</c>. glibc serves blocks above its mmap threshold (128
/// KiB, rising with use to at most 32 MiB) by a fresh <c>mmap</c> and returns them with <c>munmap</c> when freed, so
/// each new tensor of that size costs one page fault per 4 KiB on first touch. The O(3) local energy's jets are
/// megabytes to tens of megabytes per chunk: on the project machine the system time of first-touch faults was about
/// 45% of an evaluation's CPU time, and the same evaluation ran about ten times faster once freed blocks were reused
/// (bench/results/o3-local-energy-*.md). <see cref="KeepFreedMemory"/> makes glibc serve every block from its heaps
/// and keep freed memory there for the next tensor: the process's resident memory then stays at its peak instead of
/// following each evaluation up and down, which is the trade PyTorch's users make with jemalloc or tcmalloc.
/// </remarks>
public static class NativeHeap
{
    /// <summary>Environment variable: <c>system</c> leaves glibc's allocator as it is (default: keep freed memory).</summary>
    public const string EnvironmentVariable = "HYBRID_MALLOC";

    // glibc's mallopt parameters (malloc.h).
    private const int TrimThreshold = -1;
    private const int MmapThreshold = -3;
    private const int MmapMax = -4;

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int Mallopt(int parameter, int value);

    /// <summary>Whether freed native memory is kept for reuse (set by <see cref="KeepFreedMemory"/>).</summary>
    public static bool KeepsFreedMemory { get; private set; }

    /// <summary>
    /// Serves every native allocation from glibc's heaps and keeps freed memory there (no <c>mmap</c> per large
    /// block, no trimming), or goes back to glibc's own policy at its largest thresholds. Returns whether glibc
    /// accepted it (false off Linux or without glibc).
    /// </summary>
    public static bool KeepFreedMemory(bool keep)
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            // Not keeping: glibc's own policy at the largest thresholds its dynamic adjustment reaches (an mmap per
            // block above 32 MiB, trimming above 64 MiB); its start-up state, before any adjustment, cannot be restored.
            bool ok = Mallopt(MmapMax, keep ? 0 : 65536) == 1
                      && (keep || Mallopt(MmapThreshold, 32 << 20) == 1)
                      && Mallopt(TrimThreshold, keep ? int.MaxValue : 64 << 20) == 1;
            KeepsFreedMemory = keep && ok;
            return ok;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return false;
        }
    }

    /// <summary>
    /// The choice at start-up: keep freed memory unless <c>HYBRID_MALLOC=system</c>, or the user tuned glibc through
    /// its own <c>MALLOC_MMAP_MAX_</c>, <c>MALLOC_MMAP_THRESHOLD_</c> or <c>MALLOC_TRIM_THRESHOLD_</c>. Returns a note
    /// for the runtime's description.
    /// </summary>
    internal static string ConfigureAtStart()
    {
        var requested = Environment.GetEnvironmentVariable(EnvironmentVariable)?.Trim().ToLowerInvariant();
        if (requested is "system") return "native heap: glibc's defaults (HYBRID_MALLOC=system)";
        if (requested is not (null or "" or "keep"))
            throw new InvalidOperationException($"{EnvironmentVariable}={requested} is not allowed; give keep (the default) or system");
        foreach (var own in new[] { "MALLOC_MMAP_MAX_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_" })
            if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable(own)))
                return $"native heap: the user's {own}";
        return KeepFreedMemory(true) ? "native heap: freed memory kept for reuse" : "native heap: the system's";
    }
}
