namespace Decentralized.Simulations.Scenarios;

/// <summary>
/// Options of <c>decentralized sim &lt;scenario&gt;</c>. Null means "the scenario's default" (printed in the run header).
/// Every value that shapes a run is printed first and recorded in <c>summary.json</c>, so a run replays from its seed.
/// </summary>
public sealed record SimulationRunOptions
{
    /// <summary>Seed of everything random in the run. Change it to see another draw; keep it to replay.</summary>
    public long Seed { get; init; } = 7;

    /// <summary>Folder for the CSV, PNG, report and summary files (default: <c>sim-&lt;scenario&gt;</c>).</summary>
    public string? OutputDirectory { get; init; }

    /// <summary>Number of peers (scenario default: 4 for training comparisons, 8 for heterogeneous, 64 for churn, 256 max for sync-scaling).</summary>
    public int? Peers { get; init; }

    /// <summary>A short version (seconds, not minutes): what the tests run.</summary>
    public bool Quick { get; init; }

    /// <summary>Inner steps per replica (training scenarios).</summary>
    public int? Steps { get; init; }

    /// <summary>H, inner steps per outer round.</summary>
    public int? InnerSteps { get; init; }

    /// <summary>One-way link latency in milliseconds.</summary>
    public double LatencyMs { get; init; } = 50;

    /// <summary>Mean extra per-message delay in milliseconds.</summary>
    public double JitterMs { get; init; } = 2;

    /// <summary>Each peer's uplink and downlink in Gbit/s.</summary>
    public double BandwidthGbps { get; init; } = 1;

    /// <summary>Packet loss probability (TCP: costs throughput and retransmission delays).</summary>
    public double LossRate { get; init; }

    /// <summary>Model size the network is timed for in training scenarios (link capacities scale by trained/represented).</summary>
    public long RepresentedParameters { get; init; } = 125_000_000;

    /// <summary>Virtual time of one inner step on the reference GPU, in milliseconds.</summary>
    public double StepTimeMs { get; init; } = 500;

    /// <summary>Codec chain of the convergence and churn runs' outer exchange.</summary>
    public string Codec { get; init; } = "fp32";

    /// <summary>Training corpus (file or folder); default: the embedded corpus.</summary>
    public string? CorpusPath { get; init; }

    /// <summary>sync-scaling: parameters of the synchronised model.</summary>
    public long PayloadParameters { get; init; } = 125_000_000;

    /// <summary>sync-scaling: bytes per parameter on the wire (1: int8, 2: bf16, 4: fp32).</summary>
    public int BytesPerParameter { get; init; } = 1;

    /// <summary>churn: graceful departures plus crashes per peer per hour of virtual time, low and high rate.</summary>
    public IReadOnlyList<double>? ChurnRates { get; init; }

    /// <summary>checkfree: decoder blocks per pipeline stage (the paper's stages hold several; more cost more time).</summary>
    public int LayersPerStage { get; init; } = 1;

    /// <summary>attacks: runs the table with this many consecutive seeds (from <see cref="Seed"/>) and reports the means.</summary>
    public int? Repeats { get; init; }

    /// <summary>attacks: the outer methods to attack (default diloco noloco sparseloco).</summary>
    public IReadOnlyList<string>? Algorithms { get; init; }

    /// <summary>attacks: the attacks to run (default every one of <c>--misbehave</c>'s attacks).</summary>
    public IReadOnlyList<string>? Attacks { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first impossible value.</summary>
    public SimulationRunOptions Validate()
    {
        if (Peers is < 1 or > 4096) throw new ArgumentException("--peers must be between 1 and 4096");
        if (Steps is < 1 or > 10_000_000) throw new ArgumentException("--steps must be between 1 and 10000000");
        if (InnerSteps is < 1 or > 1_000_000) throw new ArgumentException("--inner-steps must be between 1 and 1000000");
        if (LatencyMs is < 0 or > 60_000 || !double.IsFinite(LatencyMs)) throw new ArgumentException("--latency-ms must be between 0 and 60000");
        if (JitterMs is < 0 or > 60_000 || !double.IsFinite(JitterMs)) throw new ArgumentException("--jitter-ms must be between 0 and 60000");
        if (BandwidthGbps is < 1e-6 or > 10_000 || !double.IsFinite(BandwidthGbps)) throw new ArgumentException("--bandwidth-gbps must be between 1e-6 and 10000");
        if (LossRate is < 0 or >= 0.5 || !double.IsFinite(LossRate)) throw new ArgumentException("--loss must be in [0, 0.5)");
        if (RepresentedParameters < 0) throw new ArgumentException("--represented-params must be 0 or more");
        if (StepTimeMs is <= 0 or > 3_600_000 || !double.IsFinite(StepTimeMs)) throw new ArgumentException("--step-time-ms must be positive and at most an hour");
        if (PayloadParameters is < 1 or > 1_000_000_000_000) throw new ArgumentException("--payload-params must be between 1 and 1e12");
        if (BytesPerParameter is not (1 or 2 or 4)) throw new ArgumentException("--bytes-per-param must be 1, 2 or 4");
        if (ChurnRates is { } rates && (rates.Count == 0 || rates.Any(r => r < 0 || !double.IsFinite(r) || r > 1e6)))
            throw new ArgumentException("--churn-rates must be one or more rates between 0 and 1e6 per peer-hour");
        if (LayersPerStage is < 1 or > 16) throw new ArgumentException("--layers-per-stage must be between 1 and 16");
        if (Repeats is < 1 or > 100) throw new ArgumentException("--repeats must be between 1 and 100");
        // The method names are train's and node run's (AlgorithmNames, which refuses an unknown one); ddp has no rounds to attack.
        if (Algorithms is { } methods && (methods.Count == 0 || methods.Any(m => Node.Training.AlgorithmNames.Parse(m) == Node.Training.Algorithm.Ddp)))
            throw new ArgumentException("--algorithms must be one or more of diloco, noloco, sparseloco");
        if (Attacks is { } attacks && (attacks.Count == 0 || attacks.Any(a => !Node.Swarm.Misbehaviour.Attacks.Contains(a))))
            throw new ArgumentException($"--attacks must be one or more of {string.Join(", ", Node.Swarm.Misbehaviour.Attacks)}");
        _ = Kernels.CodecChain.Parse(Codec);
        return this;
    }
}
