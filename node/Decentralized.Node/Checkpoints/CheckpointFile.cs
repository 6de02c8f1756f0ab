using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Decentralized.Node.Checkpoints;

/// <summary>
/// Atomic, verified checkpoint container. Nothing the user trained is lost: the new file is written beside
/// the old one, fsynced, then renamed over it, so a crash leaves either the old or the new file whole.
/// <code>
/// +------+---------+----------------+-----------------+-------------------------------+
/// | DCCK | ver u32 | payload u64 LE | payload bytes   | SHA-256 of everything before  |
/// +------+---------+----------------+-----------------+-------------------------------+
/// </code>
/// </summary>
public static class CheckpointFile
{
    private static ReadOnlySpan<byte> Magic => "DCCK"u8;
    public const uint Version = 1;
    private const int HeaderBytes = 16;
    private const int HashBytes = 32;

    /// <summary>Largest checkpoint accepted on load (a guard against absurd headers).</summary>
    public const long MaxPayloadBytes = 64L << 30;

    /// <summary>The <paramref name="index"/>-th older copy of <paramref name="path"/> kept by a rotation (0: the file itself).</summary>
    public static string Older(string path, int index) => index == 0 ? path : $"{path}.{index}";

    /// <summary>The prefix of the temporary file a write uses (followed by the writer's process id).</summary>
    public static string TemporaryPrefix(string path) => Path.GetFullPath(path) + ".tmp-";

    /// <summary>
    /// Writes <paramref name="writePayload"/>'s output atomically to <paramref name="path"/>. With <paramref name="keep"/>
    /// above 1 the files it replaces move down a rotation (<c>path.1</c> … <c>path.{keep-1}</c>, newest first), and only
    /// once the new file is whole on disk: a write that fails (a full disk) leaves every previous file as it was.
    /// </summary>
    public static void Write(string path, Action<BinaryWriter> writePayload, int keep = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(keep, 1);
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var temp = TemporaryPrefix(full) + Environment.ProcessId;
        try
        {
            using (var file = new FileStream(temp, FileMode.Create, FileAccess.ReadWrite, FileShare.None))
            {
                file.Write(new byte[HeaderBytes]);
                using (var writer = new BinaryWriter(file, System.Text.Encoding.UTF8, leaveOpen: true)) writePayload(writer);
                long payload = file.Length - HeaderBytes;
                Span<byte> header = stackalloc byte[HeaderBytes];
                Magic.CopyTo(header);
                BinaryPrimitives.WriteUInt32LittleEndian(header[4..], Version);
                BinaryPrimitives.WriteInt64LittleEndian(header[8..], payload);
                file.Position = 0;
                file.Write(header);
                file.Position = 0;
                var hash = SHA256.HashData(file);
                file.Position = file.Length;
                file.Write(hash);
                file.Flush(flushToDisk: true);
            }
            for (int i = keep - 1; i >= 1; i--)
                if (File.Exists(Older(full, i - 1))) File.Move(Older(full, i - 1), Older(full, i), overwrite: true);
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    /// <summary>Verifies the file whole (size, magic, version, hash) before handing its payload to <paramref name="readPayload"/>.</summary>
    public static T Read<T>(string path, Func<BinaryReader, T> readPayload)
    {
        if (!File.Exists(path)) throw new CheckpointException($"checkpoint {path} does not exist");
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        if (file.Length < HeaderBytes + HashBytes) throw new CheckpointException($"checkpoint {path} is truncated ({file.Length} bytes)");
        Span<byte> header = stackalloc byte[HeaderBytes];
        file.ReadExactly(header);
        if (!header[..4].SequenceEqual(Magic)) throw new CheckpointException($"{path} is not a checkpoint (bad magic)");
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
        if (version != Version) throw new CheckpointException($"checkpoint {path} has format version {version}; this build reads {Version}");
        long payload = BinaryPrimitives.ReadInt64LittleEndian(header[8..]);
        if (payload < 0 || payload > MaxPayloadBytes || HeaderBytes + payload + HashBytes != file.Length)
            throw new CheckpointException($"checkpoint {path} is truncated or corrupt (header says {payload} payload bytes, file has {file.Length})");
        file.Position = 0;
        var expected = SHA256.HashData(new BoundedStream(file, HeaderBytes + payload));
        Span<byte> stored = stackalloc byte[HashBytes];
        file.Position = HeaderBytes + payload;
        file.ReadExactly(stored);
        if (!stored.SequenceEqual(expected)) throw new CheckpointException($"checkpoint {path} failed its checksum (corrupt)");
        file.Position = HeaderBytes;
        using var reader = new BinaryReader(new BoundedStream(file, HeaderBytes + payload), System.Text.Encoding.UTF8, leaveOpen: true);
        try { return readPayload(reader); }
        catch (EndOfStreamException) { throw new CheckpointException($"checkpoint {path} payload ends early"); }
        // BinaryReader refuses a malformed string length with these (a file whose checksum matches but whose writer was not us).
        catch (Exception e) when (e is FormatException or IOException) { throw new CheckpointException($"checkpoint {path} payload is malformed: {e.Message}"); }
    }

    /// <summary>Reads a stream only up to an absolute end position (so the hash trailer is never parsed as payload).</summary>
    private sealed class BoundedStream(Stream inner, long end) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => end;
        public override long Position { get => inner.Position; set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) =>
            inner.Read(buffer, offset, (int)Math.Min(count, Math.Max(0, end - inner.Position)));
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
