namespace Decentralized.Cli;

/// <summary>
/// One process per data dir (and per identity key): a lock file held open exclusively for the process's life. Two nodes
/// started with the same defaults would otherwise resume each other's live checkpoint and share a peer id. The lock
/// goes with the process (a kill -9 releases it), and the file records the pid for the error message.
/// </summary>
public sealed class ProcessLock : IDisposable
{
    private readonly FileStream _stream;

    private ProcessLock(FileStream stream) => _stream = stream;

    /// <param name="path">The lock file.</param>
    /// <param name="what">What it protects, as the user named it: "data dir /x (--data-dir)".</param>
    public static ProcessLock Acquire(string path, string what)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        try
        {
            var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            stream.SetLength(0);
            using (var writer = new StreamWriter(stream, leaveOpen: true)) writer.Write(Environment.ProcessId);
            stream.Flush();
            return new ProcessLock(stream);
        }
        catch (IOException) when (File.Exists(path))
        {
            string holder;
            try { holder = File.ReadAllText(path).Trim(); } catch (IOException) { holder = "?"; }
            throw new IOException($"{what} is in use by another node (pid {holder}); give each node its own --data-dir and --key-file");
        }
    }

    public void Dispose() => _stream.Dispose();
}
