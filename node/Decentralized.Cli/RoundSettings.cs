using System.CommandLine;
using Decentralized.Node.Outer;
using Decentralized.Node.Rounds;
using Decentralized.Node.Training;

namespace Decentralized.Cli;

/// <summary>
/// The options of an outer round: what it sends (the codec chains, NoLoCo's payload) and NoLoCo's step, and for the
/// commands that run over a network how long it waits and whom it refuses. Declared once for <c>train</c> (through
/// <see cref="LearningOptions"/>), <c>node run</c> and <c>swarm local</c>'s check of it, <c>pipeline run</c> and
/// <c>pipeline local</c>: one name, one default and one meaning each, so a pipeline stage's replicas average as a
/// swarm's members do and both as <c>train</c> measured.
/// </summary>
public sealed record RoundSettings(string Compress, string WeightsCompress, NoLoCoOptions NoLoCo, Payload? Payload, bool Overlap,
    double NormBound, TimeSpan RoundTimeout, VerifyOptions? Verify = null)
{
    /// <summary>Adds the round options to <paramref name="c"/> (with <paramref name="network"/> also the waiting and refusing ones) and returns their reader.</summary>
    /// <paramref name="compressDefault"/> derives <c>--compress</c> when it is not given (the outer methods' chain for
    /// <c>train</c> and the swarm, fp32 for DDP); without it the default is fp32 (the pipeline).
    /// <paramref name="nolocoBeta"/> is NoLoCo's β default: the paper's 0.7 for the pipeline, 1.0 (measured better here)
    /// for <c>train</c> and the swarm.
    public static Func<ParseResult, RoundSettings> Declare(Command c, bool network = true, Func<ParseResult, string>? compressDefault = null,
        double nolocoBeta = 0.7)
    {
        var compress = c.AddOptional<string>("compress", "Codec chain for what is exchanged (fp32, bf16, int8, q4+ef, q4:bf16+ef+ans, topk:0.01+ef+q8, ...). Default: "
            + (compressDefault is null ? $"{UpdateChain.Exact}." : $"{UpdateChain.Default} (8.6x fewer bytes than fp32, measured as good), {UpdateChain.Exact} for train's ddp baseline."));
        var weightsCompress = c.Add("weights-compress", "NoLoCo over a lossy --compress: chain for the fast weights, sent as offsets from the weights every member shared (the start or the warm-up's end).", WeightsChain.Default);
        var groupSize = c.Add("group-size", "NoLoCo exchange group size.", 2);
        var alpha = c.Add("noloco-alpha", "NoLoCo momentum decay alpha.", 0.5);
        var beta = c.Add("noloco-beta", "NoLoCo pseudo-gradient weight beta.", nolocoBeta);
        var gamma = c.AddOptional<double?>("noloco-gamma", "NoLoCo pull towards the group's weights (default: beta).");
        var form = c.Add("noloco-form", "NoLoCo momentum form: heavyball (the paper's) | nesterov.", "heavyball");
        var payload = c.AddOptional<string>("noloco-payload", "fast (θ only) | delta+slow | anchored (θ minus the shared start weights, through --weights-compress); default: fast for lossless chains, else anchored (delta+slow when gamma differs from beta).");
        Option<double>? roundTimeout = null, normBound = null, tolerance = null, clip = null, minShare = null;
        Option<bool>? overlap = null, downWeight = null;
        Option<string>? verify = null;
        if (network)
        {
            roundTimeout = c.Add("round-timeout", "Seconds to wait for partners in a round.", 30.0);
            overlap = c.Add("overlap", "Run each exchange during the next H steps (one-step-delayed outer update).", false);
            normBound = c.Add("norm-bound", "Refuse updates whose norm exceeds this multiple of ours.", 10.0);
            verify = c.Add("verify", "on | off: clip partners' updates to a multiple of the median norm, refuse echoes, replays and free riders, score each on a held-out batch and exclude partners that keep making it worse (docs/VERIFICATION.md).", "on");
            tolerance = c.Add("verify-tolerance", "A partner's update scoring below minus this (relative loss change on the held-out batch) is harmful; raise it if honest partners are dropped.", Defaults.Tolerance);
            minShare = c.Add("verify-min-share", "A partner's update must help the held-out batch at least this share of what our own update helps (when ours clearly helps); 0 turns that check off.", Defaults.MinShare);
            clip = c.Add("verify-clip", "Clip partners' updates to this multiple of the median of recent update norms (ours included).", Defaults.ClipMultiple);
            downWeight = c.Add("verify-downweight", "Down-weight a harmful update instead of dropping it.", false);
        }
        var defaults = new RoundOptions();
        return parse => new RoundSettings(parse.GetValue(compress) ?? compressDefault?.Invoke(parse) ?? UpdateChain.Exact, parse.GetValue(weightsCompress)!,
            new NoLoCoOptions(parse.GetValue(alpha), parse.GetValue(beta), parse.GetValue(gamma), parse.GetValue(groupSize),
                LearningOptions.ParseForm(parse.GetValue(form)!)),
            PayloadNames.Parse(parse.GetValue(payload)),
            overlap is not null && parse.GetValue(overlap),
            normBound is null ? defaults.UpdateNormBound : parse.GetValue(normBound),
            roundTimeout is null ? defaults.RoundTimeout : NodeOptions.Seconds(parse.GetValue(roundTimeout), "round timeout"),
            verify is null ? null : ParseVerify(parse.GetValue(verify)!, parse.GetValue(tolerance!), parse.GetValue(minShare!), parse.GetValue(clip!), parse.GetValue(downWeight!)));
    }

    private static readonly VerifyOptions Defaults = new();

    private static VerifyOptions? ParseVerify(string mode, double tolerance, double minShare, double clip, bool downWeight) => mode.Trim().ToLowerInvariant() switch
    {
        "on" => new VerifyOptions { Tolerance = tolerance, MinShare = minShare, ClipMultiple = clip, DownWeight = downWeight }.Validate(),
        "off" => null,
        _ => throw new ArgumentException($"--verify {mode}: use on or off"),
    };
}
