using System.Buffers.Binary;
using System.Text;
using Decentralized.Protocol.Identity;

namespace Decentralized.Protocol.Noise;

/// <summary>
/// Runs the libp2p Noise handshake (<c>/noise</c>) over a raw stream: three 2-byte-framed XX messages, the identity
/// payloads in B and C, signature and peer-ID checks, then wraps the stream in <see cref="NoiseSecureStream"/>.
/// The initiator checks the responder's identity before revealing its own in message C.
/// </summary>
public static class NoiseHandshake
{
    /// <summary>The multistream protocol ID of Noise.</summary>
    public const string ProtocolId = "/noise";

    /// <summary>
    /// Performs the handshake. <paramref name="expectedRemote"/> (initiator only) makes a different remote key fail with
    /// <see cref="ProtocolErrorCode.PeerIdMismatch"/>. <paramref name="localMuxers"/> go into the early-muxer extension.
    /// </summary>
    public static async Task<NoiseResult> RunAsync(Stream transport, PrivateKey identity, bool isInitiator,
        PeerId? expectedRemote, IReadOnlyList<string> localMuxers, CancellationToken ct)
    {
        var staticKey = NoiseHandshakeState.GenerateStaticKey();
        using var state = new NoiseHandshakeState(isInitiator, staticKey);
        var localPayload = BuildPayload(identity, state.LocalStaticPublicKey, localMuxers);
        NoiseHandshakePayload remotePayload;
        PublicKey remoteKey;
        if (isInitiator)
        {
            await WriteFrameAsync(transport, state.WriteMessage([]), ct).ConfigureAwait(false);
            remotePayload = NoiseHandshakePayload.Decode(state.ReadMessage(await ReadFrameAsync(transport, ct).ConfigureAwait(false)));
            remoteKey = VerifyRemote(remotePayload, state.RemoteStaticPublicKey, expectedRemote);
            await WriteFrameAsync(transport, state.WriteMessage(localPayload), ct).ConfigureAwait(false);
        }
        else
        {
            var first = state.ReadMessage(await ReadFrameAsync(transport, ct).ConfigureAwait(false));
            if (first.Length != 0)
            {
                throw new ProtocolException(ProtocolErrorCode.HandshakeFailed, "libp2p Noise message A must carry no payload");
            }
            await WriteFrameAsync(transport, state.WriteMessage(localPayload), ct).ConfigureAwait(false);
            remotePayload = NoiseHandshakePayload.Decode(state.ReadMessage(await ReadFrameAsync(transport, ct).ConfigureAwait(false)));
            remoteKey = VerifyRemote(remotePayload, state.RemoteStaticPublicKey, expectedRemote);
        }
        var (send, receive) = state.Split();
        var secure = new NoiseSecureStream(transport, send, receive);
        return new NoiseResult(remoteKey.ToPeerId(), remoteKey, secure, remotePayload.StreamMuxers);
    }

    /// <summary>Builds our payload: identity key, signature over the static key, and muxer list.</summary>
    public static byte[] BuildPayload(PrivateKey identity, ReadOnlySpan<byte> staticPublicKey, IReadOnlyList<string> muxers)
    {
        var signature = identity.Sign(SignedMessage(staticPublicKey));
        return new NoiseHandshakePayload(identity.PublicKey.ToProtobuf(), signature, muxers).Encode();
    }

    /// <summary>The bytes the identity signature covers: <c>"noise-libp2p-static-key:" ‖ static key</c>.</summary>
    public static byte[] SignedMessage(ReadOnlySpan<byte> staticPublicKey)
    {
        var prefix = Encoding.ASCII.GetBytes(NoiseHandshakePayload.SignaturePrefix);
        var message = new byte[prefix.Length + staticPublicKey.Length];
        prefix.CopyTo(message, 0);
        staticPublicKey.CopyTo(message.AsSpan(prefix.Length));
        return message;
    }

    private static PublicKey VerifyRemote(NoiseHandshakePayload payload, ReadOnlySpan<byte> remoteStatic, PeerId? expected)
    {
        PublicKey key;
        try
        {
            key = PublicKey.FromProtobuf(payload.IdentityKey);
        }
        catch (ProtocolException e)
        {
            throw new ProtocolException(ProtocolErrorCode.HandshakeFailed, "remote identity key is invalid", e);
        }
        if (!key.Verify(SignedMessage(remoteStatic), payload.IdentitySignature))
        {
            throw new ProtocolException(ProtocolErrorCode.InvalidSignature, "remote identity signature over its Noise static key does not verify");
        }
        var peer = key.ToPeerId();
        if (expected is not null && expected != peer)
        {
            throw new ProtocolException(ProtocolErrorCode.PeerIdMismatch, $"dialed {expected} but the remote is {peer}");
        }
        return key;
    }

    private static async Task WriteFrameAsync(Stream transport, byte[] message, CancellationToken ct)
    {
        var frame = new byte[2 + message.Length];
        BinaryPrimitives.WriteUInt16BigEndian(frame, (ushort)message.Length);
        message.CopyTo(frame, 2);
        await transport.WriteAsync(frame, ct).ConfigureAwait(false);
        await transport.FlushAsync(ct).ConfigureAwait(false);
    }

    private static async Task<byte[]> ReadFrameAsync(Stream transport, CancellationToken ct)
    {
        try
        {
            var header = new byte[2];
            await transport.ReadExactlyAsync(header, ct).ConfigureAwait(false);
            var message = new byte[BinaryPrimitives.ReadUInt16BigEndian(header)];
            await transport.ReadExactlyAsync(message, ct).ConfigureAwait(false);
            return message;
        }
        catch (EndOfStreamException e)
        {
            throw new ProtocolException(ProtocolErrorCode.UnexpectedEndOfStream, "stream ended during the Noise handshake", e);
        }
    }
}
