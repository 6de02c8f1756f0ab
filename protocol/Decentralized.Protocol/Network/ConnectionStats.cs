namespace Decentralized.Protocol.Network;

/// <summary>Traffic counters of the connection(s) to one peer.</summary>
/// <param name="BytesReceived">Bytes read from the wire (after encryption overhead, i.e. what the link carried).</param>
/// <param name="BytesSent">Bytes written to the wire.</param>
/// <param name="IsRelayed">True if traffic goes through a relay rather than a direct connection.</param>
/// <param name="RoundTripTime">Last measured round-trip time (muxer ping), if known.</param>
/// <param name="ConnectionCount">Open connections to the peer.</param>
/// <param name="RelayedBytes">Of the bytes received and sent, those that went through a relay (the rest went direct).</param>
public sealed record ConnectionStats(long BytesReceived, long BytesSent, bool IsRelayed, TimeSpan? RoundTripTime, int ConnectionCount = 1, long RelayedBytes = 0);
