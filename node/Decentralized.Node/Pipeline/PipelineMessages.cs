using MessagePack;

namespace Decentralized.Node.Pipeline;

// Messages of the pipeline protocols. Each control message travels as one uvarint-length-prefixed MessagePack
// object (at most PipelineOptions.ControlBytesMax, read with UntrustedData security); tensors follow as one
// length-prefixed payload whose exact length the receiver computes from the validated header first.
//
//   hop stream:      → HopRequest, payload (activations, B·T·C)   ← HopResponse, payload (input gradient, B·T·C)
//   weights stream:  → WeightsRequest                              ← WeightsResponse, payload (float32 values)
//   outer stream:    → OuterMessage, payload (the round engine's update blob, exactly BlobBytes)
//   hello stream:    → PipelineHello                               ← PipelineHello

/// <summary>A peer and where it listens, as gossiped in hellos.</summary>
[MessagePackObject]
public sealed record PipelinePeerRecord([property: Key(0)] byte[] PeerId, [property: Key(1)] byte[][] Addresses);

/// <summary>Liveness, the stage a peer serves (−1 while joining) and its progress; both sides send one per heartbeat.</summary>
[MessagePackObject]
public sealed record PipelineHello(
    [property: Key(0)] string ConfigHash,
    [property: Key(1)] int Stage,
    [property: Key(2)] long Steps,
    [property: Key(3)] long Round,
    [property: Key(4)] double GradNormWeight,
    [property: Key(5)] PipelinePeerRecord[] Peers);

/// <summary>
/// One hop of a microbatch. The route is not sent: the receiver derives it from (microbatch, swapped) like the
/// sender did, and refuses a hop that is not its stage's. Targets (B·T token ids) ride along for the head.
/// </summary>
[MessagePackObject]
public sealed record HopRequest(
    [property: Key(0)] long Microbatch,
    [property: Key(1)] bool Swapped,
    [property: Key(2)] int Hop,
    [property: Key(3)] int Batch,
    [property: Key(4)] int Time,
    [property: Key(5)] ActivationCodecKind Codec,
    [property: Key(6)] long[] Targets);

/// <summary>The answer to a hop: the microbatch's loss and, when <see cref="Ok"/>, the input gradient follows.</summary>
[MessagePackObject]
public sealed record HopResponse(
    [property: Key(0)] bool Ok,
    [property: Key(1)] string? Error,
    [property: Key(2)] double Loss,
    [property: Key(3)] ActivationCodecKind Codec);

/// <summary>Asks a replica of <see cref="Stage"/> for one weight part (recovery, joining, CheckFree+ copies).</summary>
[MessagePackObject]
public sealed record WeightsRequest([property: Key(0)] int Stage, [property: Key(1)] WeightPart Part);

/// <summary>Answer to a weights request; <see cref="Values"/> float32 values follow when <see cref="Ok"/>.</summary>
[MessagePackObject]
public sealed record WeightsResponse(
    [property: Key(0)] bool Ok,
    [property: Key(1)] string? Error,
    [property: Key(2)] long Values,
    [property: Key(3)] double GradNormWeight,
    [property: Key(4)] long Round);

/// <summary>A replica's outer update for round <see cref="Round"/> of its stage; the engine's blob of <see cref="BlobBytes"/> follows.</summary>
[MessagePackObject]
public sealed record OuterMessage(
    [property: Key(0)] int Stage,
    [property: Key(1)] long Round,
    [property: Key(2)] Rounds.Payload Payload,
    [property: Key(3)] long BlobBytes);
