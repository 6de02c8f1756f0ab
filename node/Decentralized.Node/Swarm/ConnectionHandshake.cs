using System.Security.Cryptography;
using System.Text;
using Decentralized.Protocol;
using Decentralized.Protocol.Identity;
using Microsoft.Extensions.Logging;

namespace Decentralized.Node.Swarm;

/// <summary>
/// The connection gate: right after Noise, both sides send <see cref="HelloMessage"/>, then a
/// <see cref="ProofMessage"/> = HMAC-SHA256(swarm key, "decentralized/swarm-proof/v1" ‖ own id ‖ peer id ‖ peer nonce).
/// Each side checks everything after both have spoken, and the verdicts cross before either side closes, so both
/// refuse with a reason naming both values. Nothing else (state, updates, peer lists) is served before the gate passes.
/// </summary>
public sealed class ConnectionHandshake(SwarmIdentity identity, byte[] swarmKey, PeerId localPeer, int messageBytesMax, ILogger log)
{
    private static readonly byte[] ProofLabel = Encoding.ASCII.GetBytes("decentralized/swarm-proof/v1");

    /// <summary>Peers refused, with the reason (for status and tests).</summary>
    public int Refused => _refused;
    private int _refused;

    public async Task RunAsync(PeerId remote, Stream stream, bool isInitiator, CancellationToken ct)
    {
        var nonce = RandomNumberGenerator.GetBytes(32);
        await MessageIo.WriteAsync(stream, new HelloMessage(identity.SoftwareVersion, identity.ProtocolVersion, identity.SwarmId, identity.ConfigHash, nonce,
            identity.Settings.Count > 0 ? new Dictionary<string, string>(identity.Settings) : null), ct);
        var hello = await MessageIo.ReadAsync<HelloMessage>(stream, messageBytesMax, ct);
        if (hello.Nonce is not { Length: 32 }) throw Refuse(remote, "malformed hello (nonce)");
        if (hello.Settings is { } settings && (settings.Count > SwarmIdentity.SettingsMax
            || settings.Any(kv => kv.Key is not { Length: <= SwarmIdentity.SettingTextMax } || kv.Value is not { Length: <= SwarmIdentity.SettingTextMax })))
            throw Refuse(remote, "malformed hello (settings)");
        await MessageIo.WriteAsync(stream, new ProofMessage(Mac(localPeer, remote, hello.Nonce)), ct);
        var proof = await MessageIo.ReadAsync<ProofMessage>(stream, messageBytesMax, ct);

        string? reason = Check(remote, hello, proof, nonce);
        // Verdicts cross before anyone closes: a side that closed at once could reset the connection before the
        // other had read the last message, and only one of the two would be able to say why.
        await MessageIo.WriteAsync(stream, new VerdictMessage(reason), ct);
        VerdictMessage? theirs = null;
        try { theirs = await MessageIo.ReadAsync<VerdictMessage>(stream, messageBytesMax, ct); }
        catch (SwarmProtocolException) when (reason is not null) { }
        catch (SwarmProtocolException e)
        {
            // We accepted them, and they closed before their verdict: when two peers dial each other at once, each
            // keeps one connection and drops the other mid-gate. Normal, so the host logs it at debug, not as a refusal.
            throw new ProtocolException(ProtocolErrorCode.ConnectionClosed, $"the peer closed the connection during the gate (a duplicate it dropped): {e.Message}");
        }
        if (reason is not null) throw Refuse(remote, reason);
        if (theirs?.Refusal is { } refusal) throw Refuse(remote, $"the peer refused us: {refusal}");
    }

    private string? Check(PeerId remote, HelloMessage hello, ProofMessage proof, byte[] nonce)
    {
        if (hello.ProtocolVersion != identity.ProtocolVersion)
            return $"protocol version mismatch: ours {identity.ProtocolVersion} (software {identity.SoftwareVersion}), theirs {hello.ProtocolVersion} (software {hello.SoftwareVersion})";
        if (hello.SwarmId != identity.SwarmId)
            return $"swarm id mismatch: ours '{identity.SwarmId}', theirs '{hello.SwarmId}'";
        var expected = Mac(remote, localPeer, nonce);
        if (proof.Mac is null || !CryptographicOperations.FixedTimeEquals(proof.Mac, expected))
            return "swarm key mismatch: the peer could not prove it holds our swarm key";
        if (hello.ConfigHash != identity.ConfigHash)
            return hello.Settings is { } theirs && identity.Settings.Count > 0 && identity.DescribeDifferences(theirs) is { Length: > 0 } differences
                ? $"settings differ (every member must use the same): {differences}"
                : $"model/optimizer config mismatch: ours {identity.ConfigHash}, theirs {hello.ConfigHash}";
        return null;
    }

    private byte[] Mac(PeerId prover, PeerId verifier, byte[] verifierNonce)
    {
        using var hmac = new HMACSHA256(swarmKey.Length > 0 ? swarmKey : [0]);
        hmac.TransformBlock(ProofLabel, 0, ProofLabel.Length, null, 0);
        var p = prover.ToByteArray(); hmac.TransformBlock(p, 0, p.Length, null, 0);
        var v = verifier.ToByteArray(); hmac.TransformBlock(v, 0, v.Length, null, 0);
        hmac.TransformFinalBlock(verifierNonce, 0, verifierNonce.Length);
        return hmac.Hash!;
    }

    private SwarmProtocolException Refuse(PeerId remote, string reason)
    {
        Interlocked.Increment(ref _refused);
        log.LogWarning("refused peer {Peer}: {Reason}", remote, reason);
        return new SwarmProtocolException($"refused peer {remote}: {reason}");
    }
}
