using System.Buffers;
using System.Text;

namespace Decentralized.Node.Data;

/// <summary>
/// Decides from a file's first 8 KiB whether it is text we can read, and in which encoding.
/// A user who points the node at a folder with a stray .zip or a Latin-1 file should hear so in
/// one line, not train on garbage.
/// </summary>
internal static class TextSniffer
{
    /// <summary>Bytes inspected at the start of each file.</summary>
    public const int SampleBytes = 8192;

    // More than 1% undecodable bytes means "not UTF-8"; a few stray bytes in a large text file
    // become U+FFFD instead of rejecting the whole corpus.
    private const double MaxInvalidUtf8Ratio = 0.01;

    // Text uses tab, newline, carriage return, form feed and sometimes ESC; many other C0 controls
    // indicate a binary format without NULs in its header.
    private const double MaxControlRatio = 0.05;

    /// <summary>Returns the encoding to read <paramref name="path"/> with, or throws <see cref="DataException"/>.</summary>
    public static Encoding Check(string path)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(SampleBytes);
        try
        {
            int length;
            using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan))
            {
                length = stream.ReadAtLeast(buffer.AsSpan(0, SampleBytes), SampleBytes, throwOnEndOfStream: false);
            }

            return Classify(path, buffer.AsSpan(0, length));
        }
        catch (IOException ex)
        {
            throw new DataException($"cannot read corpus file '{path}': {ex.Message}", ex);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new DataException($"cannot read corpus file '{path}': permission denied; fix its permissions or remove it", ex);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Whether a file reads as text (UTF-8 or UTF-16 with a byte order mark); unreadable files are not text.</summary>
    public static bool IsText(string path)
    {
        try
        {
            Check(path);
            return true;
        }
        catch (DataException)
        {
            return false;
        }
    }

    /// <summary>Classifies a sample (exposed for tests).</summary>
    public static Encoding Classify(string path, ReadOnlySpan<byte> sample)
    {
        // UTF-16 files are full of NULs but are text; trust an explicit byte order mark.
        if (sample.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xFE]))
        {
            return Encoding.Unicode;
        }

        if (sample.StartsWith((ReadOnlySpan<byte>)[0xFE, 0xFF]))
        {
            return Encoding.BigEndianUnicode;
        }

        if (sample.IndexOf((byte)0) >= 0)
        {
            throw new DataException(
                $"'{path}' is a binary file (NUL bytes in its first 8 KiB); give a text file, a folder of text files, or a .jsonl file");
        }

        var (invalid, controls) = CountSuspiciousBytes(sample);
        if (sample.Length > 0 && invalid > MaxInvalidUtf8Ratio * sample.Length)
        {
            throw new DataException(
                $"'{path}' is not UTF-8 text ({invalid} undecodable bytes in its first {sample.Length}); convert it to UTF-8 (e.g. iconv -t UTF-8) or remove it");
        }

        if (sample.Length > 0 && controls > MaxControlRatio * sample.Length)
        {
            throw new DataException(
                $"'{path}' looks binary ({controls} control bytes in its first {sample.Length}); give a text file, a folder of text files, or a .jsonl file");
        }

        return new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);
    }

    private static (int Invalid, int Controls) CountSuspiciousBytes(ReadOnlySpan<byte> sample)
    {
        int invalid = 0, controls = 0;
        var rest = sample;
        while (!rest.IsEmpty)
        {
            var status = Rune.DecodeFromUtf8(rest, out var rune, out var consumed);
            if (status == System.Buffers.OperationStatus.NeedMoreData)
            {
                // A multi-byte character cut by the sample boundary is not an error.
                break;
            }

            if (status == System.Buffers.OperationStatus.InvalidData)
            {
                invalid += consumed;
            }
            else if (rune.Value < 0x20 && rune.Value is not ('\t' or '\n' or '\r' or '\f' or 0x1B))
            {
                controls++;
            }

            rest = rest[consumed..];
        }

        return (invalid, controls);
    }
}
