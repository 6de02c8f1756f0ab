namespace Decentralized.Node.Data;

/// <summary>What a corpus path stands for: the text files read, in order, and a folder's files skipped as not text.</summary>
/// <param name="Text">Full paths of the files read, in reading order.</param>
/// <param name="Skipped">Paths (relative to the folder) of files that are not text: indexes, images, archives.</param>
public sealed record CorpusFiles(IReadOnlyList<string> Text, IReadOnlyList<string> Skipped)
{
    /// <summary>Files named in a summary line before "...".</summary>
    public const int NamesShown = 5;

    /// <summary>One line for the log, or null when nothing was skipped.</summary>
    public string? SkipSummary(string shownPath) =>
        Skipped.Count == 0 ? null : $"corpus '{shownPath}': read {Text.Count} text files, skipped {Describe(Skipped)}";

    /// <summary>"3 files that are not text (a.dat, b.png, c.zip)".</summary>
    public static string Describe(IReadOnlyList<string> skipped) =>
        $"{skipped.Count} {(skipped.Count == 1 ? "file" : "files")} that {(skipped.Count == 1 ? "is" : "are")} not text (" +
        string.Join(", ", skipped.Take(NamesShown)) + (skipped.Count > NamesShown ? ", ..." : "") + ")";
}
