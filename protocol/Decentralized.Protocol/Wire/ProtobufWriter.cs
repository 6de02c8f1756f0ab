using System.Buffers;
using System.Text;

namespace Decentralized.Protocol.Wire;

/// <summary>
/// Minimal protobuf encoder for the handful of libp2p messages. Fields are written in the order the caller
/// writes them, with minimal varints, which is what libp2p's deterministic encoding requires.
/// <code>
///   field = uvarint((number &lt;&lt; 3) | wireType) ‖ value
///   value = uvarint                          (wire type 0)
///         | uvarint(length) ‖ bytes          (wire type 2)
/// </code>
/// </summary>
public sealed class ProtobufWriter
{
    private readonly ArrayBufferWriter<byte> _buffer;

    /// <summary>Creates a writer with an initial capacity hint.</summary>
    public ProtobufWriter(int initialCapacity = 128)
    {
        _buffer = new ArrayBufferWriter<byte>(initialCapacity);
    }

    /// <summary>Bytes written so far.</summary>
    public int Length => _buffer.WrittenCount;

    /// <summary>The encoded message so far (valid until the next write).</summary>
    public ReadOnlySpan<byte> WrittenSpan => _buffer.WrittenSpan;

    /// <summary>Writes a varint field.</summary>
    public ProtobufWriter WriteVarint(int field, ulong value)
    {
        WriteTag(field, ProtobufWireType.Varint);
        WriteRawVarint(value);
        return this;
    }

    /// <summary>Writes a length-delimited bytes field.</summary>
    public ProtobufWriter WriteBytes(int field, ReadOnlySpan<byte> value)
    {
        WriteTag(field, ProtobufWireType.LengthDelimited);
        WriteRawVarint((ulong)value.Length);
        value.CopyTo(_buffer.GetSpan(value.Length));
        _buffer.Advance(value.Length);
        return this;
    }

    /// <summary>Writes a UTF-8 string field.</summary>
    public ProtobufWriter WriteString(int field, string value)
    {
        var count = Encoding.UTF8.GetByteCount(value);
        WriteTag(field, ProtobufWireType.LengthDelimited);
        WriteRawVarint((ulong)count);
        Encoding.UTF8.GetBytes(value, _buffer.GetSpan(count));
        _buffer.Advance(count);
        return this;
    }

    /// <summary>Copies the encoded message into a new array.</summary>
    public byte[] ToArray() => _buffer.WrittenSpan.ToArray();

    private void WriteTag(int field, ProtobufWireType wireType)
    {
        WriteRawVarint(((ulong)field << 3) | (ulong)wireType);
    }

    private void WriteRawVarint(ulong value)
    {
        var written = Varint.Write(_buffer.GetSpan(Varint.MaxProtobufBytes), value);
        _buffer.Advance(written);
    }
}
