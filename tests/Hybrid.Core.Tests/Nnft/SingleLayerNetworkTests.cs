using Hybrid.Nnft;
using static TorchSharp.torch;

namespace Hybrid.Core.Tests.Nnft;

public class SingleLayerNetworkTests
{
    [Theory]
    [InlineData(NetworkActivation.Erf)]
    [InlineData(NetworkActivation.Gauss)]
    public void EachNetworkAtItsOwnInputsIsThatNetworkAtThoseInputs(NetworkActivation activation)
    {
        var net = new SingleLayerNetwork(activation, 2, 5, 1.2, 0.4);
        using var generator = new Generator(4);
        using var z = randn(new long[] { 3, net.ParameterCount }, dtype: ScalarType.Float64, generator: generator);
        using var inputs = randn(new long[] { 3, 7, 2 }, dtype: ScalarType.Float64, generator: generator);
        using var each = net.EvaluateEachStandardised(z, inputs);
        Assert.Equal(new long[] { 3, 7 }, each.shape);
        for (long i = 0; i < 3; i++)
        {
            using var one = net.EvaluateStandardised(z[TensorIndex.Slice(i, i + 1)], inputs[i]);
            Assert.True(one.squeeze(0).allclose(each[i], 1e-12, 1e-12), $"network {i}");
        }
        Assert.Throws<ArgumentException>(() => net.EvaluateEachStandardised(z, inputs[0]));
    }
}
