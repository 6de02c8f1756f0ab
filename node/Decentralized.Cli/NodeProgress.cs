using System.Diagnostics;
using Decentralized.Node.Swarm;
using Decentralized.Protocol.Tcp;
using Microsoft.Extensions.Logging;

namespace Decentralized.Cli;

/// <summary>The daemon's progress line for people: step, loss, tokens/s, peers, bytes in/out, time to the next sync.</summary>
public sealed class NodeProgress(SwarmPeer peer, Libp2pHost host, long tokensPerStep, ILogger log)
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private TimeSpan _last = TimeSpan.Zero;
    private long _lastStep = peer.Trainer.Step;

    public void MaybePrint()
    {
        var now = _clock.Elapsed;
        if (now - _last < TimeSpan.FromSeconds(5)) return;
        double seconds = (now - _last).TotalSeconds;
        long steps = peer.Trainer.Step - _lastStep;
        _last = now;
        _lastStep = peer.Trainer.Step;
        double perStep = steps > 0 ? seconds / steps : double.NaN;
        var (bytesIn, bytesOut) = NodeDaemon.Traffic(host);
        int left = peer.Options.InnerStepsPerRound - peer.StepsInRound;
        log.LogInformation("step {Step} round {Round}  loss {Loss:F4}  {Rate:N0} tok/s  peers {Peers}  in {In} out {Out}  next sync in {Next}",
            peer.Trainer.Step, peer.Round, peer.Stats.LastLoss, tokensPerStep / perStep, peer.Membership.LivePeers().Count,
            Units.Bytes(bytesIn), Units.Bytes(bytesOut), double.IsFinite(perStep) ? Units.Duration(TimeSpan.FromSeconds(perStep * left)) : "?");
    }
}
