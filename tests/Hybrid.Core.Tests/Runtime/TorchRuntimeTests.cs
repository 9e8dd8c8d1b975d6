using Hybrid.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Hybrid.Core.Tests.Runtime;

public class TorchRuntimeTests
{
    [Fact]
    public void TensorArithmeticAndGradientWork()
    {
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        var x = tensor(new[] { 1.0, 2.0, 3.0 }, requires_grad: true);
        var y = (x * x * x).sum();
        y.backward();
        Assert.Equal(36.0, y.item<double>(), 12);
        Assert.Equal(new[] { 3.0, 12.0, 27.0 }, x.grad!.data<double>().ToArray());
    }

    [Fact]
    public void CpuConvolutionsRunOnAtenKernelsUnlessOneDnnIsAskedFor()
    {
        // oneDNN's float32 convolutions gave NaN gradients at random steps on AMD EPYC hosts (issue 7): Hybrid routes
        // them to ATen's kernels when it loads libtorch. HYBRID_ONEDNN=1 is the documented way back.
        var expected = Environment.GetEnvironmentVariable(TorchRuntime.OneDnnEnvironmentVariable) == "1" ? CpuConvolutionRoute.OneDnn : CpuConvolutionRoute.Aten;
        Assert.Equal(expected, TorchRuntime.CpuConvolutions);
        Assert.Contains("CPU convolutions", TorchRuntime.Description);
        // The route can be switched at run time (the benchmark compares both in one process) and switched back.
        TorchRuntime.CpuConvolutions = CpuConvolutionRoute.OneDnn;
        Assert.Equal(CpuConvolutionRoute.OneDnn, TorchRuntime.CpuConvolutions);
        TorchRuntime.CpuConvolutions = expected;
        Assert.Equal(expected, TorchRuntime.CpuConvolutions);
    }

    [Fact]
    public void ShimInBuildOutputRequiresTheUnusedLibStdCxxVersion()
    {
        var shim = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        Assert.True(File.Exists(shim), $"expected TorchSharp's shim at {shim}");
        var requirement = Assert.Single(ElfVersionNeeds.Read(File.ReadAllBytes(shim)), r => r.Version == TorchRuntime.UnusedLibStdCxxVersion);
        Assert.Equal("libstdc++.so.6", requirement.Library);
    }

    [Fact]
    public void WeakeningChangesExactlyOneFlag()
    {
        var shim = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        var bytes = File.ReadAllBytes(shim);
        // Start from the strong form whatever state the build output is in.
        var requirement = ElfVersionNeeds.Read(bytes).Single(r => r.Version == TorchRuntime.UnusedLibStdCxxVersion);
        bytes[requirement.FlagsOffset] = (byte)(bytes[requirement.FlagsOffset] & ~ElfVersionNeeds.VersionFlagWeak);

        var patched = ElfVersionNeeds.WithWeakRequirement(bytes, TorchRuntime.UnusedLibStdCxxVersion);
        Assert.NotNull(patched);
        Assert.Equal(1, bytes.Zip(patched!).Count(p => p.First != p.Second));
        var after = ElfVersionNeeds.Read(patched!);
        Assert.True(after.Single(r => r.Version == TorchRuntime.UnusedLibStdCxxVersion).IsWeak);
        Assert.All(after.Where(r => r.Version != TorchRuntime.UnusedLibStdCxxVersion), r => Assert.False(r.IsWeak));
        Assert.Null(ElfVersionNeeds.WithWeakRequirement(patched!, TorchRuntime.UnusedLibStdCxxVersion));
    }

    [Fact]
    public void RejectsNonElfInput() =>
        Assert.Throws<InvalidDataException>(() => ElfVersionNeeds.Read(new byte[128]));

    [Theory]
    [InlineData("auto", ComputeDevice.Auto)]
    [InlineData("CPU", ComputeDevice.Cpu)]
    [InlineData("cuda", ComputeDevice.Cuda)]
    public void ParsesDeviceChoices(string text, ComputeDevice expected) =>
        Assert.Equal(expected, TorchRuntime.ParseDevice(text));

    [Fact]
    public void UnknownDeviceNamesTheValueAndTheChoices()
    {
        var e = Assert.Throws<ArgumentException>(() => TorchRuntime.ParseDevice("tpu"));
        Assert.Contains("'tpu'", e.Message);
        Assert.Contains("auto, cpu, cuda", e.Message);
    }

    [Fact]
    public void AutoResolvesToCpuWithoutGpu()
    {
        var device = TorchRuntime.Resolve(ComputeDevice.Auto);
        Assert.Equal(TorchRuntime.CudaAvailable() ? DeviceType.CUDA : DeviceType.CPU, device.type);
    }
}
