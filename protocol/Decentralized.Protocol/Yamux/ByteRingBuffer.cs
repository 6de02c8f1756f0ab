namespace Decentralized.Protocol.Yamux;

/// <summary>
/// Growable ring buffer of received stream bytes. One producer (the session read loop) fills the free region without
/// the lock, while the consumer drains the filled region under the owner's lock; only the producer reallocates.
/// </summary>
internal sealed class ByteRingBuffer
{
    private const int MinCapacity = 4096;

    private byte[] _buffer = [];
    private int _head;
    private int _count;

    public int Count => _count;

    /// <summary>Grows (never shrinks) so that <paramref name="free"/> more bytes fit.</summary>
    public void EnsureFree(int free)
    {
        if (_buffer.Length - _count >= free)
        {
            return;
        }
        var capacity = Math.Max(MinCapacity, (int)Math.Min(int.MaxValue / 2 + 1, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)(_count + free))));
        // Not zeroed: only bytes the producer has written (count) are ever read, and zeroing megabytes per growth step
        // showed up in bulk-transfer profiles.
        var grown = GC.AllocateUninitializedArray<byte>(capacity);
        Read(grown.AsSpan(0, _count), consume: false);
        _buffer = grown;
        _head = 0;
    }

    /// <summary>The free region as up to two segments totalling <paramref name="length"/> bytes.</summary>
    public (Memory<byte> First, Memory<byte> Second) GetFree(int length)
    {
        var tail = (_head + _count) % Math.Max(1, _buffer.Length);
        var first = Math.Min(length, _buffer.Length - tail);
        return (_buffer.AsMemory(tail, first), _buffer.AsMemory(0, length - first));
    }

    public void Commit(int length) => _count += length;

    /// <summary>Copies up to destination.Length bytes out; returns how many.</summary>
    public int Read(Span<byte> destination, bool consume = true)
    {
        var total = Math.Min(destination.Length, _count);
        var first = Math.Min(total, _buffer.Length - _head);
        _buffer.AsSpan(_head, first).CopyTo(destination);
        _buffer.AsSpan(0, total - first).CopyTo(destination[first..]);
        if (consume)
        {
            // Never rewind head to 0 on empty: the producer may be filling the region after the old tail right now.
            _head = (_head + total) % Math.Max(1, _buffer.Length);
            _count -= total;
        }
        return total;
    }

    public void Clear()
    {
        _head = 0;
        _count = 0;
    }
}
