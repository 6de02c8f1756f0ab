using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Decentralized.Protocol.Identity;
using Microsoft.Extensions.Logging;
using static TorchSharp.torch;

namespace Decentralized.Node.Swarm;

public sealed partial class SwarmPeer
{
    /// <summary>Hands a joiner our outer state: round, then φ and the outer momentum as float32, with a SHA-256 over both.</summary>
    private async Task ServeStateAsync(PeerId peer, Stream stream, CancellationToken ct)
    {
        float[] slow, momentum;
        long round;
        lock (_outerLock)
        {
            round = Round;
            slow = SnapshotVector(Slow);
            momentum = SnapshotVector(OuterMomentum);
        }
        var bytes = new byte[(slow.Length + momentum.Length) * sizeof(float)];
        MemoryMarshal.AsBytes(slow.AsSpan()).CopyTo(bytes);
        MemoryMarshal.AsBytes(momentum.AsSpan()).CopyTo(bytes.AsSpan(slow.Length * sizeof(float)));
        await MessageIo.WriteAsync(stream, new StateHeader(round, ConfigHash, slow.Length + momentum.Length, SHA256.HashData(bytes), null), ct);
        for (int offset = 0; offset < bytes.Length; offset += ChunkBytes)
            await stream.WriteAsync(bytes.AsMemory(offset, Math.Min(ChunkBytes, bytes.Length - offset)), ct);
        await stream.FlushAsync(ct);
        Stats.AddStateServed(bytes.Length);
        _log.LogInformation("served round {Round} state ({Bytes} bytes) to {Peer}", round, bytes.Length, peer);
    }

    /// <summary>The config hash peers must share; set by the host from <see cref="SwarmIdentity"/>.</summary>
    public string ConfigHash { get; init; } = "";

    /// <summary>
    /// Fetches the outer state from the most advanced live peer (falling back to the others), verifies its
    /// config hash, size and checksum, and starts from it. With no peer ahead of us we keep our own state.
    /// </summary>
    private async Task FetchStateAsync(IReadOnlyList<PeerId> reached, CancellationToken ct)
    {
        var donors = Membership.LivePeers().Concat(reached).Distinct()
            .Select(p => (Peer: p, Round: Membership.Get(p)?.Round ?? 0)).Where(d => d.Round > Round)
            .OrderByDescending(d => d.Round).ToArray();
        foreach (var (donor, _) in donors)
        {
            try
            {
                using var timeout = new Deadline(_time, _options.RoundTimeout, ct);
                await using var stream = await _network.OpenStreamAsync(donor, SwarmProtocols.State, timeout.Token);
                var header = await MessageIo.ReadAsync<StateHeader>(stream, _options.ControlMessageBytesMax, timeout.Token);
                long expected = 2 * Trainer.Flat.Count;
                if (header.Refusal is not null) throw new SwarmProtocolException($"donor refused: {header.Refusal}");
                if (header.ConfigHash != ConfigHash) throw new SwarmProtocolException($"donor config {header.ConfigHash}, ours {ConfigHash}");
                if (header.Values != expected) throw new SwarmProtocolException($"donor state has {header.Values} values, the model needs {expected}");
                var bytes = new byte[expected * sizeof(float)];
                await stream.ReadExactlyAsync(bytes, timeout.Token);
                if (header.Sha256 is null || !SHA256.HashData(bytes).AsSpan().SequenceEqual(header.Sha256))
                    throw new SwarmProtocolException("donor state failed its checksum");
                ApplyState(header.Round, MemoryMarshal.Cast<byte, float>(bytes));
                _log.LogInformation("joined at round {Round} with state from {Peer}", header.Round, donor);
                return;
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                _log.LogWarning("state from {Peer} failed: {Reason}; trying the next donor", donor, e.Message);
            }
        }
        if (donors.Length > 0) throw new SwarmProtocolException("no donor could provide the training state");
    }

    private void ApplyState(long round, ReadOnlySpan<float> values)
    {
        int n = checked((int)Trainer.Flat.Count);
        for (int i = 0; i < values.Length; i++)
            if (!float.IsFinite(values[i])) throw new SwarmProtocolException("donor state holds non-finite values");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        lock (_outerLock)
        {
            Slow.copy_(tensor(values[..n].ToArray()).to(Slow.device));
            OuterMomentum.copy_(tensor(values[n..].ToArray()).to(Slow.device));
            Trainer.Flat.Assign(Slow);
            RestorePosition(round, 0);
        }
    }
}
