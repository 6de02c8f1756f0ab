using System.Text;

namespace Decentralized.Protocol.Wire;

/// <summary>
/// Forward-only protobuf decoder over a span. Every length is checked against the bytes that remain before any
/// slice is taken, so a hostile length can never allocate or read out of bounds. Unknown fields are skipped.
/// </summary>
public ref struct ProtobufReader
{
    private readonly ReadOnlySpan<byte> _data;
    private int _position;

    /// <summary>Starts reading <paramref name="data"/> from its first byte.</summary>
    public ProtobufReader(ReadOnlySpan<byte> data)
    {
        _data = data;
        _position = 0;
    }

    /// <summary>True when every byte has been consumed.</summary>
    public readonly bool IsAtEnd => _position >= _data.Length;

    /// <summary>Reads the next tag; returns false at the end of the message.</summary>
    public bool TryReadTag(out int field, out ProtobufWireType wireType)
    {
        field = 0;
        wireType = default;
        if (IsAtEnd)
        {
            return false;
        }
        var tag = ReadRawVarint();
        var number = tag >> 3;
        if (number == 0 || number > int.MaxValue)
        {
            throw new ProtocolException(ProtocolErrorCode.InvalidProtobuf, $"invalid field number {number}");
        }
        field = (int)number;
        wireType = (ProtobufWireType)(tag & 7);
        if (wireType is not (ProtobufWireType.Varint or ProtobufWireType.Fixed64
            or ProtobufWireType.LengthDelimited or ProtobufWireType.Fixed32))
        {
            throw new ProtocolException(ProtocolErrorCode.InvalidProtobuf, $"unsupported wire type {(int)wireType}");
        }
        return true;
    }

    /// <summary>Reads a varint value (the caller checked the wire type).</summary>
    public ulong ReadVarint() => ReadRawVarint();

    /// <summary>Reads a length-delimited value as a slice of the input (no copy).</summary>
    public ReadOnlySpan<byte> ReadBytes()
    {
        var length = ReadRawVarint();
        if (length > (ulong)(_data.Length - _position))
        {
            throw new ProtocolException(ProtocolErrorCode.InvalidProtobuf,
                $"field length {length} exceeds the {_data.Length - _position} bytes left");
        }
        var slice = _data.Slice(_position, (int)length);
        _position += (int)length;
        return slice;
    }

    /// <summary>Reads a length-delimited UTF-8 string; invalid UTF-8 is refused.</summary>
    public string ReadString()
    {
        var bytes = ReadBytes();
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            throw new ProtocolException(ProtocolErrorCode.InvalidProtobuf, "string field is not valid UTF-8", e);
        }
    }

    /// <summary>Skips a field of the given wire type.</summary>
    public void Skip(ProtobufWireType wireType)
    {
        switch (wireType)
        {
            case ProtobufWireType.Varint:
                ReadRawVarint();
                break;
            case ProtobufWireType.LengthDelimited:
                ReadBytes();
                break;
            case ProtobufWireType.Fixed64:
                Advance(8);
                break;
            case ProtobufWireType.Fixed32:
                Advance(4);
                break;
            default:
                throw new ProtocolException(ProtocolErrorCode.InvalidProtobuf, $"cannot skip wire type {(int)wireType}");
        }
    }

    /// <summary>Throws unless the wire type is the expected one (a type confusion would misparse the rest).</summary>
    public static void Expect(ProtobufWireType actual, ProtobufWireType expected, int field)
    {
        if (actual != expected)
        {
            throw new ProtocolException(ProtocolErrorCode.InvalidProtobuf,
                $"field {field} has wire type {actual}, expected {expected}");
        }
    }

    internal static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private void Advance(int count)
    {
        if (count > _data.Length - _position)
        {
            throw new ProtocolException(ProtocolErrorCode.InvalidProtobuf, "fixed-size field is truncated");
        }
        _position += count;
    }

    private ulong ReadRawVarint()
    {
        if (!Varint.TryReadProtobuf(_data[_position..], out var value, out var read))
        {
            throw new ProtocolException(ProtocolErrorCode.InvalidProtobuf, "truncated varint");
        }
        _position += read;
        return value;
    }
}
