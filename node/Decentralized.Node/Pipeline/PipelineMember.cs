using Decentralized.Protocol.Identity;

namespace Decentralized.Node.Pipeline;

/// <summary>What a peer last said about itself: its stage (−1 while joining), progress and CheckFree weight ω.</summary>
public sealed record PipelineMember(PeerId Peer, DateTimeOffset LastSeen, int Stage, long Steps, long Round, double GradNormWeight, bool Suspect);
