using System.Security.Cryptography;
using Decentralized.Protocol.Tcp;

namespace Decentralized.Cli;

/// <summary>
/// The pre-shared swarm key: 32 random bytes as hex, given inline or as <c>@file</c>. The file holds the key and
/// nothing else (no other words: command-line response files are off), is created owner-only by <c>keygen
/// --swarm-key</c>, and is refused when other users can read or change it, since whoever reads it can join the swarm.
/// </summary>
public static class SwarmKeyFile
{
    private const int KeyBytes = 32;
    private const long FileBytesMax = 4096;

    /// <summary>Creates a new key file (owner-only) and returns its hex; refuses to overwrite an existing file.</summary>
    public static string Create(string path)
    {
        var full = Path.GetFullPath(path);
        if (File.Exists(full)) throw new IOException($"swarm key {path} already exists; give its peers `--swarm-key @{path}`, or choose another path");
        var directory = Path.GetDirectoryName(full);
        if (!string.IsNullOrEmpty(directory)) Directory.CreateDirectory(directory);
        var hex = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(KeyBytes));
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var stream = new FileStream(full, options))
        using (var writer = new StreamWriter(stream)) writer.WriteLine(hex);
        return hex;
    }

    /// <summary>A swarm key as hex, or @path to a file holding only the hex; at least 16 bytes so it cannot be guessed.</summary>
    public static byte[] Parse(string? text)
    {
        if (string.IsNullOrEmpty(text)) return [];
        var hex = text.StartsWith('@') ? ReadFile(text[1..]) : text.Trim();
        byte[] key;
        try { key = Convert.FromHexString(hex); }
        catch (FormatException)
        {
            throw new ArgumentException(text.StartsWith('@')
                ? $"--swarm-key {text}: the file must hold one hex key and nothing else (create one with `decentralized keygen --swarm-key {text[1..]}`)"
                : "--swarm-key must be hex or @file (create a key file with `decentralized keygen --swarm-key swarm.key`)");
        }
        if (key.Length < 16) throw new ArgumentException("--swarm-key must be at least 16 bytes (32 hex digits)");
        return key;
    }

    private static string ReadFile(string path)
    {
        if (!File.Exists(path))
            throw new ArgumentException($"--swarm-key @{path}: no such file; create it with `decentralized keygen --swarm-key {path}` and copy it to every member");
        var info = new FileInfo(path);
        if (info.Length > FileBytesMax) throw new ArgumentException($"--swarm-key @{path}: {info.Length} bytes is not a key file");
        if (KeyFile.OthersCanAccess(path))
            throw new ArgumentException($"--swarm-key @{path}: other users can read or change it (whoever reads it can join the swarm); run `chmod 600 {path}`");
        return File.ReadAllText(path).Trim();
    }
}
