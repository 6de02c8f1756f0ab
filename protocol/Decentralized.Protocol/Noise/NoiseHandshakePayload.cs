using Decentralized.Protocol.Wire;

namespace Decentralized.Protocol.Noise;

/// <summary>
/// The libp2p Noise handshake payload (sent in messages B and C).
/// <code>
///   NoiseHandshakePayload { optional bytes identity_key = 1; optional bytes identity_sig = 2;
///                           optional NoiseExtensions extensions = 4; }
///   NoiseExtensions       { repeated bytes webtransport_certhashes = 1; repeated string stream_muxers = 2; }
///   0a 24 &lt;PublicKey 36B&gt; 12 40 &lt;sig 64B&gt; 22 0e 12 0c "/yamux/1.0.0"
/// </code>
/// </summary>
public sealed record NoiseHandshakePayload(byte[] IdentityKey, byte[] IdentitySignature, IReadOnlyList<string> StreamMuxers)
{
    /// <summary>Most muxer names read from a payload.</summary>
    public const int MaxStreamMuxers = 16;

    /// <summary>The prefix of the signed message: the signature covers this ‖ the X25519 static public key.</summary>
    public const string SignaturePrefix = "noise-libp2p-static-key:";

    /// <summary>Encodes the payload.</summary>
    public byte[] Encode()
    {
        var writer = new ProtobufWriter().WriteBytes(1, IdentityKey).WriteBytes(2, IdentitySignature);
        if (StreamMuxers.Count > 0)
        {
            var extensions = new ProtobufWriter();
            foreach (var muxer in StreamMuxers)
            {
                extensions.WriteString(2, muxer);
            }
            writer.WriteBytes(4, extensions.WrittenSpan);
        }
        return writer.ToArray();
    }

    /// <summary>Decodes a payload; missing key or signature is refused.</summary>
    public static NoiseHandshakePayload Decode(ReadOnlySpan<byte> data)
    {
        var reader = new ProtobufReader(data);
        byte[]? key = null;
        byte[]? signature = null;
        var muxers = new List<string>();
        try
        {
            while (reader.TryReadTag(out var field, out var wire))
            {
                switch (field)
                {
                    case 1:
                        ProtobufReader.Expect(wire, ProtobufWireType.LengthDelimited, field);
                        key = reader.ReadBytes().ToArray();
                        break;
                    case 2:
                        ProtobufReader.Expect(wire, ProtobufWireType.LengthDelimited, field);
                        signature = reader.ReadBytes().ToArray();
                        break;
                    case 4:
                        ProtobufReader.Expect(wire, ProtobufWireType.LengthDelimited, field);
                        DecodeExtensions(reader.ReadBytes(), muxers);
                        break;
                    default:
                        reader.Skip(wire);
                        break;
                }
            }
        }
        catch (ProtocolException e) when (e.Code == ProtocolErrorCode.InvalidProtobuf)
        {
            throw new ProtocolException(ProtocolErrorCode.HandshakeFailed, "malformed Noise handshake payload", e);
        }
        if (key is null || signature is null)
        {
            throw new ProtocolException(ProtocolErrorCode.HandshakeFailed, "Noise handshake payload lacks identity key or signature");
        }
        return new NoiseHandshakePayload(key, signature, muxers);
    }

    private static void DecodeExtensions(ReadOnlySpan<byte> data, List<string> muxers)
    {
        var reader = new ProtobufReader(data);
        while (reader.TryReadTag(out var field, out var wire))
        {
            if (field == 2 && wire == ProtobufWireType.LengthDelimited)
            {
                var muxer = reader.ReadString();
                if (muxers.Count >= MaxStreamMuxers)
                {
                    throw new ProtocolException(ProtocolErrorCode.HandshakeFailed, "too many stream muxers in Noise extensions");
                }
                muxers.Add(muxer);
            }
            else
            {
                reader.Skip(wire);
            }
        }
    }
}
