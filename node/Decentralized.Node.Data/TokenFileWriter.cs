using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Decentralized.Node.Data;

/// <summary>
/// Streams tokens into a new token file (layout in <see cref="TokenFileFormat"/>). Writes go to a
/// temporary file in the target folder; <see cref="Commit"/> patches the count, appends the
/// checksum, fsyncs and renames, so readers only ever see a complete file or none. Disposing
/// without committing deletes the temporary file.
/// </summary>
internal sealed class TokenFileWriter : IDisposable
{
    private readonly string _finalPath;
    private readonly string _tempPath;
    private readonly int _vocabSize;
    private readonly byte[] _header;
    private readonly FileStream _stream;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly ushort[] _staging = new ushort[1 << 16];
    private bool _done;

    public TokenFileWriter(string finalPath, string tokenizerId, int vocabSize, string source)
    {
        if (vocabSize is < 1 or > 65536)
        {
            throw new ArgumentOutOfRangeException(nameof(vocabSize), $"token files store u16 ids; vocabulary {vocabSize} does not fit");
        }

        _finalPath = Path.GetFullPath(finalPath);
        _tempPath = $"{_finalPath}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        _vocabSize = vocabSize;
        _header = TokenFileFormat.Encode(vocabSize, tokenizerId, source, 0);
        _stream = new FileStream(_tempPath, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 20);
        _stream.Write(_header);
    }

    /// <summary>Tokens written so far.</summary>
    public long Count { get; private set; }

    /// <summary>Appends ids, each of which must be below the vocabulary size.</summary>
    public void Append(ReadOnlySpan<int> ids)
    {
        ObjectDisposedException.ThrowIf(_done, this);
        if (Count + ids.Length > TokenFileFormat.MaxTokens)
        {
            throw new DataException($"corpus is too large: more than {TokenFileFormat.MaxTokens} tokens; use a smaller corpus or split it");
        }

        while (!ids.IsEmpty)
        {
            var n = Math.Min(ids.Length, _staging.Length);
            for (var i = 0; i < n; i++)
            {
                var id = ids[i];
                if ((uint)id >= (uint)_vocabSize)
                {
                    throw new InvalidOperationException($"tokenizer produced id {id} outside its vocabulary [0, {_vocabSize})");
                }

                _staging[i] = (ushort)id;
            }

            var chunk = _staging.AsSpan(0, n);
            if (!BitConverter.IsLittleEndian)
            {
                BinaryPrimitives.ReverseEndianness(chunk, chunk);
            }

            var bytes = MemoryMarshal.AsBytes(chunk);
            _hash.AppendData(bytes);
            _stream.Write(bytes);
            Count += n;
            ids = ids[n..];
        }
    }

    /// <summary>Finishes the file and moves it into place; returns the final path.</summary>
    public string Commit()
    {
        ObjectDisposedException.ThrowIf(_done, this);
        BinaryPrimitives.WriteUInt64LittleEndian(_header.AsSpan(TokenFileFormat.CountOffset(_header)), (ulong)Count);
        _hash.AppendData(_header);
        _stream.Position = 0;
        _stream.Write(_header);
        _stream.Seek(0, SeekOrigin.End);
        _stream.Write(_hash.GetHashAndReset());
        _stream.Flush(flushToDisk: true);
        _stream.Dispose();
        _done = true;
        File.Move(_tempPath, _finalPath, overwrite: true);
        return _finalPath;
    }

    public void Dispose()
    {
        _hash.Dispose();
        if (_done)
        {
            return;
        }

        _done = true;
        _stream.Dispose();
        try
        {
            File.Delete(_tempPath);
        }
        catch (IOException)
        {
            // Best effort: a leftover *.tmp is harmless and never mistaken for a cache entry.
        }
    }
}
