namespace Decentralized.Cli;

/// <summary>Everything <c>pipeline run</c> needs, checked once at start (an impossible value stops it before it touches the network).</summary>
public sealed record PipelineSettings
{
    /// <summary>Pipeline stages S; every peer of the swarm must use the same value (the gate refuses others).</summary>
    public int Stages { get; init; } = 3;
    /// <summary>Stage to serve; null: the stage with the fewest live replicas when this peer joins.</summary>
    public int? Stage { get; init; }
    public int LayersPerStage { get; init; } = 1;
    public bool CheckFreePlus { get; init; }
    public string Codec { get; init; } = "bf16";
    /// <summary>The stage replicas' outer rounds (node run's options of the same names).</summary>
    public required RoundSettings Rounds { get; init; }
    /// <summary>Local AdamW steps between a stage's outer rounds (H; the gate refuses a peer with another).</summary>
    public int InnerSteps { get; init; } = PipelineDefaults.DefaultInnerSteps;
    public long Seed { get; init; } = 11;
    public IReadOnlyList<string> Listen { get; init; } = ["/ip4/0.0.0.0/tcp/4002"];
    public IReadOnlyList<string> Bootstrap { get; init; } = [];
    public string KeyFile { get; init; } = Path.Combine(NodeDefaults.Home, "pipeline.key");
    public string SwarmId { get; init; } = "default";
    public byte[] SwarmKey { get; init; } = [];
    public string Device { get; init; } = "auto";
    /// <summary>Stop after this long; zero: run until SIGINT/SIGTERM.</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.Zero;
    public TimeSpan Heartbeat { get; init; } = TimeSpan.FromMilliseconds(250);
    public TimeSpan PeerTimeout { get; init; } = TimeSpan.FromSeconds(2);
    /// <summary>Period of the <c>progress</c> event.</summary>
    public TimeSpan ProgressInterval { get; init; } = TimeSpan.FromSeconds(2);
    /// <summary>Driver losses averaged into the progress event's loss.</summary>
    public int LossWindow { get; init; } = 24;
    public int ShardCount { get; init; } = 64;
    /// <summary>Bytes of a gate message accepted from a peer (checked from the length prefix before reading).</summary>
    public int GateMessageBytesMax { get; init; } = 1 << 16;

    public PipelineSettings Validate()
    {
        if (Duration < TimeSpan.Zero) throw new ArgumentException("--seconds must be 0 (run until stopped) or positive");
        if (ProgressInterval <= TimeSpan.Zero) throw new ArgumentException("--progress-seconds must be positive");
        if (LossWindow < 1) throw new ArgumentException("--loss-window must be at least 1");
        if (ShardCount < 1) throw new ArgumentException("--shard-count must be at least 1");
        if (Listen.Count == 0) throw new ArgumentException("--listen needs at least one address");
        return this;
    }
}
