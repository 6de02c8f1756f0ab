using System.Diagnostics;
using Decentralized.Node.Model;
using Decentralized.Node.Pipeline;
using Decentralized.Node.Training;
using Decentralized.Protocol;
using Decentralized.Protocol.Addressing;
using Decentralized.Protocol.Identity;
using Decentralized.Protocol.Tcp;
using Microsoft.Extensions.Logging.Abstractions;

namespace Decentralized.Node.Tests.Pipeline;

/// <summary>A peer serving the last stage gets hostile hops over real TCP: each is refused with a reason, and it still serves a good one.</summary>
[Collection("Pipeline")]
public sealed class PipelineHostileInputTests
{
    private static readonly PipelineOptions Options = new()
    {
        Model = new ModelConfig(VocabSize: 256, Dim: 32, Layers: 2, Heads: 2, ContextLength: 16),
        StageCount = 2,
        Stage = 1,
        Inner = new InnerOptions(LearningRate: 3e-3, WarmupSteps: 0, TotalSteps: 100, MicroBatchSize: 4, SequenceLength: 16),
        Seed = 3,
    };

    public static TheoryData<string> Attacks => new() { "target out of vocabulary", "oversized batch", "payload too long", "non-finite payload", "wrong stage", "garbage header" };

    [Theory]
    [MemberData(nameof(Attacks))]
    public async Task HostileHopIsRefusedAndTheNextGoodOneIsServed(string attack)
    {
        await using var server = await StartHostAsync(1);
        await using var client = await StartHostAsync(2);
        await using var peer = new PipelinePeer(server, TimeProvider.System, Options, TestCorpus.Data.ForReplica(1, 0, 1, 4, 16), NullLogger.Instance);
        peer.Start();
        while (peer.Stage != 1) await Task.Delay(20);

        var response = await SendAsync(client, server, attack);
        Assert.False(response?.Ok ?? false, $"attack '{attack}' was accepted");
        var good = await SendAsync(client, server, "none");
        Assert.True(good is { Ok: true }, $"a valid hop after '{attack}' failed: {good?.Error}");
        Assert.True(good!.Loss > 0 && double.IsFinite(good.Loss));
    }

    public static TheoryData<string> OuterAttacks => new() { "garbage blob", "declared size too large", "wrong stage", "unknown payload", "garbage header", "truncated blob" };

    [Theory]
    [MemberData(nameof(OuterAttacks))]
    public async Task HostileOuterUpdateIsRefusedAndTheStageKeepsServing(string attack)
    {
        await using var server = await StartHostAsync(1);
        await using var client = await StartHostAsync(2);
        await using var peer = new PipelinePeer(server, TimeProvider.System, Options, TestCorpus.Data.ForReplica(1, 0, 1, 4, 16), NullLogger.Instance);
        peer.Start();
        while (peer.Stage != 1) await Task.Delay(20);

        await client.DialAsync(server.ListenAddresses[0], CancellationToken.None);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await using (var stream = await client.OpenStreamAsync(server.LocalPeer, PipelineProtocols.Outer, timeout.Token))
        {
            var blob = Enumerable.Range(0, 4096).Select(i => (byte)(i * 37)).ToArray();
            long declared = attack == "declared size too large" ? 1L << 40 : attack == "truncated blob" ? blob.Length + 100 : blob.Length;
            var payload = attack == "unknown payload" ? (Decentralized.Node.Rounds.Payload)42 : Decentralized.Node.Rounds.Payload.FastWeights;
            if (attack == "garbage header") await stream.WriteLengthPrefixedAsync(new byte[] { 0xC1, 0xFF, 0x00 }, timeout.Token);
            else await PipelineWire.WriteAsync(stream, new OuterMessage(attack == "wrong stage" ? 0 : 1, 0, payload, declared), timeout.Token);
            try { await stream.WriteLengthPrefixedAsync(blob, timeout.Token); }
            catch (Exception e) when (e is IOException or ProtocolException) { }   // the server may close the stream first
        }
        var refused = Stopwatch.StartNew();
        while (peer.RefusedUpdates == 0 && refused.Elapsed < TimeSpan.FromSeconds(20)) await Task.Delay(20);
        Assert.Equal(1, peer.RefusedUpdates);
        var good = await SendAsync(client, server, "none");
        Assert.True(good is { Ok: true }, $"a valid hop after the outer attack '{attack}' failed: {good?.Error}");
    }

    private static async Task<HopResponse?> SendAsync(Libp2pHost client, Libp2pHost server, string attack)
    {
        await client.DialAsync(server.ListenAddresses[0], CancellationToken.None);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await using var stream = await client.OpenStreamAsync(server.LocalPeer, PipelineProtocols.Hop, timeout.Token);
        int b = attack == "oversized batch" ? 64 : 4, t = 16, values = b * t * 32;
        var targets = Enumerable.Range(0, b * t).Select(i => (long)(i % 200)).ToArray();
        if (attack == "target out of vocabulary") targets[5] = 256;
        long microbatch = 4;   // an in-order route for 2 stages: hop 1 is stage 1 (blocks + head)
        int hop = attack == "wrong stage" ? 0 : 1;
        if (attack == "garbage header") await stream.WriteLengthPrefixedAsync(new byte[] { 0xC1, 0xFF, 0x00 }, timeout.Token);
        else await PipelineWire.WriteAsync(stream, new HopRequest(microbatch, false, hop, b, t, ActivationCodecKind.Bf16, targets), timeout.Token);
        var payload = ActivationCodec.Encode(ActivationCodecKind.Bf16, Enumerable.Range(0, values).Select(i => (float)Math.Sin(i) * 0.1f).ToArray());
        if (attack == "payload too long") payload = payload.Concat(new byte[10]).ToArray();
        if (attack == "non-finite payload") { payload[6] = 0xC0; payload[7] = 0x7F; }   // bf16 NaN
        try
        {
            if (attack != "garbage header") await stream.WriteLengthPrefixedAsync(payload, timeout.Token);
            var response = await PipelineWire.ReadAsync<HopResponse>(stream, 1 << 20, timeout.Token);
            if (response.Ok) await PipelineWire.ReadPayloadAsync(stream, ActivationCodec.EncodedBytes(response.Codec, values), timeout.Token);
            return response;
        }
        catch (Exception e) when (e is PipelineProtocolException or IOException or ProtocolException)
        {
            return null;   // the server may also just close the stream: refused either way
        }
    }

    private static async Task<Libp2pHost> StartHostAsync(byte seed)
    {
        var host = new Libp2pHost(new Libp2pHostOptions
        {
            Identity = PrivateKey.FromSeed(Enumerable.Repeat((byte)(seed + 100), 32).ToArray()),
            ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")],
        });
        await host.StartAsync();
        return host;
    }
}
