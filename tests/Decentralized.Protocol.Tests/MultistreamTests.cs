using Decentralized.Protocol.Multistream;

namespace Decentralized.Protocol.Tests;

public sealed class MultistreamTests
{
    [Fact]
    public void MessagesAreFramedAsInTheSpec()
    {
        Assert.Equal("036e610a", Convert.ToHexStringLower(MultistreamCodec.Encode("na")));
        Assert.Equal("13" + Convert.ToHexStringLower("/multistream/1.0.0\n"u8), Convert.ToHexStringLower(MultistreamCodec.Encode(MultistreamCodec.ProtocolId)));
        Assert.Equal("07" + Convert.ToHexStringLower("/noise\n"u8), Convert.ToHexStringLower(MultistreamCodec.Encode("/noise")));
    }

    [Fact]
    public async Task DialerFallsBackAfterNaAndBothSidesAgree()
    {
        var (a, b) = DuplexPipe.Create();
        var listener = MultistreamSelect.ListenAsync(b, ["/b/1", "/c/1"], CancellationToken.None);
        var selected = await MultistreamSelect.SelectAsync(a, ["/a/1", "/b/1"], CancellationToken.None);
        Assert.Equal("/b/1", selected);
        Assert.Equal("/b/1", await listener);
    }

    [Fact]
    public async Task NoCommonProtocolIsReportedAsNotSupported()
    {
        var (a, b) = DuplexPipe.Create();
        _ = MultistreamSelect.ListenAsync(b, ["/x/1"], CancellationToken.None);
        var error = await Assert.ThrowsAsync<ProtocolException>(() => MultistreamSelect.SelectAsync(a, ["/a/1"], CancellationToken.None));
        Assert.Equal(ProtocolErrorCode.ProtocolNotSupported, error.Code);
    }

    [Fact]
    public async Task OversizedMessageIsRefusedBeforeReadingIt()
    {
        var (a, b) = DuplexPipe.Create();
        await a.WriteAsync(new byte[] { 0xff, 0x7f }); // 16383-byte message announced
        await a.FlushAsync();
        var error = await Assert.ThrowsAsync<ProtocolException>(() => MultistreamSelect.ListenAsync(b, ["/x/1"], CancellationToken.None));
        Assert.Equal(ProtocolErrorCode.MessageTooLarge, error.Code);
    }

    [Fact]
    public async Task NegotiationLeavesFollowingBytesForTheProtocol()
    {
        var (a, b) = DuplexPipe.Create();
        var listener = Task.Run(async () =>
        {
            await MultistreamSelect.ListenAsync(b, ["/echo"], CancellationToken.None);
            var buffer = new byte[5];
            await b.ReadExactlyAsync(buffer);
            return buffer;
        });
        await MultistreamSelect.SelectAsync(a, ["/echo"], CancellationToken.None);
        await a.WriteAsync("hello"u8.ToArray());
        await a.FlushAsync();
        Assert.Equal("hello"u8.ToArray(), await listener);
    }
}
