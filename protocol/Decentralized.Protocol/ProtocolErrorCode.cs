namespace Decentralized.Protocol;

/// <summary>Why a peer's bytes (or a peer's behaviour) were refused. Stable: logged and asserted in tests.</summary>
public enum ProtocolErrorCode
{
    /// <summary>A uvarint was truncated, longer than allowed, or not minimally encoded.</summary>
    InvalidVarint = 1,
    /// <summary>A protobuf message was truncated, had a bad wire type, or a required field was missing.</summary>
    InvalidProtobuf,
    /// <summary>A key was malformed, of an unsupported type, or its two public copies disagreed.</summary>
    InvalidKey,
    /// <summary>A signature did not verify.</summary>
    InvalidSignature,
    /// <summary>A peer ID string or multihash could not be decoded.</summary>
    InvalidPeerId,
    /// <summary>A multiaddr (text or binary) could not be decoded.</summary>
    InvalidMultiaddr,
    /// <summary>A length prefix announced more bytes than the configured limit; nothing was allocated for it.</summary>
    MessageTooLarge,
    /// <summary>The stream ended in the middle of a message or frame.</summary>
    UnexpectedEndOfStream,
    /// <summary>multistream-select saw an unexpected message or ran out of proposals.</summary>
    NegotiationFailed,
    /// <summary>The peer does not support the protocol we asked for.</summary>
    ProtocolNotSupported,
    /// <summary>The Noise handshake failed (bad message, bad payload, bad DH result).</summary>
    HandshakeFailed,
    /// <summary>An encrypted frame failed authentication.</summary>
    DecryptionFailed,
    /// <summary>The remote's key does not match the peer ID we dialed.</summary>
    PeerIdMismatch,
    /// <summary>A Yamux frame broke the protocol (bad version/type/flags, stream ID parity, duplicate SYN...).</summary>
    MuxerProtocolError,
    /// <summary>The peer sent more data than the receive window allowed.</summary>
    FlowControlViolation,
    /// <summary>A stream limit (per connection or per protocol) was reached.</summary>
    StreamLimitExceeded,
    /// <summary>A connection limit (total or per peer) was reached.</summary>
    ConnectionLimitExceeded,
    /// <summary>The peer did not answer in time (handshake, negotiation, keepalive).</summary>
    Timeout,
    /// <summary>The stream was reset by the peer or by the local side.</summary>
    StreamReset,
    /// <summary>The connection or session is closed.</summary>
    ConnectionClosed,
    /// <summary>The peer sent GoAway, so no new streams may be opened.</summary>
    GoAwayReceived,
    /// <summary>The post-handshake connection gate refused the peer.</summary>
    GateRejected,
    /// <summary>No usable address is known for the peer, or all dial attempts failed.</summary>
    DialFailed,
    /// <summary>The peer is flooding control messages (pings, resets) faster than it reads our answers.</summary>
    ResourceExhausted,
}
