using Decentralized.Protocol.Yamux;

namespace Decentralized.Protocol.Tcp;

/// <summary>
/// The relay's side of one relayed connection: copies bytes between the initiator's hop stream and the target's stop
/// stream, and resets both when either direction passes the byte limit or the connection outlives its duration (the
/// spec: "the relay should reset the stream to the source and the stream to the destination").
/// </summary>
internal static class RelayCircuit
{
    private const int BufferBytes = 64 * 1024;

    /// <summary>Runs until both directions end, a limit is hit, or <paramref name="ct"/> fires; returns why it ended.</summary>
    public static async Task<string> BridgeAsync(YamuxStream source, YamuxStream target, long bytesMax, TimeSpan durationMax, TimeProvider time, CancellationToken ct)
    {
        using var lifetime = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using var timer = time.CreateTimer(_ => lifetime.Cancel(), null, durationMax, Timeout.InfiniteTimeSpan);
        var forward = CopyAsync(source, target, bytesMax, lifetime);
        var backward = CopyAsync(target, source, bytesMax, lifetime);
        var results = await Task.WhenAll(forward, backward).ConfigureAwait(false);
        var reason = results.FirstOrDefault(r => r is not null);
        if (reason is null && lifetime.IsCancellationRequested)
        {
            reason = ct.IsCancellationRequested ? "relay connection closed" : $"duration limit of {durationMax} reached";
        }
        if (reason is not null)
        {
            source.Reset();
            target.Reset();
        }
        return reason ?? "both sides closed";
    }

    /// <summary>Copies one direction; null on a clean end of stream, else why it stopped (and cancels the other direction).</summary>
    private static async Task<string?> CopyAsync(YamuxStream from, YamuxStream to, long bytesMax, CancellationTokenSource lifetime)
    {
        var buffer = new byte[BufferBytes];
        long total = 0;
        try
        {
            while (true)
            {
                var n = await from.ReadAsync(buffer, lifetime.Token).ConfigureAwait(false);
                if (n == 0)
                {
                    await to.CloseWriteAsync(lifetime.Token).ConfigureAwait(false);
                    return null;
                }
                total += n;
                if (total > bytesMax)
                {
                    lifetime.Cancel();
                    return $"data limit of {bytesMax} bytes per direction reached";
                }
                await to.WriteAsync(buffer.AsMemory(0, n), lifetime.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            return null;
        }
        catch (Exception e)
        {
            lifetime.Cancel();
            return e.Message;
        }
    }
}
