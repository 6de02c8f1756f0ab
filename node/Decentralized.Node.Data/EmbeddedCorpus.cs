using System.Diagnostics;
using System.Globalization;

namespace Decentralized.Node.Data;

/// <summary>
/// The default corpus that exists wherever the project builds: the English prose of the .NET SDK's
/// reference-assembly XML documentation (packs/Microsoft.NETCore.App.Ref/&lt;version&gt;/ref/net*/*.xml),
/// stripped of markup. Tens of MB of XML yield several MB of plain sentences, so the main job
/// trains without downloading anything.
/// </summary>
public static class EmbeddedCorpus
{
    private const string PackName = "Microsoft.NETCore.App.Ref";

    /// <summary>
    /// Returns the folder holding the reference XML files of the newest reference pack found.
    /// Roots are tried in order: DOTNET_ROOT, the running runtime's install (three levels above
    /// System.Private.CoreLib), the SDKs reported by <c>dotnet --list-sdks</c>, the usual install paths.
    /// </summary>
    /// <exception cref="DataException">No reference pack with XML documentation was found.</exception>
    public static string Locate()
    {
        var tried = new List<string>();
        foreach (var root in CandidateRoots())
        {
            tried.Add(root);
            var folder = FindInRoot(root);
            if (folder is not null)
            {
                return folder;
            }
        }

        throw new DataException(
            $"embedded corpus not found: no packs/{PackName}/*/ref/net*/*.xml under {string.Join(", ", tried.Distinct())}; set DOTNET_ROOT to your .NET SDK folder or pass a corpus path");
    }

    /// <summary>The XML files of <see cref="Locate"/>, sorted by ordinal file name.</summary>
    public static IReadOnlyList<string> Files()
    {
        var files = Directory.GetFiles(Locate(), "*.xml", SearchOption.TopDirectoryOnly);
        Array.Sort(files, StringComparer.Ordinal);
        return files;
    }

    /// <summary>
    /// The cache identity of the embedded corpus: pack version and target folder, extractor
    /// version, and every file's name and size, so an SDK update or a new extractor rebuilds it.
    /// </summary>
    public static string SourceKey()
    {
        var folder = Locate();
        var parts = new List<string> { $"embedded:{Describe(folder)}:extractor{XmlDocProse.ExtractorVersion}" };
        foreach (var file in Files())
        {
            parts.Add($"{Path.GetFileName(file)}:{new FileInfo(file).Length}");
        }

        return string.Join("|", parts);
    }

    /// <summary>Short human description, e.g. "Microsoft.NETCore.App.Ref 10.0.12 net10.0".</summary>
    public static string Describe() => Describe(Locate());

    /// <summary>Streams the prose documents (one per documented API member) of every XML file.</summary>
    public static IEnumerable<string> Documents() => UnitDocuments().Select(d => d.Text);

    /// <summary>
    /// <see cref="Documents"/> with their unit: the XML file's name, so the held-out split holds out an assembly's
    /// documentation whole (its members' docs share phrasing that a random chunk split would leak).
    /// </summary>
    public static IEnumerable<CorpusDocument> UnitDocuments()
    {
        var files = Files();
        if (files.Count == 0)
        {
            throw new DataException($"embedded corpus folder '{Locate()}' has no XML files; pass a corpus path instead");
        }

        return files.SelectMany(file => ReadGuarded(file).Select(text => new CorpusDocument(Path.GetFileName(file), text)));
    }

    private static IEnumerable<string> ReadGuarded(string file)
    {
        using var enumerator = XmlDocProse.Read(file).GetEnumerator();
        while (true)
        {
            try
            {
                if (!enumerator.MoveNext())
                {
                    yield break;
                }
            }
            catch (System.Xml.XmlException ex)
            {
                throw new DataException($"embedded corpus file '{file}' is not valid XML ({ex.Message}); repair the SDK install or pass a corpus path", ex);
            }

            yield return enumerator.Current;
        }
    }

    private static string Describe(string refFolder)
    {
        var tfm = Path.GetFileName(refFolder);
        var version = Path.GetFileName(Path.GetDirectoryName(Path.GetDirectoryName(refFolder)));
        return $"{PackName} {version} {tfm}";
    }

    private static IEnumerable<string> CandidateRoots()
    {
        var fromEnv = Environment.GetEnvironmentVariable("DOTNET_ROOT");
        if (!string.IsNullOrWhiteSpace(fromEnv))
        {
            yield return Path.GetFullPath(fromEnv);
        }

        // .../dotnet/shared/Microsoft.NETCore.App/<version>/System.Private.CoreLib.dll
        var coreLib = typeof(object).Assembly.Location;
        if (!string.IsNullOrEmpty(coreLib))
        {
            var root = Path.GetDirectoryName(Path.GetDirectoryName(Path.GetDirectoryName(Path.GetDirectoryName(coreLib))));
            if (!string.IsNullOrEmpty(root))
            {
                yield return root;
            }
        }

        foreach (var sdkRoot in SdkRootsFromCli())
        {
            yield return sdkRoot;
        }

        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        yield return "/usr/share/dotnet";
        yield return "/usr/lib/dotnet";
        yield return "/usr/local/share/dotnet";
        yield return Path.Combine(home, ".dotnet");
        yield return @"C:\Program Files\dotnet";
    }

    // "10.0.401 [/usr/share/dotnet/sdk]" -> "/usr/share/dotnet"
    private static IEnumerable<string> SdkRootsFromCli()
    {
        string output;
        try
        {
            using var process = Process.Start(new ProcessStartInfo("dotnet", "--list-sdks")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            });
            if (process is null)
            {
                yield break;
            }

            var reading = process.StandardOutput.ReadToEndAsync();
            if (!process.WaitForExit(10_000))
            {
                process.Kill(entireProcessTree: true);
                yield break;
            }

            output = reading.GetAwaiter().GetResult();
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException or IOException)
        {
            yield break;
        }

        foreach (var line in output.Split('\n'))
        {
            var open = line.IndexOf('[');
            var close = line.LastIndexOf(']');
            if (open >= 0 && close > open)
            {
                var sdkFolder = line[(open + 1)..close];
                var parent = Path.GetDirectoryName(sdkFolder.TrimEnd('/', '\\'));
                if (!string.IsNullOrEmpty(parent))
                {
                    yield return parent;
                }
            }
        }
    }

    private static string? FindInRoot(string root)
    {
        var packs = Path.Combine(root, "packs", PackName);
        if (!Directory.Exists(packs))
        {
            return null;
        }

        foreach (var versionFolder in Directory.GetDirectories(packs).OrderByDescending(VersionKey).ThenByDescending(p => p, StringComparer.Ordinal))
        {
            var refFolder = Path.Combine(versionFolder, "ref");
            if (!Directory.Exists(refFolder))
            {
                continue;
            }

            var best = Directory.GetDirectories(refFolder, "net*")
                .Where(d => Directory.EnumerateFiles(d, "*.xml").Any())
                .OrderByDescending(VersionKey)
                .FirstOrDefault();
            if (best is not null)
            {
                return best;
            }
        }

        return null;
    }

    // "10.0.12" -> 10.0.12, "11.0.0-preview.3" -> 11.0.0 minus a notch (a release beats its previews),
    // "net10.0" -> 10.0. Unparsable names sort first.
    private static (Version Version, int Release) VersionKey(string folder)
    {
        var name = Path.GetFileName(folder);
        if (name.StartsWith("net", StringComparison.Ordinal))
        {
            name = name[3..];
        }

        var dash = name.IndexOf('-');
        var core = dash >= 0 ? name[..dash] : name;
        return Version.TryParse(core, out var version)
            ? (version, dash >= 0 ? 0 : 1)
            : (new Version(0, 0), 0);
    }
}
