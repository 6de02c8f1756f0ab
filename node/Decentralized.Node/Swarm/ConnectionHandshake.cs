using System.Security.Cryptography;
using System.Text;
using Decentralized.Protocol.Identity;
using Microsoft.Extensions.Logging;

namespace Decentralized.Node.Swarm;

/// <summary>
/// The connection gate: right after Noise, both sides send <see cref="HelloMessage"/>, then a
/// <see cref="ProofMessage"/> = HMAC-SHA256(swarm key, "decentralized/swarm-proof/v1" ‖ own id ‖ peer id ‖ peer nonce).
/// Each side checks everything after both have spoken, so both refuse with the same reason naming both
/// values. Nothing else (state, updates, peer lists) is served before the gate passes.
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
        await MessageIo.WriteAsync(stream, new HelloMessage(identity.SoftwareVersion, SwarmProtocols.Version, identity.SwarmId, identity.ConfigHash, nonce), ct);
        var hello = await MessageIo.ReadAsync<HelloMessage>(stream, messageBytesMax, ct);
        if (hello.Nonce is not { Length: 32 }) throw Refuse(remote, "malformed hello (nonce)");
        await MessageIo.WriteAsync(stream, new ProofMessage(Mac(localPeer, remote, hello.Nonce)), ct);
        var proof = await MessageIo.ReadAsync<ProofMessage>(stream, messageBytesMax, ct);

        if (hello.ProtocolVersion != SwarmProtocols.Version)
            throw Refuse(remote, $"protocol version mismatch: ours {SwarmProtocols.Version} (software {identity.SoftwareVersion}), theirs {hello.ProtocolVersion} (software {hello.SoftwareVersion})");
        if (hello.SwarmId != identity.SwarmId)
            throw Refuse(remote, $"swarm id mismatch: ours '{identity.SwarmId}', theirs '{hello.SwarmId}'");
        var expected = Mac(remote, localPeer, nonce);
        if (proof.Mac is null || !CryptographicOperations.FixedTimeEquals(proof.Mac, expected))
            throw Refuse(remote, "swarm key mismatch: the peer could not prove it holds our swarm key");
        if (hello.ConfigHash != identity.ConfigHash)
            throw Refuse(remote, $"model/optimizer config mismatch: ours {identity.ConfigHash}, theirs {hello.ConfigHash}");
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
