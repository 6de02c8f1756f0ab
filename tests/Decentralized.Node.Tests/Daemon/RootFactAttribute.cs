namespace Decentralized.Node.Tests.Daemon;

/// <summary>
/// A fact that mounts a small tmpfs to run out of disk space for real, so it needs root. Elsewhere the test reports
/// itself skipped with the reason; as root it runs and must pass.
/// </summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (!OperatingSystem.IsLinux() || Environment.UserName != "root")
            Skip = "needs root on Linux to mount a small tmpfs (a disk that really fills up)";
    }
}
