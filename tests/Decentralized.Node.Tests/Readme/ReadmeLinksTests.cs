using System.Text.RegularExpressions;

namespace Decentralized.Node.Tests.Readme;

/// <summary>The README stands alone: every link in it and in docs/ resolves inside this repository.</summary>
public sealed partial class ReadmeLinksTests
{
    [Fact]
    public void Every_link_of_the_readme_and_the_docs_resolves_inside_the_repository()
    {
        var root = ReadmeCommandsTests.RepoRoot();
        var pages = new[] { Path.Combine(root, "README.md") }.Concat(Directory.EnumerateFiles(Path.Combine(root, "docs"), "*.md")).ToArray();
        int links = 0;
        foreach (var page in pages)
        {
            foreach (Match m in LinkPattern().Matches(File.ReadAllText(page)))
            {
                var target = m.Groups[1].Value.Split('#')[0];
                if (target.Length == 0) continue;
                Assert.False(target.Contains("://") || target.StartsWith("mailto:"), $"{Path.GetFileName(page)} links outside the repository: {target}");
                var full = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(page)!, target));
                Assert.True(full.StartsWith(root + Path.DirectorySeparatorChar), $"{Path.GetFileName(page)} links outside the repository: {target}");
                Assert.True(File.Exists(full) || Directory.Exists(full), $"{Path.GetFileName(page)} links to {target}, which does not exist");
                links++;
            }
        }
        Assert.True(links >= 5, $"only {links} links found");
    }

    [GeneratedRegex(@"\]\(([^)\s]+)\)")]
    private static partial Regex LinkPattern();
}
