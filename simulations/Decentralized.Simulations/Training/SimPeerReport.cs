namespace Decentralized.Simulations.Training;

/// <summary>Per-peer accounting of a simulated run.</summary>
/// <param name="Peer">Replica index.</param>
/// <param name="Gpu">GPU class drawn by the compute model.</param>
/// <param name="ComputeSeconds">Virtual time spent in inner steps.</param>
/// <param name="IdleSeconds">Virtual time spent waiting for exchanges (communication and stragglers).</param>
/// <param name="BytesSent">Wire bytes the peer sent (real bytes of the trained model, framing included).</param>
/// <param name="Rounds">Outer rounds completed.</param>
public sealed record SimPeerReport(int Peer, string Gpu, double ComputeSeconds, double IdleSeconds, long BytesSent, long Rounds);
