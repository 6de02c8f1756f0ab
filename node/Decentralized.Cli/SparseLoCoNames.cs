using System.CommandLine;
using Decentralized.Kernels;
using Decentralized.Node.Outer;

namespace Decentralized.Cli;

/// <summary>SparseLoCo's options (<c>--algorithm sparseloco</c>), declared once for <c>train</c>, <c>node run</c> and <c>swarm local</c>.</summary>
public static class SparseLoCoNames
{
    /// <summary>Adds the <c>--sparse-*</c> options to <paramref name="c"/> and returns their reader; defaults are Templar's production ones.</summary>
    public static Func<ParseResult, SparseLoCoOptions> Declare(Command c)
    {
        var defaults = new SparseLoCoOptions();
        var k = c.Add("sparse-k", "SparseLoCo: values kept per 64x64 tile (64 = 1.56%; 128 is the reference's sweep).", defaults.K);
        var beta = c.Add("sparse-beta", "SparseLoCo: decay of the error-feedback accumulator (it replaces the outer momentum).", defaults.Beta);
        var lr = c.Add("sparse-lr", "SparseLoCo: outer SGD learning rate alpha.", defaults.LearningRate);
        var positions = c.Add("sparse-positions", "SparseLoCo: in-tile positions as rice (coded gaps, ~7.6 bits) | 12bit (Templar's).", Positions(defaults.Positions));
        var mean = c.Add("sparse-mean", "SparseLoCo: divide each coordinate by its senders (the reference code) | replicas (1/R).", "senders");
        var clip = c.Add("sparse-clip", "SparseLoCo: clip received updates to the median norm: median | off.", "median");
        var group = c.Add("sparse-group-size", "SparseLoCo: 0 exchanges with every member (all-to-all); 2 or more with NoLoCo's random groups of that size (gossip).", defaults.GroupSize);
        return parse => new SparseLoCoOptions(parse.GetValue(k), parse.GetValue(beta), parse.GetValue(lr), ParsePositions(parse.GetValue(positions)!),
            SparseMeanNames.Parse(parse.GetValue(mean)!), ParseClip(parse.GetValue(clip)!), parse.GetValue(group)).Validate();
    }

    public static string Positions(SparseIndexCoding coding) => coding == SparseIndexCoding.Rice ? "rice" : "12bit";

    private static SparseIndexCoding ParsePositions(string text) => text.Trim().ToLowerInvariant() switch
    {
        "rice" => SparseIndexCoding.Rice,
        "12bit" or "12" => SparseIndexCoding.Fixed12,
        _ => throw new ArgumentException($"unknown --sparse-positions '{text}': use rice or 12bit"),
    };

    private static bool ParseClip(string text) => text.Trim().ToLowerInvariant() switch
    {
        "median" or "on" => true,
        "off" => false,
        _ => throw new ArgumentException($"unknown --sparse-clip '{text}': use median or off"),
    };
}
