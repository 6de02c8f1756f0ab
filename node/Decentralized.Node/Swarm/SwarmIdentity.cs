using System.Security.Cryptography;
using System.Text;

namespace Decentralized.Node.Swarm;

/// <summary>What two peers must agree on before sharing anything: versions, swarm id and the training configuration.</summary>
/// <param name="SoftwareVersion">This build's version, reported to the other side.</param>
/// <param name="ConfigHash">Digest of the model shape and the outer algorithm settings.</param>
public sealed record SwarmIdentity(string SoftwareVersion, string SwarmId, string ConfigHash)
{
    /// <summary>The swarm protocol version this peer speaks (<see cref="SwarmProtocols.Version"/> for this build).</summary>
    public int ProtocolVersion { get; init; } = SwarmProtocols.Version;

    public static string SoftwareVersionOfThisBuild =>
        typeof(SwarmIdentity).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    /// <summary>
    /// The settings behind <see cref="ConfigHash"/>, by option name ("compress" -> "q4+ef"), sent in the gate's hello so a
    /// refusal names the settings that differ and both values, not two hashes. Empty: only the hash is known.
    /// </summary>
    public IReadOnlyDictionary<string, string> Settings { get; init; } = new Dictionary<string, string>();

    /// <summary>Settings a hello may carry, and the length of each name and value (the gate bounds what it reads).</summary>
    public const int SettingsMax = 64, SettingTextMax = 256;

    /// <summary>An identity whose config hash covers exactly <paramref name="settings"/> (sorted by name).</summary>
    public static SwarmIdentity FromSettings(string softwareVersion, string swarmId, IReadOnlyDictionary<string, string> settings)
    {
        if (settings.Count > SettingsMax || settings.Any(kv => kv.Key.Length > SettingTextMax || kv.Value.Length > SettingTextMax))
            throw new ArgumentException($"at most {SettingsMax} gate settings of {SettingTextMax} characters each");
        var text = string.Join("|", settings.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}={kv.Value}"));
        return new SwarmIdentity(softwareVersion, swarmId, Hash("settings/v1|" + text)) { Settings = settings };
    }

    /// <summary>"compress: ours 'fp32', theirs 'q4+ef'; seed: ours '1', theirs '2'" for every setting that differs.</summary>
    public string DescribeDifferences(IReadOnlyDictionary<string, string> theirs)
    {
        var names = Settings.Keys.Union(theirs.Keys).OrderBy(k => k, StringComparer.Ordinal);
        return string.Join("; ", names
            .Select(n => (Name: n, Ours: Settings.GetValueOrDefault(n), Theirs: theirs.GetValueOrDefault(n)))
            .Where(d => d.Ours != d.Theirs)
            .Select(d => $"--{d.Name}: ours '{d.Ours ?? "(not set)"}', theirs '{d.Theirs ?? "(not set)"}'"));
    }

    /// <summary>The short config hash the gate compares, of any text that names a configuration (the pipeline daemon's, for one).</summary>
    public static string Hash(string configText) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(configText)))[..16];
}
