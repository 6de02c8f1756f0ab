using Decentralized.Node.Swarm;
using Microsoft.Extensions.Logging;

namespace Decentralized.Node.Checkpoints;

/// <summary>
/// A daemon's checkpoints in its data directory: <c>node.ckpt</c> and the previous ones (<c>node.ckpt.1</c>, <c>.2</c>,
/// newest first), so neither a diverged run nor a failed write leaves it without a good state.
/// <list type="bullet">
/// <item>Saving never writes a non-finite state and never throws: a failed write (a full disk, a read-only mount)
/// keeps every previous file, is logged once with what was kept, shows in <see cref="LastError"/>, and
/// <see cref="Failing"/> asks the caller to try again after the next round.</item>
/// <item>Loading takes the newest file that verifies and holds finite values, saying why it skipped the others.</item>
/// <item>Temporary files of a write cut short by a kill (one full checkpoint each) are removed at start.</item>
/// </list>
/// Not thread-safe: the daemon saves from its training loop only; status readers see each field whole.
/// </summary>
public sealed class CheckpointStore
{
    /// <summary>The newest checkpoint's file name inside the data directory.</summary>
    public const string FileName = "node.ckpt";

    private readonly int _keep;
    private readonly ILogger _log;

    /// <param name="keep">Checkpoints kept in rotation (default 3: the newest and two before it). Each costs one
    /// checkpoint of disk; 1 keeps only the newest.</param>
    public CheckpointStore(string directory, ILogger log, int keep = 3)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(keep, 1);
        Path = System.IO.Path.GetFullPath(System.IO.Path.Combine(directory, FileName));
        _keep = keep;
        _log = log;
    }

    /// <summary>The newest checkpoint's path.</summary>
    public string Path { get; }

    /// <summary>The round of the last checkpoint this process wrote or loaded (null: none yet).</summary>
    public long? Round { get; private set; }

    /// <summary>Saves that failed since the process started.</summary>
    public long Failures { get; private set; }

    /// <summary>Why the last save failed; null once a save succeeds again.</summary>
    public string? LastError { get; private set; }

    /// <summary>True while the last save failed: the caller retries after the next round instead of waiting for its interval.</summary>
    public bool Failing => LastError is not null;

    /// <summary>The checkpoint files present, newest first.</summary>
    public IReadOnlyList<string> Files =>
        [.. Enumerable.Range(0, _keep).Select(i => CheckpointFile.Older(Path, i)).Where(File.Exists)];

    /// <summary>Deletes temporary files left by writes that a kill interrupted; returns how many.</summary>
    public int RemoveStaleTemporaries()
    {
        var prefix = CheckpointFile.TemporaryPrefix(Path);
        var directory = System.IO.Path.GetDirectoryName(Path)!;
        if (!Directory.Exists(directory)) return 0;
        int removed = 0;
        foreach (var file in Directory.EnumerateFiles(directory, System.IO.Path.GetFileName(prefix) + "*"))
        {
            long bytes = new FileInfo(file).Length;
            File.Delete(file);
            removed++;
            _log.LogInformation("removed {File} ({Bytes:F1} MB), left by a checkpoint write that was interrupted", file, bytes / 1e6);
        }
        return removed;
    }

    /// <summary>
    /// Restores the newest checkpoint that verifies and holds only finite values into <paramref name="peer"/>; returns
    /// its path, or null when the directory holds none. Throws <see cref="CheckpointException"/> naming every file and
    /// why when checkpoints exist but none is usable (another config, all corrupt or all non-finite).
    /// </summary>
    public string? LoadNewestGood(SwarmPeer peer)
    {
        var files = Files;
        if (files.Count == 0) return null;
        var reasons = new List<string>();
        foreach (var file in files)
        {
            try
            {
                SwarmCheckpoint.Load(file, peer);
                if (peer.FirstNonFiniteTensor() is { } bad) throw new CheckpointException($"it holds non-finite values ({bad}), written by a run that diverged");
                Round = peer.Round;
                if (reasons.Count > 0) _log.LogWarning("using the older checkpoint {File} (round {Round}): {Reasons}", file, peer.Round, string.Join("; ", reasons));
                return file;
            }
            catch (CheckpointException e)
            {
                reasons.Add($"{System.IO.Path.GetFileName(file)}: {e.Message}");
            }
        }
        throw new CheckpointException($"no usable checkpoint in {System.IO.Path.GetDirectoryName(Path)} ({string.Join("; ", reasons)}); move them away to start fresh");
    }

    /// <summary>
    /// Writes the peer's state as the newest checkpoint. Returns false (logged, counted, <see cref="LastError"/> set)
    /// when the state is not finite or the write failed; every previous checkpoint is then still on disk.
    /// </summary>
    public bool TrySave(SwarmPeer peer)
    {
        try
        {
            SwarmCheckpoint.Save(Path, peer, _keep);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NonFiniteStateException)
        {
            Failures++;
            // One warning when saving starts to fail, then quieter lines while it keeps failing (every round retries).
            var level = LastError is null ? LogLevel.Warning : LogLevel.Information;
            LastError = e.Message;
            _log.Log(level, "checkpoint of round {Round} not written: {Reason}; kept {Kept}; training goes on and the next round tries again",
                peer.Round, e.Message, Round is { } kept ? $"the previous one (round {kept})" : "nothing (no checkpoint yet)");
            return false;
        }
        if (LastError is not null) _log.LogInformation("checkpoint of round {Round} written again after {Failures} failed attempt(s)", peer.Round, Failures);
        LastError = null;
        Round = peer.Round;
        return true;
    }
}
