using System.Runtime.InteropServices;
using Decentralized.Protocol.Identity;
using Decentralized.Protocol.Network;
using Microsoft.Extensions.Logging;
using static TorchSharp.torch;

namespace Decentralized.Node.Swarm;

public sealed partial class SwarmPeer
{
    private readonly object _snapshotLock = new();
    private readonly List<StateSnapshot> _snapshots = [];   // the newest two rounds served, while any joiner downloads
    private int _joinersServing;
    private readonly RatePacer _statePacer;   // shared by every joiner served (SwarmOptions.StateUploadBytesPerSecond)

    /// <summary>The config hash peers must share; set by the host from <see cref="SwarmIdentity"/>.</summary>
    public string ConfigHash { get; init; } = "";

    /// <summary>Joiners downloading our state right now (status: "joiners being served").</summary>
    public int JoinersServing => Volatile.Read(ref _joinersServing);

    /// <summary>
    /// Serves one joiner: the manifest of our current state, then the chunks it asks for, from a snapshot frozen at
    /// that round. At most <see cref="SwarmOptions.StateJoinersMax"/> joiners at once; others are told to try
    /// elsewhere. Serving runs on the stream's own task and takes the outer lock only to copy φ, never stalling training.
    /// </summary>
    private async Task ServeStateAsync(PeerId peer, Stream stream, CancellationToken ct)
    {
        if (Interlocked.Increment(ref _joinersServing) > _options.StateJoinersMax)
        {
            Interlocked.Decrement(ref _joinersServing);
            await MessageIo.WriteAsync(stream, new StateManifest(Round, ConfigHash, 0, 0, [], $"busy serving {_options.StateJoinersMax} joiners, try another peer"), ct);
            _log.LogInformation("told {Peer} to fetch the state elsewhere: already serving {Max} joiners", peer, _options.StateJoinersMax);
            return;
        }
        long served = 0;
        try
        {
            while (true)
            {
                // A joiner that goes quiet gives its slot back after the peer timeout.
                using var idle = new Deadline(_time, _options.PeerTimeout * 3, ct);
                var request = await MessageIo.TryReadAsync<StateRequest>(stream, _options.ControlMessageBytesMax, idle.Token);
                if (request is null) break;   // the joiner has what it needs
                if (request.Chunk < 0)
                {
                    await MessageIo.WriteAsync(stream, CurrentSnapshot().Manifest(ConfigHash), idle.Token);
                    continue;
                }
                var snapshot = SnapshotOf(request.Round);
                string? refusal = snapshot is null ? $"round {request.Round} is no longer held; we are at round {Round}"
                    : request.Chunk >= snapshot.Chunks ? $"chunk {request.Chunk} out of range ({snapshot.Chunks} chunks)" : null;
                if (refusal is not null)
                {
                    await MessageIo.WriteAsync(stream, new StateChunkHeader(request.Round, request.Chunk, 0, refusal), idle.Token);
                    continue;
                }
                var chunk = snapshot!.Chunk(request.Chunk);
                // The upload limit stretches a chunk's write; a joiner that stops reading still frees the slot in time.
                using var sending = new Deadline(_time, _options.PeerTimeout * 3 + _statePacer.Duration(chunk.Length) * (_joinersServing + 1), ct);
                await MessageIo.WriteAsync(stream, new StateChunkHeader(request.Round, request.Chunk, chunk.Length, null), sending.Token);
                for (int offset = 0; offset < chunk.Length; offset += RatePacer.SliceBytes)
                {
                    var slice = chunk.Slice(offset, Math.Min(RatePacer.SliceBytes, chunk.Length - offset));
                    await _statePacer.WaitAsync(slice.Length, sending.Token);
                    await stream.WriteAsync(slice, sending.Token);
                }
                await stream.FlushAsync(sending.Token);
                served += chunk.Length;
                Stats.AddStateServed(chunk.Length);
            }
        }
        finally
        {
            if (Interlocked.Decrement(ref _joinersServing) == 0)
                lock (_snapshotLock) _snapshots.Clear();   // nobody downloads: give the memory back
            if (served > 0) _log.LogInformation("served {Bytes} bytes of state to {Peer}", served, peer);
        }
    }

    /// <summary>The snapshot of the round we are in, made on first request (φ copied under the outer lock, hashed outside it).</summary>
    private StateSnapshot CurrentSnapshot()
    {
        lock (_snapshotLock)
        {
            long round = Round;
            var existing = _snapshots.Find(s => s.Round == round);
            if (existing is not null) return existing;
            float[] slow, momentum;
            lock (_outerLock)
            {
                round = Round;
                slow = Cpu(Slow);
                momentum = Cpu(OuterMomentum);
            }
            var snapshot = new StateSnapshot(round, slow, momentum, _options.StateChunkBytes);
            _snapshots.Add(snapshot);
            if (_snapshots.Count > 2) _snapshots.RemoveAt(0);   // a joiner still on the round before keeps its chunks
            return snapshot;
        }
    }

    private StateSnapshot? SnapshotOf(long round)
    {
        lock (_snapshotLock) return _snapshots.Find(s => s.Round == round);
    }

    /// <summary>
    /// Fetches the outer state from the peers ahead of us, several at once (<see cref="StateDownload"/>), and starts
    /// from it. If the swarm finished another round during the transfer, fetches again so we join on the current
    /// round (up to three times). With no peer ahead of us we keep our own state.
    /// </summary>
    private async Task FetchStateAsync(IReadOnlyList<PeerId> reached, CancellationToken ct)
    {
        var download = new StateDownload(_network, _time, _options, _log);
        var excluded = new HashSet<PeerId>();
        int refetches = 0;
        // Busy donors (each serves a few joiners at a time) are not failures: keep asking, backing off, for a while.
        for (int attempt = 1; attempt <= 20; attempt++)
        {
            var donors = Membership.LivePeers().Concat(reached).Distinct().Where(p => !excluded.Contains(p))
                .Select(p => (Peer: p, Round: Membership.Get(p)?.Round ?? 0)).Where(d => d.Round > Round)
                .OrderByDescending(d => d.Round).ThenBy(_ => NextJitter()).Select(d => d.Peer).ToArray();
            if (donors.Length == 0)
            {
                if (attempt == 1) return;   // nobody is ahead of us: a new swarm, or we are the most advanced
                break;
            }
            var result = await download.RunAsync(donors, 2 * Trainer.Flat.Count, ConfigHash, ct);
            if (result is null)
            {
                _log.LogWarning("state download attempt {Attempt} found no complete state among [{Donors}]; retrying", attempt, string.Join(", ", donors.Select(Short)));
                await Task.Delay(TimeSpan.FromSeconds(Math.Min(attempt, 5) * (0.5 + NextJitter())), _time, ct);
                continue;
            }
            foreach (var f in result.Failed) excluded.Add(f);
            try { ApplyState(result.Round, MemoryMarshal.Cast<byte, float>(result.Bytes.AsSpan())); }
            catch (SwarmProtocolException e)
            {
                // Chunks that match their donor's own hash can still be poison: none of these donors is asked again.
                foreach (var d in result.ChunksByDonor.Keys) excluded.Add(d);
                _log.LogWarning("state from [{Donors}] refused: {Reason}", string.Join(", ", result.ChunksByDonor.Keys.Select(Short)), e.Message);
                continue;
            }
            LastStateSync = new StateSyncReport(result.Round, result.ChunksByDonor.ToDictionary(d => d.Key.ToString(), d => d.Value),
                result.Failed.Select(f => f.ToString()).Distinct().ToArray(), result.Took.TotalSeconds);
            _log.LogInformation("joined at round {Round} with state from {Donors} in {Seconds:F2} s", result.Round,
                string.Join(", ", result.ChunksByDonor.Where(d => d.Value > 0).Select(d => $"{d.Key} ({d.Value} chunks)")), result.Took.TotalSeconds);
            await Membership.BeatAsync(ct);   // did the swarm move on while we downloaded?
            long newest = Membership.LivePeers().Select(p => Membership.Get(p)?.Round ?? 0).DefaultIfEmpty(0).Max();
            if (newest <= Round) return;
            if (++refetches > 2)
            {
                _log.LogWarning("the swarm reached round {Newest} during each of 3 state downloads: training from round {Round}; its updates count again once it catches up", newest, Round);
                return;
            }
            _log.LogInformation("the swarm reached round {Newest} during the transfer: fetching again", newest);
        }
        if (LastStateSync is null) throw new SwarmProtocolException("no donor could provide the training state");
        _log.LogWarning("still behind the swarm after repeated state downloads: training from round {Round}", Round);
    }

    /// <summary>The last completed state download of this peer (joiners' sync times in status and tests).</summary>
    public StateSyncReport? LastStateSync { get; private set; }

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
