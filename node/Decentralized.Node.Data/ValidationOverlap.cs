using System.Globalization;
using System.Text;

namespace Decentralized.Node.Data;

/// <summary>
/// How much of the validation text was seen in training, measured on the text: the tokens are decoded, cut into lines
/// (at '\n'), and a validation line counts as seen when the same line occurs anywhere in training. Sizes are UTF-8
/// bytes of non-blank lines. A validation loss on seen lines rewards memorising, which flatters whichever method fits
/// its shard hardest, so the document split drops them (<see cref="DropSeenLines"/>) rather than scoring them apart:
/// one validation number stays comparable across runs, and after holding out whole documents few lines are seen.
/// Costs one decode of the training stream and a set of 8-byte hashes of its distinct lines.
/// </summary>
/// <param name="LineBytes">Bytes of the validation text's non-blank lines, before any were dropped.</param>
/// <param name="SeenLineBytes">Bytes of those lines that also occur in training.</param>
/// <param name="DroppedLineBytes">Bytes of seen lines removed from the validation text (0 when nothing was dropped).</param>
public sealed record ValidationOverlap(long LineBytes, long SeenLineBytes, long DroppedLineBytes)
{
    // Training text is decoded in pieces of about this many tokens, cut after a token that ends a line.
    private const int PieceTokens = 1 << 16;

    /// <summary>Seen share of the validation line bytes, in [0, 1].</summary>
    public double SeenFraction => LineBytes == 0 ? 0 : (double)SeenLineBytes / LineBytes;

    /// <summary>Measures a dataset's split as it stands: its training chunks against its validation chunks.</summary>
    public static ValidationOverlap Measure(TokenDataset dataset, ITokenizer tokenizer)
    {
        var lines = new LineCutter(tokenizer);
        var seen = lines.Hashes(dataset.TrainChunks.Select(dataset.Chunk));
        long total = 0, seenBytes = 0;
        foreach (var chunk in dataset.ValidationChunks.Select(dataset.Chunk))
        {
            foreach (var piece in lines.Pieces(chunk.Span, 1))
            {
                var (bytes, seenInPiece, _) = Score(lines.Decode(chunk.Span[piece]), seen);
                total += bytes;
                seenBytes += seenInPiece;
            }
        }

        return new ValidationOverlap(total, seenBytes, 0);
    }

    /// <summary>
    /// Removes from <paramref name="validation"/> every run of tokens (cut after each token that ends a line) whose
    /// non-blank lines all occur in <paramref name="training"/>; with the byte tokenizer each run is one line, so no
    /// seen line is left. Returns the remaining tokens; <paramref name="overlap"/> is the measure before dropping.
    /// </summary>
    public static ushort[] DropSeenLines(ReadOnlyMemory<ushort> training, ReadOnlyMemory<ushort> validation, ITokenizer tokenizer, out ValidationOverlap overlap)
    {
        var lines = new LineCutter(tokenizer);
        var seen = lines.Hashes([training]);
        var kept = new List<ushort>(validation.Length);
        long total = 0, seenBytes = 0, dropped = 0;
        foreach (var piece in lines.Pieces(validation.Span, 1))
        {
            var tokens = validation.Span[piece];
            var (bytes, seenInPiece, allSeen) = Score(lines.Decode(tokens), seen);
            total += bytes;
            seenBytes += seenInPiece;
            if (allSeen)
            {
                dropped += bytes;
                continue;
            }

            kept.AddRange(tokens);
        }

        overlap = new ValidationOverlap(total, seenBytes, dropped);
        return kept.ToArray();
    }

    /// <summary>One line for logs, e.g. "3.4% of the validation text (12,345 of 363,000 line bytes) occurs in training; dropped".</summary>
    public string Describe() => string.Create(
        CultureInfo.InvariantCulture,
        $"{100 * SeenFraction:F1}% of the validation text ({SeenLineBytes:N0} of {LineBytes:N0} line bytes) also occurs in training{(DroppedLineBytes > 0 ? $"; dropped {DroppedLineBytes:N0} bytes of those lines" : "")}");

    // Bytes of the non-blank lines of a decoded run, bytes of those seen, and whether the run has lines and all are seen.
    private static (long Bytes, long Seen, bool AllSeen) Score(string text, HashSet<ulong> seen)
    {
        long bytes = 0, seenBytes = 0;
        var any = false;
        var all = true;
        foreach (var range in text.AsSpan().Split('\n'))
        {
            var line = text.AsSpan()[range];
            if (line.IsWhiteSpace())
            {
                continue;
            }

            var size = Encoding.UTF8.GetByteCount(line);
            var hit = seen.Contains(Hash64.OfText(line));
            any = true;
            all &= hit;
            bytes += size;
            seenBytes += hit ? size : 0;
        }

        return (bytes, seenBytes, any && all);
    }

    // Cuts token streams into runs that decode to whole lines: a run ends after a token whose text ends in '\n', or
    // after a document separator (GPT-2's end-of-text id, whose text is dropped so it does not glue two lines).
    private sealed class LineCutter
    {
        private readonly ITokenizer _tokenizer;
        private readonly bool[] _endsLine;
        private readonly bool[] _separator;
        private int[] _buffer = new int[256];

        public LineCutter(ITokenizer tokenizer)
        {
            _tokenizer = tokenizer;
            _endsLine = new bool[tokenizer.VocabSize];
            _separator = new bool[tokenizer.VocabSize];
            for (var id = 0; id < tokenizer.VocabSize; id++)
            {
                _endsLine[id] = tokenizer.Decode([id]).EndsWith('\n');
            }

            foreach (var id in tokenizer.DocumentSeparator.Where(id => !_endsLine[id]))
            {
                _separator[id] = _endsLine[id] = true;
            }
        }

        public HashSet<ulong> Hashes(IEnumerable<ReadOnlyMemory<ushort>> streams)
        {
            var set = new HashSet<ulong>();
            foreach (var stream in streams)
            {
                foreach (var piece in Pieces(stream.Span, PieceTokens))
                {
                    var text = Decode(stream.Span[piece]);
                    foreach (var range in text.AsSpan().Split('\n'))
                    {
                        set.Add(Hash64.OfText(text.AsSpan()[range]));
                    }
                }
            }

            return set;
        }

        // Ranges of at least minTokens tokens (unless the stream ends first), each ending where a line ends.
        public List<Range> Pieces(ReadOnlySpan<ushort> tokens, int minTokens)
        {
            var pieces = new List<Range>();
            var start = 0;
            for (var i = 0; i < tokens.Length; i++)
            {
                if (_endsLine[tokens[i]] && i + 1 - start >= minTokens)
                {
                    pieces.Add(start..(i + 1));
                    start = i + 1;
                }
            }

            if (start < tokens.Length)
            {
                pieces.Add(start..tokens.Length);
            }

            return pieces;
        }

        // The text of a run; a separator becomes a line break, so the documents on either side stay apart.
        public string Decode(ReadOnlySpan<ushort> tokens)
        {
            var text = new StringBuilder();
            var n = 0;
            foreach (var t in tokens)
            {
                if (_separator[t])
                {
                    text.Append(_tokenizer.Decode(_buffer.AsSpan(0, n))).Append('\n');
                    n = 0;
                    continue;
                }

                if (n == _buffer.Length)
                {
                    Array.Resize(ref _buffer, 2 * n);
                }

                _buffer[n++] = t;
            }

            return text.Append(_tokenizer.Decode(_buffer.AsSpan(0, n))).ToString();
        }
    }
}
