namespace Decentralized.Node.Tests.Daemon;

/// <summary>
/// A fact that needs Debian's headless Chromium and its WebDriver (scripts/setup.sh installs both). Where either is
/// missing the test reports itself skipped with the reason; where both exist it runs and must pass.
/// </summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    public const string Browser = "/usr/bin/chromium";
    public const string Driver = "/usr/bin/chromedriver";

    public ChromiumFactAttribute()
    {
        if (!File.Exists(Browser) || !File.Exists(Driver))
            Skip = $"headless Chromium not installed ({Browser} and {Driver}; run scripts/setup.sh as root or apt-get install chromium chromium-driver)";
    }
}
