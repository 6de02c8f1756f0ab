using System.Buffers.Binary;
using System.Text;
using Decentralized.Node.Export;

namespace Decentralized.Node.Tests.Export;

/// <summary>Safetensors files from outside: a good one reads back exactly; each kind of hostile one is refused with its code.</summary>
public sealed class SafetensorsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("safetensors-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string File(byte[] bytes)
    {
        var path = Path.Combine(_dir, $"f{Guid.NewGuid():N}.safetensors");
        System.IO.File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>A file of a given header text (and length field) followed by <paramref name="data"/>.</summary>
    private static byte[] Raw(string header, byte[] data, ulong? headerLength = null)
    {
        var json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, headerLength ?? (ulong)json.Length);
        json.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + json.Length);
        return bytes;
    }

    private static byte[] Floats(params float[] values) => values.SelectMany(BitConverter.GetBytes).ToArray();

    private SafetensorsException Refused(byte[] bytes, SafetensorsError expected)
    {
        var e = Assert.Throws<SafetensorsException>(() =>
        {
            using var reader = SafetensorsReader.Open(File(bytes));
            foreach (var t in reader.Tensors) reader.ReadFloats(t.Name);
        });
        Assert.True(e.Code == expected, $"expected {expected}, got {e.Code}: {e.Message}");
        return e;
    }

    [Fact]
    public void WrittenFileReadsBackExactly()
    {
        var path = Path.Combine(_dir, "good.safetensors");
        float[] a = [1f, -2.5f, 3e-8f, float.MaxValue, 0f, -0f], b = [42f];
        SafetensorsWriter.Write(path, [new("a", [2, 3], a), new("b", [1], b)], new Dictionary<string, string> { ["format"] = "pt" });
        using var reader = SafetensorsReader.Open(path);
        Assert.Equal(["a", "b"], reader.Tensors.Select(t => t.Name));
        Assert.Equal([2L, 3L], reader.Tensors[0].Shape);
        Assert.Equal(a.Select(BitConverter.SingleToInt32Bits), reader.ReadFloats("a").Select(BitConverter.SingleToInt32Bits));
        Assert.Equal(b, reader.ReadFloats("b"));
        Assert.Equal(0, (new FileInfo(path).Length - 8 - 0) % 4);
    }

    [Fact]
    public void HalfAndBfloat16AreWidenedExactly()
    {
        var data = new byte[4];
        BinaryPrimitives.WriteUInt16LittleEndian(data, BitConverter.HalfToUInt16Bits((Half)1.5f));
        BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(2), (ushort)(BitConverter.SingleToInt32Bits(-3.25f) >> 16));
        var path = File(Raw("""{"h":{"dtype":"F16","shape":[1],"data_offsets":[0,2]},"b":{"dtype":"BF16","shape":[1],"data_offsets":[2,4]}}""", data));
        using var reader = SafetensorsReader.Open(path);
        Assert.Equal([1.5f], reader.ReadFloats("h"));
        Assert.Equal([-3.25f], reader.ReadFloats("b"));
    }

    [Fact]
    public void ShorterThanTheLengthFieldIsTruncated() => Refused([1, 2, 3], SafetensorsError.Truncated);

    [Fact]
    public void HugeHeaderLengthIsRefusedBeforeAllocating()
    {
        var e = Refused(Raw("{}", [], headerLength: ulong.MaxValue), SafetensorsError.HeaderTooLarge);
        Assert.Contains("18446744073709551615", e.Message);
    }

    [Fact]
    public void HeaderLongerThanTheFileIsTruncated() => Refused(Raw("{}", [], headerLength: 1000), SafetensorsError.Truncated);

    [Fact]
    public void DataCutShortIsTruncated()
    {
        var good = Raw("""{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}""", Floats(1, 2, 3, 4));
        Refused(good[..^5], SafetensorsError.Truncated);
    }

    [Fact]
    public void OverlappingOffsetsAreRefused() => Refused(
        Raw("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", Floats(1, 2, 3)),
        SafetensorsError.BadOffsets);

    [Fact]
    public void OffsetsOutsideTheFileAreRefused() => Refused(
        Raw("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[1099511627776,1099511627784]}}""", Floats(1, 2)),
        SafetensorsError.BadOffsets);

    [Fact]
    public void EndBeforeBeginIsRefused() => Refused(
        Raw("""{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}""", Floats(1, 2)), SafetensorsError.BadOffsets);

    [Fact]
    public void TrailingBytesAreRefused() => Refused(
        Raw("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", Floats(1, 2)), SafetensorsError.BadOffsets);

    [Theory]
    [InlineData("I64")]
    [InlineData("F64")]
    [InlineData("Q4_0")]
    public void OtherDtypesAreRefused(string dtype) => Refused(
        Raw($$$"""{"a":{"dtype":"{{{dtype}}}","shape":[1],"data_offsets":[0,8]}}""", Floats(1, 2)), SafetensorsError.UnsupportedDtype);

    [Theory]
    [InlineData("[3,3]")]           // 36 bytes claimed, 16 present
    [InlineData("[-4]")]
    [InlineData("[4294967296,4294967296,4294967296]")]   // overflows a long
    [InlineData("[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,4]")]     // too many dimensions
    public void ShapeThatDoesNotMatchTheBytesIsRefused(string shape) => Refused(
        Raw($$$"""{"a":{"dtype":"F32","shape":{{{shape}}},"data_offsets":[0,16]}}""", Floats(1, 2, 3, 4)), SafetensorsError.BadShape);

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void NonFiniteValuesAreRefused(float bad) => Refused(
        Raw("""{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}""", Floats(1, bad, 3)), SafetensorsError.NonFinite);

    [Theory]
    [InlineData("not json")]
    [InlineData("[1,2]")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":1}}""")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1]}}""")]
    [InlineData("""{"__metadata__":{"format":1},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""")]
    [InlineData("""{"a":[[[[[[[[[[1]]]]]]]]]]}""")]
    public void MalformedHeadersAreRefused(string header) => Refused(Raw(header, Floats(1)), SafetensorsError.MalformedHeader);

    [Fact]
    public void InvalidUtf8InANameIsRefused()
    {
        // Regression, found by RandomCorruptionIsReadOrRefusedNeverACrash: a name byte 0x8C made the parser throw
        // InvalidOperationException ("Cannot transcode invalid UTF-8") instead of refusing the file.
        byte[] header = [.. "{\"a"u8, 0x8C, .. "\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}"u8];
        var bytes = new byte[8 + header.Length + 4];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        Refused(bytes, SafetensorsError.MalformedHeader);
    }

    [Fact]
    public void TooManyTensorsAreRefusedFromTheHeader()
    {
        var header = "{" + string.Join(",", Enumerable.Range(0, 5).Select(i => $$"""
            "t{{i}}":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}
            """)) + "}";
        var e = Assert.Throws<SafetensorsException>(() => SafetensorsReader.Open(File(Raw(header, [])), new SafetensorsLimits(TensorsMax: 4)));
        Assert.Equal(SafetensorsError.MalformedHeader, e.Code);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void RandomCorruptionIsReadOrRefusedNeverACrash(int seed)
    {
        var path = Path.Combine(_dir, "base.safetensors");
        SafetensorsWriter.Write(path, [new("w", [3, 4], Enumerable.Range(0, 12).Select(i => i * 0.5f).ToArray()), new("b", [2], [1f, 2f])]);
        var original = System.IO.File.ReadAllBytes(path);
        var random = new Random(seed);
        int refused = 0;
        for (int i = 0; i < 300; i++)
        {
            var bytes = (byte[])original.Clone();
            int flips = 1 + random.Next(4);
            for (int f = 0; f < flips; f++)
            {
                // Mostly the prefix and header, where parsing happens; sometimes the data.
                int at = random.Next(4) == 0 ? random.Next(bytes.Length) : random.Next(Math.Min(bytes.Length, 120));
                bytes[at] = (byte)random.Next(256);
            }
            if (random.Next(5) == 0) bytes = bytes[..random.Next(bytes.Length)];
            try
            {
                using var reader = SafetensorsReader.Open(File(bytes));
                foreach (var t in reader.Tensors) reader.ReadFloats(t.Name);
            }
            catch (SafetensorsException) { refused++; }
        }
        Assert.True(refused > 100, $"seed {seed}: only {refused} of 300 corrupted files were refused");
    }
}
