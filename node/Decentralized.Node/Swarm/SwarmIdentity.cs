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

    /// <summary>Hash of everything that must match across the swarm for updates to mean the same thing.</summary>
    public static string HashConfig(string modelHash, SwarmOptions swarm, string outerSettings)
    {
        var text = $"{modelHash}|{swarm.Algorithm}|H={swarm.InnerStepsPerRound}|{outerSettings}";
        return Hash(text);
    }

    /// <summary>The short config hash the gate compares, of any text that names a configuration (the pipeline daemon's, for one).</summary>
    public static string Hash(string configText) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(configText)))[..16];
}
