using System.Numerics;

namespace Decentralized.Kernels;

/// <summary>An LSB-first bit writer into a growing buffer (SparseLoCo's codes and positions).</summary>
internal sealed class SparseBitWriter(int capacity)
{
    private byte[] _bytes = new byte[Math.Max(16, capacity)];
    private int _length;
    private ulong _pending;
    private int _pendingBits;

    /// <summary>Writes the low <paramref name="count"/> bits of <paramref name="value"/> (count at most 32).</summary>
    public void Write(uint value, int count)
    {
        _pending |= (ulong)(value & (uint)((1UL << count) - 1)) << _pendingBits;
        _pendingBits += count;
        if (_pendingBits >= 32) Spill();
    }

    /// <summary>Writes <paramref name="ones"/> one bits and a terminating zero (Rice's quotient).</summary>
    public void WriteUnary(int ones)
    {
        for (; ones >= 31; ones -= 31) Write(uint.MaxValue >> 1, 31);
        Write((1u << ones) - 1, ones + 1);
    }

    /// <summary>Pads the last byte with zero bits and returns the bytes written since the last flush.</summary>
    public int Flush()
    {
        while (_pendingBits > 0)
        {
            Ensure(1);
            _bytes[_length++] = (byte)_pending;
            _pending >>= 8;
            _pendingBits = Math.Max(0, _pendingBits - 8);
        }

        return _length;
    }

    /// <summary>Appends whole bytes (the writer must be flushed).</summary>
    public Span<byte> Append(int count)
    {
        Ensure(count);
        var span = _bytes.AsSpan(_length, count);
        _length += count;
        return span;
    }

    public int Length => _length;

    /// <summary>Overwrites 4 bytes already written at <paramref name="at"/> (a length known only after what follows it).</summary>
    public void Patch(int at, uint value) => System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(_bytes.AsSpan(at), value);

    public byte[] ToArray() => _bytes.AsSpan(0, _length).ToArray();

    private void Spill()
    {
        Ensure(4);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(_bytes.AsSpan(_length), (uint)_pending);
        _length += 4;
        _pending >>= 32;
        _pendingBits -= 32;
    }

    private void Ensure(int more)
    {
        if (_length + more <= _bytes.Length) return;
        Array.Resize(ref _bytes, Math.Max(_bytes.Length * 2, _length + more));
    }
}

/// <summary>An LSB-first bit reader over untrusted bytes: reading past the end is a <see cref="CodecException"/>.</summary>
internal ref struct SparseBitReader(ReadOnlySpan<byte> bytes)
{
    private readonly ReadOnlySpan<byte> _bytes = bytes;
    private int _next;
    private ulong _buffer;
    private int _bits;

    /// <summary>Bits consumed so far.</summary>
    public readonly long Consumed => (long)_next * 8 - _bits;

    public uint Read(int count)
    {
        if (count == 0) return 0;
        if (_bits < count) Refill(count);
        uint value = (uint)(_buffer & ((1UL << count) - 1));
        _buffer >>= count;
        _bits -= count;
        return value;
    }

    /// <summary>Counts one bits up to the terminating zero, refusing more than <paramref name="max"/>.</summary>
    public int ReadUnary(int max)
    {
        int ones = 0;
        while (true)
        {
            if (_bits == 0) Refill(1);
            int run = Math.Min(BitOperations.TrailingZeroCount(~_buffer), _bits);
            ones += run;
            if (ones > max) throw new CodecException(CodecErrorCode.Malformed, $"a gap's quotient exceeds {max}");
            if (run < _bits)
            {
                _buffer >>= run + 1;
                _bits -= run + 1;
                return ones;
            }

            _buffer = 0;
            _bits = 0;
        }
    }

    /// <summary>True when only zero padding of the last byte is left.</summary>
    public readonly bool AtPaddedEnd => _next == _bytes.Length && _bits < 8 && _buffer == 0;

    private void Refill(int need)
    {
        while (_bits <= 48 && _next < _bytes.Length)
        {
            _buffer |= (ulong)_bytes[_next++] << _bits;
            _bits += 8;
        }

        if (_bits < need) throw new CodecException(CodecErrorCode.Truncated, "sparse positions end early");
    }
}
