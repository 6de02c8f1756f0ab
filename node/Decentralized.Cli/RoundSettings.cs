using System.CommandLine;
using Decentralized.Node.Outer;
using Decentralized.Node.Rounds;
using Decentralized.Node.Training;

namespace Decentralized.Cli;

/// <summary>
/// The options of <c>node run</c> that decide how NoLoCo's outer rounds learn and what they send, declared once for
/// <c>node run</c> (and <c>swarm local</c>'s check of it), <c>pipeline run</c> and <c>pipeline local</c>: one name, one
/// default and one meaning each, so a pipeline stage's replicas average as a swarm's members do.
/// </summary>
public sealed record RoundSettings(string Compress, string WeightsCompress, NoLoCoOptions NoLoCo, Payload? Payload, bool Overlap,
    double NormBound, TimeSpan RoundTimeout)
{
    /// <summary>Adds the round options to <paramref name="c"/> and returns their reader.</summary>
    public static Func<ParseResult, RoundSettings> Declare(Command c)
    {
        var compress = c.Add("compress", "Codec chain for updates (fp32, int8, q4+ef, q4:bf16+ef+ans, ...).", "fp32");
        var weightsCompress = c.Add("weights-compress", "NoLoCo over a lossy --compress: chain for the fast weights, sent as offsets from the swarm's initial weights.", WeightsChain.Default);
        var roundTimeout = c.Add("round-timeout", "Seconds to wait for partners in a round.", 30.0);
        var overlap = c.Add("overlap", "Run each exchange during the next H steps (one-step-delayed outer update).", false);
        // The learning options below carry train's names and defaults: a swarm trains as `decentralized train` measured.
        var groupSize = c.Add("group-size", "NoLoCo exchange group size.", 2);
        var alpha = c.Add("noloco-alpha", "NoLoCo momentum decay alpha.", 0.5);
        var beta = c.Add("noloco-beta", "NoLoCo pseudo-gradient weight beta.", 0.7);
        var gamma = c.AddOptional<double?>("noloco-gamma", "NoLoCo pull towards the group's weights (default: beta).");
        var form = c.Add("noloco-form", "NoLoCo momentum form: heavyball (the paper's) | nesterov.", "heavyball");
        var payload = c.AddOptional<string>("noloco-payload", "fast (θ only) | delta+slow | anchored (θ minus the shared start weights, through --weights-compress); default: fast for lossless chains, else anchored (delta+slow when gamma differs from beta).");
        var normBound = c.Add("norm-bound", "Refuse updates whose norm exceeds this multiple of ours.", 10.0);
        return parse => new RoundSettings(parse.GetValue(compress)!, parse.GetValue(weightsCompress)!,
            new NoLoCoOptions(parse.GetValue(alpha), parse.GetValue(beta), parse.GetValue(gamma), parse.GetValue(groupSize),
                TrainCommand.ParseForm(parse.GetValue(form)!)),
            PayloadNames.Parse(parse.GetValue(payload)), parse.GetValue(overlap), parse.GetValue(normBound),
            NodeOptions.Seconds(parse.GetValue(roundTimeout), "round timeout"));
    }
}
