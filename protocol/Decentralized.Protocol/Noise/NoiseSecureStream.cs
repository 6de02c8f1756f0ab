using System.Buffers.Binary;

namespace Decentralized.Protocol.Noise;

/// <summary>
/// Noise transport framing over an inner byte stream.
/// <code>
///   frame = u16 big-endian length ‖ ChaChaPoly(plaintext) ‖ tag(16)      length ≤ 65535, plaintext ≤ 65519
/// </code>
/// Writes are staged into a plaintext frame and sealed when it fills or on <see cref="FlushAsync(CancellationToken)"/>,
/// so a small header and its payload written separately still share one frame. A write of at least a full frame is
/// sealed straight from the caller's memory (after at most one top-up frame for what is staged), never copied through
/// the staging buffer. Sealed frames, length prefix and ciphertext together, are batched into one write to the inner
/// stream. Reads pull as much ciphertext as the socket has and decrypt frame by frame, straight into the caller's
/// buffer when it is large enough (a Yamux stream's receive buffer usually is, so full frames need no intermediate copy).
/// One reader and one writer may run concurrently; concurrent writers must be serialized by the caller.
/// </summary>
public sealed class NoiseSecureStream : Stream
{
    /// <summary>Largest ciphertext in one frame.</summary>
    public const int MaxFrameLength = 65535;

    /// <summary>Largest plaintext in one frame.</summary>
    public const int MaxPlaintextLength = MaxFrameLength - NoiseCipherState.TagSize;

    private const int FrameOverhead = 2 + NoiseCipherState.TagSize;
    private const int CipherOutCapacity = 4 * (MaxFrameLength + 2);
    private const int CipherInCapacity = 4 * (MaxFrameLength + 2);

    private readonly Stream _inner;
    private readonly bool _leaveOpen;
    private readonly NoiseCipherState _send;
    private readonly NoiseCipherState _receive;

    private readonly byte[] _cipherIn = new byte[CipherInCapacity];
    private int _inStart;
    private int _inEnd;
    private readonly byte[] _plainIn = new byte[MaxPlaintextLength];
    private int _plainStart;
    private int _plainEnd;
    private bool _endOfStream;

    private readonly byte[] _plainOut = new byte[MaxPlaintextLength];
    private int _plainOutCount;
    private readonly byte[] _cipherOut = new byte[CipherOutCapacity];
    private int _cipherOutCount;
    private bool _disposed;

    /// <summary>Wraps <paramref name="inner"/> with the transport ciphers produced by the handshake.</summary>
    public NoiseSecureStream(Stream inner, NoiseCipherState send, NoiseCipherState receive, bool leaveOpen = false)
    {
        _inner = inner;
        _send = send;
        _receive = receive;
        _leaveOpen = leaveOpen;
    }

    /// <inheritdoc />
    public override bool CanRead => true;
    /// <inheritdoc />
    public override bool CanWrite => true;
    /// <inheritdoc />
    public override bool CanSeek => false;
    /// <inheritdoc />
    public override long Length => throw new NotSupportedException();
    /// <inheritdoc />
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <inheritdoc />
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty)
        {
            return 0;
        }
        if (_plainStart == _plainEnd)
        {
            // Large reads decrypt straight into the caller's memory, skipping the plaintext buffer.
            var length = await ReadFrameHeaderAsync(cancellationToken).ConfigureAwait(false);
            if (length < 0)
            {
                return 0;
            }
            var ciphertext = _cipherIn.AsSpan(_inStart, length);
            _inStart += length;
            if (buffer.Length >= length - NoiseCipherState.TagSize)
            {
                return _receive.Decrypt([], ciphertext, buffer.Span);
            }
            _plainStart = 0;
            _plainEnd = _receive.Decrypt([], ciphertext, _plainIn);
        }
        var count = Math.Min(buffer.Length, _plainEnd - _plainStart);
        _plainIn.AsSpan(_plainStart, count).CopyTo(buffer.Span);
        _plainStart += count;
        return count;
    }

    /// <inheritdoc />
    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_plainOutCount > 0 && buffer.Length >= MaxPlaintextLength)
        {
            // Bytes are staged (typically a Yamux header) ahead of a bulk payload. Top the staged frame up with only the
            // payload's remainder modulo a full frame: everything after it is then sealed straight from the caller's
            // memory in full frames. A 64 KiB write behind a 12-byte header goes out as 29 + 65,519 bytes with 29 bytes
            // copied, instead of 65,519 + 29 with the whole payload copied through the staging buffer.
            var topUp = buffer.Length % MaxPlaintextLength;
            if (_plainOutCount + topUp <= MaxPlaintextLength)
            {
                buffer.Span[..topUp].CopyTo(_plainOut.AsSpan(_plainOutCount));
                _plainOutCount += topUp;
                buffer = buffer[topUp..];
                await EnsureCipherSpaceAsync(cancellationToken).ConfigureAwait(false);
                Seal(_plainOut.AsSpan(0, _plainOutCount));
                _plainOutCount = 0;
            }
        }
        while (!buffer.IsEmpty)
        {
            if (_plainOutCount == 0 && buffer.Length >= MaxPlaintextLength)
            {
                // A full frame's worth: encrypt directly from the caller's memory.
                await EnsureCipherSpaceAsync(cancellationToken).ConfigureAwait(false);
                Seal(buffer.Span[..MaxPlaintextLength]);
                buffer = buffer[MaxPlaintextLength..];
                continue;
            }
            var count = Math.Min(buffer.Length, MaxPlaintextLength - _plainOutCount);
            buffer.Span[..count].CopyTo(_plainOut.AsSpan(_plainOutCount));
            _plainOutCount += count;
            buffer = buffer[count..];
            if (_plainOutCount == MaxPlaintextLength)
            {
                await EnsureCipherSpaceAsync(cancellationToken).ConfigureAwait(false);
                Seal(_plainOut.AsSpan(0, _plainOutCount));
                _plainOutCount = 0;
            }
        }
    }

    /// <summary>Seals the staged plaintext and writes every pending frame to the inner stream.</summary>
    public override async Task FlushAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_plainOutCount > 0)
        {
            await EnsureCipherSpaceAsync(cancellationToken).ConfigureAwait(false);
            Seal(_plainOut.AsSpan(0, _plainOutCount));
            _plainOutCount = 0;
        }
        if (_cipherOutCount > 0)
        {
            await _inner.WriteAsync(_cipherOut.AsMemory(0, _cipherOutCount), cancellationToken).ConfigureAwait(false);
            _cipherOutCount = 0;
        }
        await _inner.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    /// <inheritdoc />
    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    /// <inheritdoc />
    public override void Flush() => FlushAsync(CancellationToken.None).GetAwaiter().GetResult();

    /// <inheritdoc />
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    /// <inheritdoc />
    public override void SetLength(long value) => throw new NotSupportedException();

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing && !_disposed)
        {
            _disposed = true;
            _send.Dispose();
            _receive.Dispose();
            if (!_leaveOpen)
            {
                _inner.Dispose();
            }
        }
        base.Dispose(disposing);
    }

    private void Seal(ReadOnlySpan<byte> plaintext)
    {
        var frame = _cipherOut.AsSpan(_cipherOutCount);
        var written = _send.Encrypt([], plaintext, frame[2..]);
        BinaryPrimitives.WriteUInt16BigEndian(frame, (ushort)written);
        _cipherOutCount += 2 + written;
    }

    private async ValueTask EnsureCipherSpaceAsync(CancellationToken ct)
    {
        if (CipherOutCapacity - _cipherOutCount < MaxPlaintextLength + FrameOverhead)
        {
            await _inner.WriteAsync(_cipherOut.AsMemory(0, _cipherOutCount), ct).ConfigureAwait(false);
            _cipherOutCount = 0;
        }
    }

    /// <summary>Makes a whole frame available at _inStart; returns its ciphertext length, or -1 at a clean end.</summary>
    private async ValueTask<int> ReadFrameHeaderAsync(CancellationToken ct)
    {
        if (!await FillAsync(2, ct).ConfigureAwait(false))
        {
            return -1;
        }
        var length = BinaryPrimitives.ReadUInt16BigEndian(_cipherIn.AsSpan(_inStart));
        if (length < NoiseCipherState.TagSize)
        {
            throw new ProtocolException(ProtocolErrorCode.DecryptionFailed, $"Noise frame of {length} bytes is shorter than its tag");
        }
        _inStart += 2;
        if (!await FillAsync(length, ct).ConfigureAwait(false))
        {
            throw new ProtocolException(ProtocolErrorCode.UnexpectedEndOfStream, "stream ended inside a Noise frame");
        }
        return length;
    }

    /// <summary>Ensures <paramref name="count"/> buffered bytes; false if the stream ended cleanly before any.</summary>
    private async ValueTask<bool> FillAsync(int count, CancellationToken ct)
    {
        while (_inEnd - _inStart < count)
        {
            if (_endOfStream)
            {
                if (_inEnd == _inStart)
                {
                    return false;
                }
                throw new ProtocolException(ProtocolErrorCode.UnexpectedEndOfStream, "stream ended inside a Noise frame");
            }
            // Keep room for a whole frame after the data so every socket read can be large.
            if (CipherInCapacity - _inEnd < MaxFrameLength + 2 && _inStart > 0)
            {
                _cipherIn.AsSpan(_inStart, _inEnd - _inStart).CopyTo(_cipherIn);
                _inEnd -= _inStart;
                _inStart = 0;
            }
            var read = await _inner.ReadAsync(_cipherIn.AsMemory(_inEnd), ct).ConfigureAwait(false);
            if (read == 0)
            {
                _endOfStream = true;
            }
            _inEnd += read;
        }
        return true;
    }
}
