using Decentralized.Node.Rounds;
using TorchSharp;
using static TorchSharp.torch;

namespace Decentralized.Node.Pipeline;

/// <summary>
/// The stage's outer rounds: thin calls into its <see cref="RoundEngine"/>, serialised by their own lock (an arriving
/// update is decoded without stopping the hops) and taking the stage lock only to read or write the weights.
/// A stage never pauses for a round (every other stage's microbatches pass through it), so AdamW steps land while an
/// exchange is open. With overlap the engine keeps them (its one-step delay); without it, the steps taken between
/// <see cref="BeginRound"/> and <see cref="ApplyRound"/> are added back onto the weights the engine hands over:
/// θ ← θ_engine + (θ_now − θ_begin), the delayed correction this pipeline has always used, so none is lost.
/// </summary>
public sealed partial class StageWorker
{
    private readonly object _roundGate = new();
    /// <summary>Without overlap: the fast weights the open round was begun with.</summary>
    private float[]? _begun;

    /// <summary>What this stage's rounds put on the wire (fixed for the run by the options and the chain).</summary>
    public Payload Payload => _engine.Payload;

    /// <summary>The largest update blob of <paramref name="kind"/> a replica of this stage can send (checked from the header).</summary>
    public long UpdateBytesMax(Payload kind) => ChainUpdateCodec.BlobBytesMax(_flat, kind);

    /// <summary>Opens the next round among <paramref name="live"/> (peer → the round it reports): the blob to send and to whom.</summary>
    public Outgoing BeginRound(IReadOnlyDictionary<string, long> live)
    {
        lock (_roundGate)
        {
            using var scope = NewDisposeScope();
            Tensor fast;
            lock (_gate)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                fast = _flat.Snapshot();
            }
            if (!_options.Rounds.Overlap) _begun = RoundEngine.Cpu(fast);
            return _engine.Begin(fast, live);
        }
    }

    /// <summary>A partner's update, decoded and checked by the engine; the verdict says whether it was kept.</summary>
    public UpdateAnswer OnUpdate(string from, long round, Payload payload, ReadOnlySpan<byte> blob)
    {
        lock (_roundGate)
        {
            if (_disposed) return new UpdateAnswer(UpdateVerdict.Ignored, "this stage worker has stopped");
            return _engine.OnUpdate(from, round, payload, blob);
        }
    }

    /// <summary>Closes what can close now; see <see cref="RoundEngine.OnTick"/>.</summary>
    public TickResult TickRound(IReadOnlyDictionary<string, long> live)
    {
        lock (_roundGate) return _engine.OnTick(live);
    }

    /// <summary>Takes the outer step of the closed round(s) and continues from the weights the engine hands back; returns what became of each exchange and the round skipped from when behind.</summary>
    public (IReadOnlyList<RoundOutcome> Outcomes, long? SkippedFrom) ApplyRound()
    {
        lock (_roundGate)
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var now = _flat.Snapshot();
            var result = _engine.Apply(now);
            using (result.Fast)
            {
                var next = _begun is { } begun ? result.Fast + (now - torch.tensor(begun)) : result.Fast;
                _flat.Assign(next);
            }
            _begun = null;
            return (result.Outcomes, result.SkippedFrom);
        }
    }
}
