using System.Runtime.InteropServices;
using TorchSharp;

namespace Hybrid.Runtime;

/// <summary>Where tensors live: the CUDA GPU when one is usable (<see cref="Auto"/>), or a fixed choice.</summary>
public enum ComputeDevice
{
    /// <summary>CUDA when available, otherwise CPU.</summary>
    Auto,
    /// <summary>The CPU.</summary>
    Cpu,
    /// <summary>The first CUDA GPU; an error if there is none.</summary>
    Cuda,
}

/// <summary>Which kernels run float32 convolutions on the CPU (<see cref="TorchRuntime.CpuConvolutions"/>).</summary>
public enum CpuConvolutionRoute
{
    /// <summary>libtorch could not be asked.</summary>
    Unknown,
    /// <summary>libtorch's native ATen kernels (im2col and BLAS): Hybrid's default.</summary>
    Aten,
    /// <summary>oneDNN, libtorch's own default.</summary>
    OneDnn,
}

/// <summary>
/// Loads TorchSharp's native libraries so that they work on any x86-64 Linux, and resolves devices.
/// Every entry point of Hybrid that creates tensors calls <see cref="EnsureLoaded"/> first.
/// </summary>
/// <remarks>
/// TorchSharp 0.107's native shim <c>libLibTorchSharp.so</c> requires the symbol version
/// <c>GLIBCXX_3.4.32</c> (libstdc++ of GCC 13+) only through <c>_ZSt21ios_base_library_initv</c>,
/// a symbol it never relocates against. On older systems (Debian 12, Ubuntu 22.04) the loader
/// rejects the shim for that alone. When — and only when — loading fails for that reason, the
/// requirement is marked weak (ELF <c>VER_FLG_WEAK</c>) in the build output's copy of the shim
/// (written beside the original by temp file and rename, never in the NuGet cache; or, if that
/// directory is read-only, in a per-user cache) and the patched copy is loaded by absolute path
/// before TorchSharp's own probing, which then finds it already loaded. This also covers
/// <c>dotnet fsi</c>, where TorchSharp would otherwise copy the unpatched shim from the NuGet cache.
/// </remarks>
public static class TorchRuntime
{
    /// <summary>Environment variable naming a libtorch directory (e.g. PyTorch's <c>torch/lib</c>) to use instead of the bundled one.</summary>
    public const string LibTorchEnvironmentVariable = "HYBRID_LIBTORCH";

    /// <summary>The symbol version that the shim needs but does not really use.</summary>
    public const string UnusedLibStdCxxVersion = "GLIBCXX_3.4.32";

    private const string ShimFileName = "libLibTorchSharp.so";
    private static readonly object Gate = new();
    private static bool loaded;
    private static string? externalLibTorch;
    private static string? libTorchCpu;

    /// <summary>Describes how the native runtime was loaded (for logs and run directories).</summary>
    public static string Description { get; private set; } = "not loaded";

    /// <summary>
    /// Uses the libtorch shared libraries in <paramref name="directory"/> (for example a PyTorch
    /// install's <c>torch/lib</c>, which brings CUDA) instead of the bundled CPU libtorch.
    /// Must be called before the first tensor is created.
    /// </summary>
    public static void UseLibTorch(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        var full = Path.GetFullPath(directory);
        if (!File.Exists(Path.Combine(full, "libtorch.so")))
            throw new ArgumentException($"libtorch directory '{full}' has no libtorch.so; expected a directory such as <python site-packages>/torch/lib", nameof(directory));
        lock (Gate)
        {
            if (loaded)
                throw new InvalidOperationException($"UseLibTorch('{full}') was called after TorchSharp was loaded ({Description}); call it before the first tensor is created.");
            externalLibTorch = full;
        }
    }

    /// <summary>Loads the native runtime once (idempotent, thread-safe).</summary>
    public static void EnsureLoaded()
    {
        if (Volatile.Read(ref loaded)) return;
        lock (Gate)
        {
            if (loaded) return;
            var notes = new List<string>();
            int? threads = ChooseThreads();
            // Before the first tensor: every allocation from then on is served from the heaps (NativeHeap).
            notes.Add(NativeHeap.ConfigureAtStart());
            if (OperatingSystem.IsLinux())
            {
                var external = externalLibTorch ?? NonEmpty(Environment.GetEnvironmentVariable(LibTorchEnvironmentVariable));
                if (external is not null) PreloadLibTorch(external, notes);
                var shim = FindShim();
                if (shim is not null) LoadShim(shim, external is null, notes);
                else notes.Add("shim found by TorchSharp's own probing");
                var cpuLibrary = Path.Combine(external ?? Path.GetDirectoryName(shim) ?? "", "libtorch_cpu.so");
                libTorchCpu = File.Exists(cpuLibrary) ? cpuLibrary : null;
            }
            torch.InitializeDeviceType(DeviceType.CPU);
            if (threads is int n) torch.set_num_threads(n);
            RouteCpuConvolutions(notes);
            notes.Add($"{torch.get_num_threads()} intra-op thread(s){(threads is null ? " (OMP_NUM_THREADS)" : "")}");
            Description = string.Join("; ", notes.Append($"libtorch {torch.__version__}"));
            Volatile.Write(ref loaded, true);
        }
    }

    /// <summary>Parses <c>auto | cpu | cuda</c> (case-insensitive).</summary>
    /// <exception cref="ArgumentException">Any other value; the message names the value and the allowed ones.</exception>
    public static ComputeDevice ParseDevice(string value) =>
        value?.Trim().ToLowerInvariant() switch
        {
            "auto" => ComputeDevice.Auto,
            "cpu" => ComputeDevice.Cpu,
            "cuda" => ComputeDevice.Cuda,
            _ => throw new ArgumentException($"unknown device '{value}'; allowed: auto, cpu, cuda"),
        };

    /// <summary>Whether a CUDA device can be used (loads the runtime).</summary>
    public static bool CudaAvailable()
    {
        EnsureLoaded();
        return torch.cuda.is_available();
    }

    /// <summary>Resolves a device choice to a TorchSharp device (loads the runtime).</summary>
    /// <exception cref="InvalidOperationException"><see cref="ComputeDevice.Cuda"/> without a usable GPU.</exception>
    public static torch.Device Resolve(ComputeDevice choice)
    {
        EnsureLoaded();
        switch (choice)
        {
            case ComputeDevice.Cpu:
                return torch.CPU;
            case ComputeDevice.Cuda:
                if (!torch.cuda.is_available())
                    throw new InvalidOperationException(
                        $"device 'cuda' requested but CUDA is not available ({Description}); use --device cpu, or set {LibTorchEnvironmentVariable} to a CUDA libtorch (README, \"TorchSharp runtime\")");
                torch.InitializeDeviceType(DeviceType.CUDA);
                return torch.CUDA;
            default:
                return torch.cuda.is_available() ? Resolve(ComputeDevice.Cuda) : torch.CPU;
        }
    }

    /// <summary>Environment variable setting libtorch's intra-op threads (overrides the default below).</summary>
    public const string ThreadsEnvironmentVariable = "HYBRID_THREADS";

    /// <summary>
    /// libtorch's default of one OpenMP thread per logical core measured badly here: on a 2-core machine,
    /// batched HMC (L = 32, 64 chains) ran 13× slower with 2 threads than with 1 (threads spin against the
    /// .NET runtime's own), and passive waiting instead made small realNVP steps 6× slower. Best of all was
    /// OMP_NUM_THREADS in the environment at process start with libtorch left alone (1.8× faster again than
    /// torch.set_num_threads(1) after start-up in one series of runs, though not reproducibly: large-batch
    /// throughput on this VM varies up to 2× from run to run). So: a user's OMP_NUM_THREADS is left to libtorch (null);
    /// otherwise HYBRID_THREADS, or one thread per two logical cores, is set through torch.set_num_threads.
    /// build.fsx starts its children with OMP_NUM_THREADS set.
    /// </summary>
    private static int? ChooseThreads()
    {
        var requested = NonEmpty(Environment.GetEnvironmentVariable(ThreadsEnvironmentVariable));
        if (requested is not null)
        {
            if (!int.TryParse(requested, out int threads) || threads < 1)
                throw new InvalidOperationException($"{ThreadsEnvironmentVariable}={requested} is not allowed; give a whole number ≥ 1");
            return threads;
        }
        if (NonEmpty(Environment.GetEnvironmentVariable("OMP_NUM_THREADS")) is not null) return null;
        return Math.Max(1, Environment.ProcessorCount / 2);
    }

    private static string? NonEmpty(string? s) => string.IsNullOrWhiteSpace(s) ? null : s;

    private static void PreloadLibTorch(string directory, List<string> notes)
    {
        if (!File.Exists(Path.Combine(directory, "libtorch.so")))
            throw new InvalidOperationException($"{LibTorchEnvironmentVariable}='{directory}' has no libtorch.so; point it at a directory such as <python site-packages>/torch/lib");
        // Dependencies first: they are found by soname once loaded, whatever RUNPATH the shim carries.
        foreach (var name in new[] { "libc10.so", "libtorch_cpu.so", "libc10_cuda.so", "libtorch_cuda.so", "libtorch.so" })
        {
            var path = Path.Combine(directory, name);
            if (File.Exists(path)) NativeLibrary.Load(path);
        }
        notes.Add($"libtorch from {directory}");
    }

    /// <summary>The shim that the build output carries, wherever the host put it.</summary>
    private static string? FindShim()
    {
        var roots = new[]
        {
            AppContext.BaseDirectory,
            Path.GetDirectoryName(typeof(torch).Assembly.Location),
            Path.GetDirectoryName(typeof(TorchRuntime).Assembly.Location),
        };
        foreach (var root in roots.Where(r => !string.IsNullOrEmpty(r)).Distinct())
        {
            foreach (var dir in new[] { Path.Combine(root!, "runtimes", "linux-x64", "native"), root! })
            {
                var candidate = Path.Combine(dir, ShimFileName);
                if (File.Exists(candidate)) return candidate;
            }
        }
        return null;
    }

    private static void LoadShim(string shim, bool preloadSiblingLibTorch, List<string> notes)
    {
        var dir = Path.GetDirectoryName(shim)!;
        if (preloadSiblingLibTorch && File.Exists(Path.Combine(dir, "libtorch.so")))
            NativeLibrary.Load(Path.Combine(dir, "libtorch.so"));
        var original = File.ReadAllBytes(shim);
        if (NativeLibrary.TryLoad(shim, out _))
        {
            bool weak = ElfVersionNeeds.Read(original).Any(r => r.Version == UnusedLibStdCxxVersion && r.IsWeak);
            notes.Add(weak ? $"shim {shim} (patched: {UnusedLibStdCxxVersion} weak)" : $"shim {shim}");
            return;
        }
        var patched = ElfVersionNeeds.WithWeakRequirement(original, UnusedLibStdCxxVersion);
        if (patched is null)
        {
            NativeLibrary.Load(shim); // not the known libstdc++ problem: let the loader's message through
            return;
        }
        var target = WritePatchedShim(shim, patched);
        NativeLibrary.Load(target);
        notes.Add($"shim {target} (requirement {UnusedLibStdCxxVersion} marked weak: the system libstdc++ is older than GCC 13's)");
    }

    private static string WritePatchedShim(string shim, byte[] patched)
    {
        try
        {
            // Keep the original's timestamp so that incremental builds do not copy the unpatched file back.
            Hybrid.IO.AtomicFile.WriteAllBytes(shim, patched, File.GetLastWriteTimeUtc(shim));
            return shim;
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            // Read-only output (e.g. an installed tool): keep a patched copy per user, keyed by content.
            var cacheRoot = NonEmpty(Environment.GetEnvironmentVariable("XDG_CACHE_HOME"))
                ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
            var key = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(patched))[..16];
            var dir = Path.Combine(cacheRoot, "hybrid", "native", key);
            Directory.CreateDirectory(dir);
            var target = Path.Combine(dir, ShimFileName);
            if (!File.Exists(target)) Hybrid.IO.AtomicFile.WriteAllBytes(target, patched);
            return target;
        }
    }


    /// <summary>Environment variable: <c>1</c> keeps libtorch's oneDNN convolutions on the CPU (see <see cref="RouteCpuConvolutions"/>).</summary>
    public const string OneDnnEnvironmentVariable = "HYBRID_ONEDNN";

    /// <summary>
    /// Which kernels run float32 convolutions on the CPU: <see cref="CpuConvolutionRoute.Aten"/> (libtorch's native
    /// im2col and BLAS kernels, Hybrid's default, see <see cref="RouteCpuConvolutions"/>) or
    /// <see cref="CpuConvolutionRoute.OneDnn"/> (libtorch's own default, kept with <see cref="OneDnnEnvironmentVariable"/>=1).
    /// <see cref="CpuConvolutionRoute.Unknown"/> where libtorch could not be located to ask; setting it there does nothing.
    /// Setting it takes effect for the next convolution (benchmarks compare the two in one process).
    /// </summary>
    public static CpuConvolutionRoute CpuConvolutions
    {
        get
        {
            EnsureLoaded();
            var context = LibTorchContext();
            if (context is null) return CpuConvolutionRoute.Unknown;
            var enabled = Marshal.GetDelegateForFunctionPointer<GetFlag>(NativeLibrary.GetExport(context.Value.Library, "_ZNK2at7Context17userEnabledMkldnnEv"));
            return enabled(context.Value.Context) != 0 ? CpuConvolutionRoute.OneDnn : CpuConvolutionRoute.Aten;
        }
        set
        {
            if (value is not (CpuConvolutionRoute.Aten or CpuConvolutionRoute.OneDnn))
                throw new ArgumentException($"CPU convolution route {value} is not allowed; use Aten or OneDnn");
            EnsureLoaded();
            SetContextFlag("_ZN2at7Context20setUserEnabledMkldnnEb", value == CpuConvolutionRoute.OneDnn);
        }
    }

    private static void SetContextFlag(string symbol, bool value)
    {
        var context = LibTorchContext();
        if (context is not null && NativeLibrary.TryGetExport(context.Value.Library, symbol, out var f))
            Marshal.GetDelegateForFunctionPointer<SetFlag>(f)(context.Value.Context, value ? (byte)1 : (byte)0);
    }

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] private delegate IntPtr GlobalContext();
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] private delegate void SetFlag(IntPtr context, byte value);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] private delegate byte GetFlag(IntPtr context);

    private static (IntPtr Library, IntPtr Context)? libTorchContext;

    /// <summary>libtorch's global <c>at::Context</c>, through the exported C++ symbols of libtorch_cpu (null where it cannot be found).</summary>
    private static (IntPtr Library, IntPtr Context)? LibTorchContext()
    {
        if (libTorchContext is not null || libTorchCpu is null) return libTorchContext;
        var library = NativeLibrary.Load(libTorchCpu);   // already loaded: the same handle
        if (!NativeLibrary.TryGetExport(library, "_ZN2at13globalContextEv", out var global)) return null;
        libTorchContext = (library, Marshal.GetDelegateForFunctionPointer<GlobalContext>(global)());
        return libTorchContext;
    }

    /// <summary>
    /// Sends float32 CPU convolutions to libtorch's native ATen kernels instead of oneDNN, and switches NNPACK off.
    /// </summary>
    /// <remarks>
    /// Float32 realNVP training (circularly padded 3×3 convolutions, 1→8→8→2 channels) produced NaN gradients at a
    /// random step, with a fixed seed, on an AMD EPYC (Zen, AVX-512) host, while on the same host float64 (ATen's
    /// kernels) and the float32 continuous flow (no convolution) trained cleanly. On an Intel Xeon (Sapphire Rapids)
    /// the same float32 runs are bit-for-bit reproducible, and they stay so with every libtorch and oneDNN allocation
    /// filled with NaN bytes, placed against guard pages (overrun, underrun, use after free) and with forced garbage
    /// collections: Hybrid's and TorchSharp's own memory handling is clean, and the fault lies in CPU-dependent kernel
    /// code. The one such component that float32 realNVP uses and that nothing which trained cleanly on the failing host
    /// used is oneDNN 3.7.1 (bundled in libtorch 2.10), which runs every float32 convolution and its backward passes;
    /// that is where the evidence points (README, "TorchSharp runtime"). The native route is the one float64 always took,
    /// which trained cleanly there; it costs about 20% of realNVP throughput at L = 8–12 on the Xeon. NNPACK is off
    /// because libtorch's CPU builds cannot initialise it on these hosts and printed one warning per convolution.
    /// </remarks>
    private static void RouteCpuConvolutions(List<string> notes)
    {
        if (LibTorchContext() is null)
        {
            notes.Add("CPU convolutions: libtorch's default (libtorch_cpu not located)");
            return;
        }
        bool keepOneDnn = NonEmpty(Environment.GetEnvironmentVariable(OneDnnEnvironmentVariable)) == "1";
        SetContextFlag("_ZN2at7Context20setUserEnabledNNPACKEb", false);
        SetContextFlag("_ZN2at7Context20setUserEnabledMkldnnEb", keepOneDnn);
        notes.Add(keepOneDnn ? $"CPU convolutions: oneDNN ({OneDnnEnvironmentVariable}=1)" : "CPU convolutions: ATen");
    }
}
