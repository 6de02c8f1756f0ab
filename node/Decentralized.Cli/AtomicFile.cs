namespace Decentralized.Cli;

/// <summary>Small result files (reports, summaries) written whole or not at all: a temp file beside, then a rename.</summary>
public static class AtomicFile
{
    public static void WriteAllText(string path, string text)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var temp = $"{full}.tmp-{Environment.ProcessId}";
        try
        {
            File.WriteAllText(temp, text);
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { }   // a full disk leaves no partial temp file behind
            throw;
        }
    }
}
