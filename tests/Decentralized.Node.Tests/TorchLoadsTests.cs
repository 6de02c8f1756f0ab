using TorchSharp;
using static TorchSharp.torch;

namespace Decentralized.Node.Tests;

/// <summary>Proves the native TorchSharp runtime loads on this machine (the build patches it where needed).</summary>
public sealed class TorchLoadsTests
{
    [Fact]
    public void MatmulAndBackwardRun()
    {
        using var scope = NewDisposeScope();
        var a = tensor(new float[] { 1, 2, 3, 4 }, new long[] { 2, 2 }, requires_grad: true);
        var b = tensor(new float[] { 5, 6, 7, 8 }, new long[] { 2, 2 });
        var y = a.matmul(b).sum();
        y.backward();
        Assert.Equal(1 * 5 + 2 * 7 + 1 * 6 + 2 * 8 + 3 * 5 + 4 * 7 + 3 * 6 + 4 * 8, y.item<float>());
        // d(sum(A·B))/dA[i,k] = sum_j B[k,j]
        Assert.Equal(new float[] { 11, 15, 11, 15 }, a.grad!.data<float>().ToArray());
    }
}
