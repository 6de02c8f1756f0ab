using System.Globalization;

namespace Decentralized.Soak;

/// <summary>
/// What one soak run does. Defaults are the 60-minute run of issue 10; shorten <see cref="Minutes"/> (and the churn
/// intervals with it) for a quick check. Unknown options are refused.
/// </summary>
public sealed record SoakOptions
{
    /// <summary>Length of the run. The verdict judges the second half of each long-lived process, so give it at least a few minutes.</summary>
    public double Minutes { get; init; } = 60;

    /// <summary>Core peers kept running (peer0 is never killed: it is the long-lived witness and the bootstrap address).</summary>
    public int Peers { get; init; } = 4;

    /// <summary>Every this many minutes one of peer1..peerN-1 (in turn) is killed with SIGKILL and restarted from its checkpoint.</summary>
    public double KillMinutes { get; init; } = 3;

    /// <summary>Every this many minutes a fresh joiner arrives; it fetches the swarm's state, trains, then leaves (SIGTERM).</summary>
    public double JoinMinutes { get; init; } = 5;

    /// <summary>How long a joiner stays before it leaves.</summary>
    public double JoinerStayMinutes { get; init; } = 2;

    /// <summary>Seconds between samples of every process.</summary>
    public double SampleSeconds { get; init; } = 5;

    /// <summary>The `decentralized` entry assembly (decentralized.dll) the peers run.</summary>
    public string Node { get; init; } = "";

    /// <summary>Where soak.csv, soak.png, summary.txt and the peers' folders and logs go.</summary>
    public string Output { get; init; } = "soak-out";

    /// <summary>Parses --name value pairs; refuses unknown names and bad numbers with a one-line reason.</summary>
    public static SoakOptions Parse(IReadOnlyList<string> args)
    {
        var o = new SoakOptions();
        for (int i = 0; i < args.Count; i += 2)
        {
            if (i + 1 >= args.Count) throw new ArgumentException($"{args[i]} needs a value");
            string v = args[i + 1];
            o = args[i] switch
            {
                "--minutes" => o with { Minutes = Positive(args[i], v) },
                "--peers" => o with { Peers = (int)Positive(args[i], v) },
                "--kill-minutes" => o with { KillMinutes = Positive(args[i], v) },
                "--join-minutes" => o with { JoinMinutes = Positive(args[i], v) },
                "--joiner-stay-minutes" => o with { JoinerStayMinutes = Positive(args[i], v) },
                "--sample-seconds" => o with { SampleSeconds = Positive(args[i], v) },
                "--node" => o with { Node = v },
                "--out" => o with { Output = v },
                _ => throw new ArgumentException($"unknown option {args[i]} (known: --minutes --peers --kill-minutes --join-minutes --joiner-stay-minutes --sample-seconds --node --out)"),
            };
        }
        if (o.Peers < 2) throw new ArgumentException("--peers must be at least 2 (peer0 stays, the others are killed in turn)");
        if (!File.Exists(o.Node)) throw new ArgumentException($"--node must name decentralized.dll (got '{o.Node}')");
        return o;
    }

    private static double Positive(string name, string text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && v > 0 && double.IsFinite(v)
            ? v : throw new ArgumentException($"{name} must be a positive number (got '{text}')");
}
