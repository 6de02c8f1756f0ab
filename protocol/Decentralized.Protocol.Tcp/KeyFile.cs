using Decentralized.Protocol.Identity;

namespace Decentralized.Protocol.Tcp;

/// <summary>
/// The node's identity key on disk: the libp2p PrivateKey protobuf bytes (<c>08 01 12 40 seed ‖ pub</c>), readable and
/// writable by the owner only (0600 on Unix). The same file gives the same peer ID on every restart.
/// </summary>
public static class KeyFile
{
    private const int MaxFileBytes = 4096;

    /// <summary>Loads the key at <paramref name="path"/>, or creates a new one there (and missing folders) if absent.</summary>
    public static PrivateKey LoadOrCreate(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (File.Exists(path))
        {
            return Load(path);
        }
        var key = PrivateKey.Generate();
        Save(path, key);
        return key;
    }

    /// <summary>Loads an existing key file; a malformed file throws <see cref="ProtocolException"/> (InvalidKey).</summary>
    public static PrivateKey Load(string path)
    {
        var info = new FileInfo(path);
        if (info.Length > MaxFileBytes)
        {
            throw new ProtocolException(ProtocolErrorCode.InvalidKey, $"key file {path} is {info.Length} bytes; not a libp2p private key");
        }
        return PrivateKey.FromProtobuf(File.ReadAllBytes(path));
    }

    /// <summary>
    /// True when users other than the owner may read or change the file (any group or other read/write bit on Unix):
    /// whoever reads an identity key can impersonate the node, whoever reads a swarm key can join the swarm.
    /// </summary>
    public static bool OthersCanAccess(string path) =>
        !OperatingSystem.IsWindows() && (File.GetUnixFileMode(path) & (UnixFileMode.GroupRead | UnixFileMode.OtherRead | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite)) != 0;

    /// <summary>Writes <paramref name="key"/> to a new file created with owner-only permissions; refuses to overwrite.</summary>
    public static void Save(string path, PrivateKey key)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            // Set at creation so the key is never readable by others, not even briefly.
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        using var stream = new FileStream(path, options);
        stream.Write(key.ToProtobuf());
        stream.Flush(flushToDisk: true);
    }
}
