using System.Text.Json;

namespace Decentralized.Node.Export;

/// <summary>
/// The validating parser of a safetensors header (format of huggingface/safetensors). The file is
/// <code>
/// +------------------+------------------------------------+----------------------------------------+
/// | N: u64 LE        | N bytes of UTF-8 JSON (may end in  | data: every tensor's little-endian     |
/// |                  | spaces)                            | bytes at [begin, end) of this section  |
/// +------------------+------------------------------------+----------------------------------------+
/// JSON: { "__metadata__": { "k": "v", ... },            (optional, strings only)
///         "name": { "dtype": "F32", "shape": [r, c], "data_offsets": [begin, end] }, ... }
/// </code>
/// Every entry is checked before a tensor is read: a known dtype, non-negative dimensions whose product times the
/// element size equals end - begin (with overflow checks), and ranges that tile the data section exactly (sorted,
/// no overlap, no gap, nothing outside). A file that passes cannot make the reader allocate more than it holds.
/// </summary>
public static class SafetensorsHeader
{
    /// <summary>Bytes of the length prefix.</summary>
    public const int PrefixBytes = 8;

    /// <summary>Validates the header <paramref name="json"/> against a data section of <paramref name="dataBytes"/> bytes.</summary>
    public static IReadOnlyList<SafetensorsTensor> Parse(ReadOnlySpan<byte> json, long dataBytes, SafetensorsLimits limits)
    {
        // JSON strings are read as .NET strings below, which throws on invalid UTF-8 (found by the corruption test).
        if (!System.Text.Unicode.Utf8.IsValid(json)) throw Malformed("is not valid UTF-8");
        JsonDocument document;
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 4 });
            document = JsonDocument.ParseValue(ref reader);
        }
        catch (JsonException e) { throw Malformed($"is not JSON ({e.Message})"); }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw Malformed("is not a JSON object");
            var tensors = new List<SafetensorsTensor>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in root.EnumerateObject())
            {
                if (!names.Add(property.Name)) throw Malformed($"names '{Short(property.Name)}' twice");
                if (property.Name == "__metadata__") { CheckMetadata(property.Value); continue; }
                if (tensors.Count == limits.TensorsMax) throw Malformed($"lists more than {limits.TensorsMax} tensors");
                tensors.Add(Entry(property.Name, property.Value, limits));
            }
            CheckTiling(tensors, dataBytes);
            return tensors;
        }
    }

    private static SafetensorsTensor Entry(string name, JsonElement value, SafetensorsLimits limits)
    {
        if (value.ValueKind != JsonValueKind.Object) throw Malformed($"entry '{Short(name)}' is not an object");
        JsonElement? dtype = null, shape = null, offsets = null;
        foreach (var field in value.EnumerateObject())
        {
            switch (field.Name)
            {
                case "dtype": dtype = field.Value; break;
                case "shape": shape = field.Value; break;
                case "data_offsets": offsets = field.Value; break;
                default: throw Malformed($"entry '{Short(name)}' has the unknown field '{Short(field.Name)}'");
            }
        }
        if (dtype is null || shape is null || offsets is null) throw Malformed($"entry '{Short(name)}' lacks dtype, shape or data_offsets");
        var type = Dtype(name, dtype.Value);
        var dims = Integers(name, "shape", shape.Value, limits.RankMax);
        var range = Integers(name, "data_offsets", offsets.Value, 2);
        if (range.Length != 2) throw new SafetensorsException(SafetensorsError.BadOffsets, $"safetensors tensor '{Short(name)}' has {range.Length} data offsets, not 2");
        long begin = range[0], end = range[1];
        if (end < begin) throw new SafetensorsException(SafetensorsError.BadOffsets, $"safetensors tensor '{Short(name)}' ends ({end}) before it begins ({begin})");
        long bytes = SafetensorsTensor.BytesPerElement(type);
        try { foreach (var d in dims) bytes = checked(bytes * d); }
        catch (OverflowException) { throw new SafetensorsException(SafetensorsError.BadShape, $"safetensors tensor '{Short(name)}' has a shape too large to address"); }
        if (bytes != end - begin)
            throw new SafetensorsException(SafetensorsError.BadShape,
                $"safetensors tensor '{Short(name)}' of {type} [{string.Join(", ", dims)}] needs {bytes} bytes but its offsets span {end - begin}");
        return new SafetensorsTensor(name, type, dims, begin, end);
    }

    private static SafetensorsDtype Dtype(string name, JsonElement value) =>
        value.ValueKind == JsonValueKind.String ? value.GetString() switch
        {
            "F32" => SafetensorsDtype.F32,
            "F16" => SafetensorsDtype.F16,
            "BF16" => SafetensorsDtype.BF16,
            var other => throw new SafetensorsException(SafetensorsError.UnsupportedDtype,
                $"safetensors tensor '{Short(name)}' has dtype {Short(other ?? "")}; this reader takes F32, F16 or BF16"),
        } : throw Malformed($"entry '{Short(name)}' has a dtype that is not a string");

    // Non-negative integers that fit a long; at most `countMax` of them.
    private static long[] Integers(string name, string field, JsonElement value, int countMax)
    {
        var code = field == "shape" ? SafetensorsError.BadShape : SafetensorsError.BadOffsets;
        if (value.ValueKind != JsonValueKind.Array) throw new SafetensorsException(code, $"safetensors tensor '{Short(name)}' has a {field} that is not an array");
        int count = value.GetArrayLength();
        if (count > countMax) throw new SafetensorsException(code, $"safetensors tensor '{Short(name)}' has {count} {field} entries (at most {countMax})");
        var result = new long[count];
        int i = 0;
        foreach (var item in value.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out long v) || v < 0)
                throw new SafetensorsException(code, $"safetensors tensor '{Short(name)}' has a {field} entry that is not a non-negative integer ({Short(item.GetRawText())})");
            result[i++] = v;
        }
        return result;
    }

    private static void CheckMetadata(JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Object) throw Malformed("__metadata__ is not an object");
        foreach (var field in value.EnumerateObject())
            if (field.Value.ValueKind != JsonValueKind.String) throw Malformed($"__metadata__ '{Short(field.Name)}' is not a string");
    }

    // The reference implementation's rule: sorted by begin, the ranges cover [0, dataBytes) with no overlap and no gap.
    // Ranges that tile but run past the end mean the file was cut short.
    private static void CheckTiling(List<SafetensorsTensor> tensors, long dataBytes)
    {
        long position = 0;
        foreach (var t in tensors.OrderBy(t => t.Begin).ThenBy(t => t.End))
        {
            if (t.Begin < position)
                throw new SafetensorsException(SafetensorsError.BadOffsets, $"safetensors tensor '{Short(t.Name)}' at [{t.Begin}, {t.End}) overlaps the tensor before it (which ends at {position})");
            if (t.Begin > position)
                throw new SafetensorsException(SafetensorsError.BadOffsets, $"safetensors data has a gap at [{position}, {t.Begin}) before tensor '{Short(t.Name)}'");
            position = t.End;
        }
        if (position > dataBytes)
            throw new SafetensorsException(SafetensorsError.Truncated, $"safetensors tensors need {position} data bytes but the file holds {dataBytes} (truncated?)");
        if (position < dataBytes)
            throw new SafetensorsException(SafetensorsError.BadOffsets, $"safetensors data section has {dataBytes} bytes but its tensors cover {position}");
    }

    private static SafetensorsException Malformed(string what) => new(SafetensorsError.MalformedHeader, $"safetensors header {what}");

    // Names come from the file: keep the one-line error short and printable.
    internal static string Short(string text)
    {
        var clean = new string(text.Take(80).Select(c => char.IsControl(c) ? '?' : c).ToArray());
        return text.Length > 80 ? clean + "..." : clean;
    }
}
