using System.Collections.Concurrent;
using System.Security.Cryptography;
using Decentralized.Protocol.Identity;
using Decentralized.Protocol.Network;
using Microsoft.Extensions.Logging;

namespace Decentralized.Node.Swarm;

/// <summary>
/// A joiner's download of the swarm's training state from several donors at once. Each donor first sends its
/// manifest (round, config hash, size, a SHA-256 per chunk); the newest round among the valid manifests is fetched,
/// its chunks spread over every donor that holds it, each chunk checked against the manifest of the donor that sent
/// it. A chunk that fails (a dead donor, a bad hash, a refusal) goes back in the queue for the others; a donor that
/// failed is not asked again. DiLoCo donors hold identical states, so their manifests agree chunk for chunk; NoLoCo
/// donors differ slightly by design, so the joiner starts from a chunk-wise mix of same-round states, a point inside
/// the group's spread that the next rounds' averaging absorbs.
/// </summary>
internal sealed class StateDownload(IPeerNetwork network, TimeProvider time, SwarmOptions options, ILogger log)
{
    /// <summary>Failures of one chunk, across donors, before the attempt gives up (the caller may try again).</summary>
    private const int ChunkFailuresMax = 3;

    private const int RequestsInFlight = 2;

    public sealed record Result(long Round, byte[] Bytes, IReadOnlyDictionary<PeerId, int> ChunksByDonor, IReadOnlyList<PeerId> Failed, TimeSpan Took);

    private sealed record Donor(PeerId Peer, Stream Stream, StateManifest Manifest);

    /// <summary>Downloads from up to <see cref="SwarmOptions.StateDonorsMax"/> of <paramref name="candidates"/>; null if none had a usable state.</summary>
    public async Task<Result?> RunAsync(IReadOnlyList<PeerId> candidates, long expectedValues, string configHash, CancellationToken ct)
    {
        long started = time.GetTimestamp();
        long totalBytes = expectedValues * sizeof(float);
        var failed = new List<PeerId>();
        var opened = await Task.WhenAll(candidates.Take(options.StateDonorsMax).Select(p => OpenAsync(p, expectedValues, configHash, failed, ct)));
        var donors = opened.OfType<Donor>().ToList();
        try
        {
            if (donors.Count == 0) return null;
            long round = donors.Max(d => d.Manifest.Round);
            foreach (var stale in donors.Where(d => d.Manifest.Round != round)) log.LogInformation("state donor {Peer} is at round {Round}, others at {Newest}: not used", stale.Peer, stale.Manifest.Round, round);
            donors.RemoveAll(d => d.Manifest.Round != round);
            // Chunk size is each donor's own setting: chunks are only interchangeable between donors that cut them alike.
            int chunkBytes = donors.GroupBy(d => d.Manifest.ChunkBytes).MaxBy(g => g.Count())!.Key;
            foreach (var other in donors.Where(d => d.Manifest.ChunkBytes != chunkBytes)) log.LogInformation("state donor {Peer} cuts {Bytes}-byte chunks, most others {Common}: not used", other.Peer, other.Manifest.ChunkBytes, chunkBytes);
            donors.RemoveAll(d => d.Manifest.ChunkBytes != chunkBytes);

            int chunks = StateSnapshot.ChunkCount(totalBytes, chunkBytes);
            var bytes = new byte[totalBytes];
            // Workers run concurrently on the daemon's thread pool: a concurrent queue, atomic counters, disjoint slices of bytes.
            var pending = new ConcurrentQueue<int>(Enumerable.Range(0, chunks));
            var failures = new int[chunks];
            var served = new int[donors.Count];
            int exhausted = 0;

            // Two requests in flight per donor: the next chunk is already on its way while this one is checked, so a
            // round trip per chunk does not idle the donor's uplink.
            async Task WorkAsync(int index)
            {
                var donor = donors[index];
                var inFlight = new Queue<int>();
                try
                {
                    while (inFlight.Count < RequestsInFlight && await RequestNextAsync(donor, round, pending, inFlight, () => Volatile.Read(ref exhausted) != 0, ct)) { }
                    while (inFlight.TryPeek(out int chunk))
                    {
                        await ReceiveChunkAsync(donor, round, chunk, bytes, ct);
                        inFlight.Dequeue();
                        served[index]++;
                        await RequestNextAsync(donor, round, pending, inFlight, () => Volatile.Read(ref exhausted) != 0, ct);
                    }
                }
                catch (Exception e) when (!ct.IsCancellationRequested)
                {
                    lock (failed) failed.Add(donor.Peer);
                    foreach (int chunk in inFlight)
                    {
                        if (Interlocked.Increment(ref failures[chunk]) >= ChunkFailuresMax) Volatile.Write(ref exhausted, 1);
                        pending.Enqueue(chunk);
                    }
                    log.LogWarning("state chunks [{Chunks}] from {Peer} failed: {Reason}; the other donors take over", string.Join(", ", inFlight), donor.Peer, e.Message);
                }
            }

            await Task.WhenAll(Enumerable.Range(0, donors.Count).Select(WorkAsync));
            if (!pending.IsEmpty) return null;
            return new Result(round, bytes, donors.Select((d, i) => (d.Peer, served[i])).ToDictionary(x => x.Peer, x => x.Item2), failed, time.GetElapsedTime(started));
        }
        finally
        {
            foreach (var d in opened.OfType<Donor>()) await d.Stream.DisposeAsync();   // the donors set aside above too
        }
    }

    private async Task<Donor?> OpenAsync(PeerId peer, long expectedValues, string configHash, List<PeerId> failed, CancellationToken ct)
    {
        Stream? stream = null;
        try
        {
            using var deadline = new Deadline(time, options.PeerTimeout, ct);
            stream = await network.OpenStreamAsync(peer, SwarmProtocols.State, deadline.Token);
            await MessageIo.WriteAsync(stream, new StateRequest(0, -1), deadline.Token);
            long totalBytes = expectedValues * sizeof(float);
            // A manifest of this model holds at most one 32-byte hash per smallest allowed chunk, plus a little framing.
            int manifestMax = checked((int)Math.Min(int.MaxValue, options.ControlMessageBytesMax + totalBytes / 4096 * 40));
            var manifest = await MessageIo.ReadAsync<StateManifest>(stream, manifestMax, deadline.Token);
            string? problem = manifest.Refusal is not null ? $"refused: {manifest.Refusal}"
                : manifest.ConfigHash != configHash ? $"config {manifest.ConfigHash}, ours {configHash}"
                : manifest.Values != expectedValues ? $"state of {manifest.Values} values, the model needs {expectedValues}"
                : manifest.ChunkBytes < 4096 || manifest.ChunkBytes > 64 << 20 ? $"chunk size {manifest.ChunkBytes} out of bounds"
                : manifest.ChunkHashes is null || manifest.ChunkHashes.Length != StateSnapshot.ChunkCount(totalBytes, manifest.ChunkBytes) ? "wrong number of chunk hashes"
                : manifest.ChunkHashes.Any(h => h is null || h.Length != SHA256.HashSizeInBytes) ? "malformed chunk hash"
                : manifest.Round < 0 ? "negative round"
                : null;
            if (problem is not null)
            {
                log.LogInformation("state donor {Peer} not used: {Problem}", peer, problem);
                await stream.DisposeAsync();
                return null;
            }
            return new Donor(peer, stream, manifest);
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            log.LogWarning("state manifest from {Peer} failed: {Reason}", peer, e.Message);
            lock (failed) failed.Add(peer);
            if (stream is not null) await stream.DisposeAsync();
            return null;
        }
    }

    private async Task<bool> RequestNextAsync(Donor donor, long round, ConcurrentQueue<int> pending, Queue<int> inFlight, Func<bool> stop, CancellationToken ct)
    {
        if (stop() || !pending.TryDequeue(out int chunk)) return false;
        inFlight.Enqueue(chunk);   // before the write: a failed write hands it back with the others
        using var deadline = new Deadline(time, options.PeerTimeout, ct);
        await MessageIo.WriteAsync(donor.Stream, new StateRequest(round, chunk), deadline.Token);
        return true;
    }

    /// <summary>Reads one chunk straight into its place in <paramref name="bytes"/> and checks it against the donor's manifest.</summary>
    private async Task ReceiveChunkAsync(Donor donor, long round, int chunk, byte[] bytes, CancellationToken ct)
    {
        using var deadline = new Deadline(time, options.RoundTimeout, ct);
        var header = await MessageIo.ReadAsync<StateChunkHeader>(donor.Stream, options.ControlMessageBytesMax, deadline.Token);
        if (header.Refusal is not null) throw new SwarmProtocolException($"refused: {header.Refusal}");
        int length = StateSnapshot.ChunkLength(bytes.LongLength, chunk, donor.Manifest.ChunkBytes);
        if (header.Round != round || header.Chunk != chunk || header.Bytes != length)
            throw new SwarmProtocolException($"answered chunk {header.Chunk} of round {header.Round} ({header.Bytes} bytes) for chunk {chunk} of round {round} ({length} bytes)");
        var target = bytes.AsMemory(StateSnapshot.ChunkOffset(chunk, donor.Manifest.ChunkBytes), length);
        // A donor may pace its upload (--state-upload-mib): the body must keep moving, not finish by a fixed time.
        for (int offset = 0; offset < length; offset += RatePacer.SliceBytes)
        {
            using var stall = new Deadline(time, options.PeerTimeout * 3, ct);
            await donor.Stream.ReadExactlyAsync(target.Slice(offset, Math.Min(RatePacer.SliceBytes, length - offset)), stall.Token);
        }
        if (!SHA256.HashData(target.Span).AsSpan().SequenceEqual(donor.Manifest.ChunkHashes[chunk]))
            throw new SwarmProtocolException($"chunk {chunk} failed its checksum");
    }
}
