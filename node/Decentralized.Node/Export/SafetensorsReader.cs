using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Decentralized.Node.Export;

/// <summary>
/// Reads float tensors from a safetensors file that may come from anyone. The header is validated whole
/// (<see cref="SafetensorsHeader"/>) before any tensor is touched, and each tensor's values must be finite.
/// </summary>
public sealed class SafetensorsReader : IDisposable
{
    private readonly FileStream _file;
    private readonly long _dataStart;
    private readonly Dictionary<string, SafetensorsTensor> _tensors;

    private SafetensorsReader(FileStream file, long dataStart, IReadOnlyList<SafetensorsTensor> tensors)
    {
        _file = file;
        _dataStart = dataStart;
        _tensors = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        Tensors = tensors;
    }

    /// <summary>The validated entries, in header order.</summary>
    public IReadOnlyList<SafetensorsTensor> Tensors { get; }

    /// <summary>Opens <paramref name="path"/> and validates its header; throws <see cref="SafetensorsException"/> for a bad file.</summary>
    public static SafetensorsReader Open(string path, SafetensorsLimits? limits = null)
    {
        limits ??= SafetensorsLimits.Default;
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        try
        {
            long length = file.Length;
            if (length < SafetensorsHeader.PrefixBytes)
                throw new SafetensorsException(SafetensorsError.Truncated, $"safetensors file {path} has {length} bytes, less than its 8-byte header length");
            Span<byte> prefix = stackalloc byte[SafetensorsHeader.PrefixBytes];
            file.ReadExactly(prefix);
            ulong headerBytes = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
            if (headerBytes > (ulong)limits.HeaderBytesMax)
                throw new SafetensorsException(SafetensorsError.HeaderTooLarge, $"safetensors file {path} claims a {headerBytes}-byte header (at most {limits.HeaderBytesMax})");
            if ((long)headerBytes > length - SafetensorsHeader.PrefixBytes)
                throw new SafetensorsException(SafetensorsError.Truncated, $"safetensors file {path} claims a {headerBytes}-byte header but has {length - SafetensorsHeader.PrefixBytes} bytes after the length");
            long dataStart = SafetensorsHeader.PrefixBytes + (long)headerBytes;
            long dataBytes = length - dataStart;
            if (dataBytes > limits.DataBytesMax)
                throw new SafetensorsException(SafetensorsError.HeaderTooLarge, $"safetensors file {path} has {dataBytes} data bytes (at most {limits.DataBytesMax})");
            var json = new byte[headerBytes];
            file.ReadExactly(json);
            return new SafetensorsReader(file, dataStart, SafetensorsHeader.Parse(json, dataBytes, limits));
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Whether the file holds a tensor called <paramref name="name"/>.</summary>
    public bool Contains(string name) => _tensors.ContainsKey(name);

    /// <summary>The tensor's values as float32 (F16 and BF16 widened exactly); refuses NaN and infinity.</summary>
    public float[] ReadFloats(string name)
    {
        if (!_tensors.TryGetValue(name, out var t))
            throw new SafetensorsException(SafetensorsError.MissingTensor, $"safetensors file has no tensor '{SafetensorsHeader.Short(name)}'");
        var values = new float[t.ElementCount];   // bounded: the header check tied it to bytes the file holds
        _file.Position = _dataStart + t.Begin;
        if (t.Dtype == SafetensorsDtype.F32)
        {
            _file.ReadExactly(MemoryMarshal.AsBytes(values.AsSpan()));
            if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors reading needs a little-endian machine");
        }
        else
        {
            var raw = new byte[t.End - t.Begin];
            _file.ReadExactly(raw);
            for (long i = 0; i < values.LongLength; i++)
            {
                ushort bits = BinaryPrimitives.ReadUInt16LittleEndian(raw.AsSpan((int)(2 * i), 2));
                values[i] = t.Dtype == SafetensorsDtype.BF16 ? BitConverter.Int32BitsToSingle(bits << 16) : (float)BitConverter.UInt16BitsToHalf(bits);
            }
        }
        for (long i = 0; i < values.LongLength; i++)
            if (!float.IsFinite(values[i]))
                throw new SafetensorsException(SafetensorsError.NonFinite, $"safetensors tensor '{SafetensorsHeader.Short(name)}' holds {values[i]} at element {i}");
        return values;
    }

    public void Dispose() => _file.Dispose();
}
