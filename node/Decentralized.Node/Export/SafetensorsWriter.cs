using System.Runtime.InteropServices;
using System.Text.Json;

namespace Decentralized.Node.Export;

/// <summary>
/// Writes float32 tensors in the safetensors layout (see <see cref="SafetensorsHeader"/>), in the order given, with
/// the header padded by spaces to a multiple of 8 bytes so the data is aligned. The same tensors always give the same
/// bytes, which is what makes export, import and export again bit-identical. Written beside the target, then renamed.
/// </summary>
public static class SafetensorsWriter
{
    /// <summary>One tensor to write: its name, shape and row-major values.</summary>
    public sealed record Entry(string Name, long[] Shape, float[] Values);

    public static void Write(string path, IReadOnlyList<Entry> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors writing needs a little-endian machine");
        var header = Header(tensors, metadata);
        var temp = path + $".tmp-{Environment.ProcessId}";
        try
        {
            using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                Span<byte> prefix = stackalloc byte[SafetensorsHeader.PrefixBytes];
                System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
                file.Write(prefix);
                file.Write(header);
                foreach (var t in tensors) file.Write(MemoryMarshal.AsBytes(t.Values.AsSpan()));
                file.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    private static byte[] Header(IReadOnlyList<Entry> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (metadata is not null)
            {
                json.WriteStartObject("__metadata__");
                foreach (var (key, value) in metadata) json.WriteString(key, value);
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var t in tensors)
            {
                long count = t.Shape.Aggregate(1L, (a, d) => a * d);
                if (count != t.Values.LongLength) throw new ArgumentException($"tensor {t.Name} has shape [{string.Join(", ", t.Shape)}] but {t.Values.LongLength} values");
                json.WriteStartObject(t.Name);
                json.WriteString("dtype", "F32");
                json.WriteStartArray("shape");
                foreach (var d in t.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + 4 * count);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += 4 * count;
            }
            json.WriteEndObject();
        }
        int padding = (int)((8 - buffer.Length % 8) % 8);
        for (int i = 0; i < padding; i++) buffer.WriteByte((byte)' ');
        return buffer.ToArray();
    }
}
