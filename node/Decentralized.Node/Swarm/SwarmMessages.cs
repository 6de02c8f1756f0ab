using Decentralized.Node.Rounds;
using MessagePack;

namespace Decentralized.Node.Swarm;

// Control messages of the swarm protocols. Each travels as one uvarint-length-prefixed MessagePack
// object (bounded by SwarmLimits.ControlMessageBytesMax, deserialised with UntrustedData security);
// bulk tensors follow a header as raw bytes of a length the header states and the receiver bounds.

/// <summary>First message of the connection gate: who we are and what we train.</summary>
[MessagePackObject]
public sealed record HelloMessage(
    [property: Key(0)] string SoftwareVersion,
    [property: Key(1)] int ProtocolVersion,
    [property: Key(2)] string SwarmId,
    [property: Key(3)] string ConfigHash,
    [property: Key(4)] byte[] Nonce,
    [property: Key(5)] Dictionary<string, string>? Settings = null);

/// <summary>Second gate message: HMAC-SHA256 under the swarm key over both peer ids and the other side's nonce.</summary>
[MessagePackObject]
public sealed record ProofMessage([property: Key(0)] byte[] Mac);

/// <summary>Last gate message: null if this side accepts the connection, else why it refuses.</summary>
[MessagePackObject]
public sealed record VerdictMessage([property: Key(0)] string? Refusal);

/// <summary>A peer and where to reach it, as gossiped in heartbeats.</summary>
[MessagePackObject]
public sealed record PeerRecord([property: Key(0)] byte[] PeerId, [property: Key(1)] byte[][] Addresses);

/// <summary>Liveness plus peer-list gossip, sent both ways on each heartbeat stream.</summary>
[MessagePackObject]
public sealed record HeartbeatMessage(
    [property: Key(0)] long Round,
    [property: Key(1)] long Step,
    [property: Key(2)] PeerRecord[] Peers);

/// <summary>
/// A joiner's request on a state stream: <c>Chunk = -1</c> asks for the manifest of the donor's current state,
/// otherwise chunk <c>Chunk</c> of the state of round <c>Round</c>. Several requests follow each other on one stream.
/// </summary>
[MessagePackObject]
public sealed record StateRequest([property: Key(0)] long Round, [property: Key(1)] int Chunk);

/// <summary>
/// What a donor's training state is: its round, config hash, how many float32 values (φ then the outer momentum),
/// the chunk size and a SHA-256 per chunk. A busy donor fills only <c>Refusal</c>.
/// </summary>
[MessagePackObject]
public sealed record StateManifest(
    [property: Key(0)] long Round,
    [property: Key(1)] string ConfigHash,
    [property: Key(2)] long Values,
    [property: Key(3)] int ChunkBytes,
    [property: Key(4)] byte[][] ChunkHashes,
    [property: Key(5)] string? Refusal);

/// <summary>Precedes the raw bytes of one chunk (or refuses it: the donor no longer holds that round).</summary>
[MessagePackObject]
public sealed record StateChunkHeader(
    [property: Key(0)] long Round,
    [property: Key(1)] int Chunk,
    [property: Key(2)] int Bytes,
    [property: Key(3)] string? Refusal);

/// <summary>Precedes an encoded update blob on an outer-round stream.</summary>
[MessagePackObject]
public sealed record UpdateHeader(
    [property: Key(0)] long Round,
    [property: Key(1)] Payload Kind,
    [property: Key(2)] long BlobBytes);
