using System.Diagnostics;
using Decentralized.Node.Swarm;
using Decentralized.Protocol.Tcp;
using Microsoft.Extensions.Logging;

namespace Decentralized.Cli;

/// <summary>
/// The daemon's progress every few seconds: one line for people (step, loss, tokens/s, peers, bytes in/out, time to the
/// next sync) and the same as a <c>progress</c> JSON event on stdout, which <c>swarm local</c> shows live.
/// </summary>
public sealed class NodeProgress(SwarmPeer peer, Libp2pHost host, long tokensPerStep, ILogger log)
{
    private static readonly TimeSpan Every = TimeSpan.FromSeconds(3);
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly long _firstStep = peer.Trainer.Step;
    private TimeSpan _last = TimeSpan.Zero;
    private long _lastStep = peer.Trainer.Step;

    /// <summary>Tokens this process trained since it started, per second of its life (the end-of-run figure).</summary>
    public double TokensPerSecond => (peer.Trainer.Step - _firstStep) * (double)tokensPerStep / Math.Max(1e-9, _clock.Elapsed.TotalSeconds);

    /// <summary>Tokens this process trained since it started.</summary>
    public long Tokens => (peer.Trainer.Step - _firstStep) * tokensPerStep;

    public void MaybePrint()
    {
        var now = _clock.Elapsed;
        if (now - _last < Every) return;
        double seconds = (now - _last).TotalSeconds;
        long steps = peer.Trainer.Step - _lastStep;
        _last = now;
        _lastStep = peer.Trainer.Step;
        double perStep = steps > 0 ? seconds / steps : double.NaN;
        double rate = tokensPerStep / perStep;
        var (bytesIn, bytesOut) = NodeDaemon.Traffic(host);
        int left = peer.Options.InnerStepsPerRound - peer.StepsInRound;
        log.LogInformation("step {Step} round {Round}  loss {Loss}  {Rate:N0} tok/s  peers {Peers}  in {In} out {Out}  next sync in {Next}",
            peer.Trainer.Step, peer.Round, peer.Stats.LastLoss.ToString("F4"), rate, peer.Membership.LivePeers().Count,
            Units.Bytes(bytesIn), Units.Bytes(bytesOut), double.IsFinite(perStep) ? Units.Duration(TimeSpan.FromSeconds(perStep * left)) : "?");
        NodeDaemon.Emit(new
        {
            @event = "progress", step = peer.Trainer.Step, round = peer.Round, loss = NodeDaemon.Finite(peer.Stats.LastLoss),
            tokens_per_second = double.IsFinite(rate) ? Math.Round(rate) : (double?)null, bytes_in = bytesIn, bytes_out = bytesOut,
        });
    }
}
