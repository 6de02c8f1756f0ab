namespace Decentralized.Simulations.Training;

/// <summary>The outcome of one simulated training run.</summary>
public sealed record SimTrainingResult
{
    /// <summary>ddp, diloco or noloco.</summary>
    public required string Algorithm { get; init; }

    /// <summary>Codec chain of the outer exchange.</summary>
    public required string Codec { get; init; }

    /// <summary>Replicas.</summary>
    public required int Replicas { get; init; }

    /// <summary>Trained parameters per replica.</summary>
    public required long Parameters { get; init; }

    /// <summary>Tokens consumed by all replicas.</summary>
    public required long Tokens { get; init; }

    /// <summary>Validation loss before training.</summary>
    public required double InitialValidationLoss { get; init; }

    /// <summary>Validation loss at the end, averaged over replicas.</summary>
    public required double FinalValidationLoss { get; init; }

    /// <summary>Virtual time until the last replica finished.</summary>
    public required double SimSeconds { get; init; }

    /// <summary>Mean wire bytes sent per replica.</summary>
    public required long BytesSentPerReplica { get; init; }

    /// <summary>Bytes per replica scaled to the represented model size (what the timing assumed).</summary>
    public required double RepresentedBytesPerReplica { get; init; }

    /// <summary>Mean fraction of virtual time peers spent waiting on exchanges.</summary>
    public required double IdleFraction { get; init; }

    /// <summary>Mean relative L2 distance of the replicas' weights from their mean at the end.</summary>
    public required double ReplicaSpread { get; init; }

    /// <summary>Validation curve.</summary>
    public required IReadOnlyList<SimLossPoint> Curve { get; init; }

    /// <summary>Replica spread after each outer round of replica 0 (round, sim seconds, spread).</summary>
    public required IReadOnlyList<(long Round, double SimSeconds, double Spread)> SpreadCurve { get; init; }

    /// <summary>Per-peer accounting.</summary>
    public required IReadOnlyList<SimPeerReport> Peers { get; init; }

    /// <summary>The run's event log (virtual times only): two runs from one seed produce identical logs.</summary>
    public required IReadOnlyList<string> EventLog { get; init; }

    /// <summary>Membership changes that happened (virtual seconds, what, peer, live peers after).</summary>
    public IReadOnlyList<(double SimSeconds, string Kind, int Peer, int Live)> Churn { get; init; } = [];

    /// <summary>Final flat weights of each replica (for the replay test).</summary>
    public required IReadOnlyList<float[]> FinalWeights { get; init; }
}
