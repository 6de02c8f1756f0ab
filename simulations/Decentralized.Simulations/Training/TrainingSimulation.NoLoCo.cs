using System.Buffers.Binary;
using Decentralized.Node.Outer;
using Decentralized.Protocol;
using Decentralized.Protocol.Identity;

namespace Decentralized.Simulations.Training;

public sealed partial class TrainingSimulation
{
    /// <summary>
    /// NoLoCo round: groups from (seed, round) over all replicas (NoLoCo pairing), the real encoded blobs to each
    /// partner over a stream, then wait for the partners' blobs up to the round timeout; the step uses whoever arrived.
    /// </summary>
    private async Task<OuterExchange> NoLoCoExchangeAsync(SimReplica p, long round, float[] theta)
    {
        byte[][] blobs;
        if (UsesFastWeights)
        {
            blobs = new[] { _codec.Encode(theta, p.Index, "fast", (int)round) };
        }
        else
        {
            var slow = SimReplica.ToArray(p.Replica.NoLoCo!.Slow);
            var delta = new float[slow.Length];
            for (int i = 0; i < delta.Length; i++) delta[i] = theta[i] - slow[i];
            // Δ through the chain, φ in bf16 (ALGORITHMS.md: quantize the update, not the weights).
            blobs = new[] { _codec.Encode(delta, p.Index, "delta", (int)round), _slowCodec.Encode(slow, p.Index, "slow", (int)round) };
        }
        // Partners the membership already knows to be gone (left, or crashed and detected) are not waited for.
        var partners = PartnersOf(p.Index, round).Where(_live.Contains).ToArray();
        foreach (int q in partners) _ = SendUpdateAsync(p, _peers[q], round, blobs);
        var waits = partners.Select(q => p.InboxSlot(round, q).Task).ToArray();
        if (waits.Length > 0)
        {
            using var stopTimer = new CancellationTokenSource();
            var timeout = Task.Delay(_options.RoundTimeout, p.Host.Time, stopTimer.Token);
            await Task.WhenAny(Task.WhenAll(waits), timeout);
            stopTimer.Cancel();
        }
        var arrived = partners.Where((q, k) => waits[k].IsCompletedSuccessfully).ToArray();
        var received = waits.Where(w => w.IsCompletedSuccessfully).Select(w => w.Result).ToArray();
        foreach (var key in p.Inbox.Keys.Where(k => k.Round <= round).ToArray()) p.Inbox.Remove(key);
        Log($"peer{p.Index} round={round} partners=[{string.Join(",", partners)}] received=[{string.Join(",", arrived)}] bytes={blobs.Sum(b => b.LongLength)}");
        return new OuterExchange(received, null);
    }

    /// <summary>
    /// The partners of <paramref name="peer"/> in <paramref name="round"/>: NoLoCo's groups over the members of that
    /// round, fixed when the first peer reaches the round (the live set then, sorted). A peer that joined later trains
    /// that round alone.
    /// </summary>
    private int[] PartnersOf(int peer, long round)
    {
        if (!_roundMembers.TryGetValue(round, out var members))
        {
            members = _live.ToArray();
            _roundMembers[round] = members;
            _roundMembers.Remove(round - 8);   // old rounds are never asked again
        }
        int position = Array.IndexOf(members, peer);
        if (position < 0) return Array.Empty<int>();
        var group = NoLoCoPairing.GroupOf(position, members.Length, _options.Seed, round, _options.NoLoCo.GroupSize);
        return group.Where(g => g != position).Select(g => members[g]).ToArray();
    }

    /// <summary>
    /// Sends one round's update. Wire format of the simulated update stream (one message, then FIN):
    /// <code>
    ///   [round: i64 LE][count: u8]  count × ( uvarint(length) ‖ kernels blob )
    /// </code>
    /// </summary>
    private async Task SendUpdateAsync(SimReplica from, SimReplica to, long round, byte[][] blobs)
    {
        using var timeout = new CancellationTokenSource(_options.RoundTimeout, from.Host.Time);
        try
        {
            var stream = await from.Network.OpenStreamAsync(to.Network.LocalPeer, UpdateProtocol, timeout.Token);
            await using (stream)
            {
                var header = new byte[9];
                BinaryPrimitives.WriteInt64LittleEndian(header, round);
                header[8] = (byte)blobs.Length;
                await stream.WriteAsync(header, timeout.Token);
                foreach (var blob in blobs) await stream.WriteLengthPrefixedAsync(blob, timeout.Token);
                await stream.CloseWriteAsync(timeout.Token);
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or InvalidOperationException or ObjectDisposedException)
        {
            Log($"peer{from.Index} round={round} send to peer{to.Index} failed: {Reason(e)}");
        }
    }

    /// <summary>Receives an update from an untrusted peer: bounded header, bounded blobs, decoded by the kernels.</summary>
    private async Task HandleUpdateAsync(SimReplica self, PeerId from, Stream stream, CancellationToken ct)
    {
        if (!_indexOf.TryGetValue(from, out int sender)) return;
        try
        {
            var header = new byte[9];
            await stream.ReadExactlyAsync(header, ct);
            long round = BinaryPrimitives.ReadInt64LittleEndian(header);
            int count = header[8];
            int expected = UsesFastWeights ? 1 : 2;
            if (count != expected) throw new ProtocolException(ProtocolErrorCode.InvalidProtobuf, $"update holds {count} blobs, expected {expected}");
            int blobMax = checked((int)Math.Min(int.MaxValue, Parameters * sizeof(float) + (1 << 20)));
            var values = new float[count][];
            string[] names = UsesFastWeights ? new[] { "fast" } : new[] { "delta", "slow" };
            for (int k = 0; k < count; k++)
            {
                var blob = await stream.ReadLengthPrefixedAsync(blobMax, ct)
                    ?? throw new ProtocolException(ProtocolErrorCode.UnexpectedEndOfStream, "update ended early");
                values[k] = WireCodec.Decode(blob, names[k], checked((int)Parameters));
            }
            if (round >= self.Rounds) self.InboxSlot(round, sender).TrySetResult(values);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or Kernels.CodecException or EndOfStreamException)
        {
            Log($"peer{self.Index} refused update from peer{sender}: {Reason(e)}");
        }
    }

    private static string Reason(Exception e) => e switch
    {
        ProtocolException p => p.Code.ToString(),
        OperationCanceledException => "timeout",
        Kernels.CodecException c => c.Code.ToString(),
        _ => e.GetType().Name,
    };
}
