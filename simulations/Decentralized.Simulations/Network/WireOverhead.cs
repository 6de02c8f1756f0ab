namespace Decentralized.Simulations.Network;

/// <summary>
/// Bytes the real transport adds around application data, so simulated byte counts match the TCP host's:
/// <code>
///   Noise transport message:  [len u16][ciphertext ≤ 65519 B][tag 16 B]   → 18 B per 65519 B of plaintext
///   Yamux data frame:         [ver][type][flags u16][stream u32][len u32]  → 12 B per frame (≤ 256 KiB window)
/// </code>
/// TCP/IP headers are not counted (the TCP host's counters do not see them either).
/// </summary>
public static class WireOverhead
{
    /// <summary>Noise plaintext bytes per transport message.</summary>
    public const int NoisePayloadMax = 65535 - 16;

    /// <summary>Noise length prefix plus authentication tag.</summary>
    public const int NoisePerMessage = 2 + 16;

    /// <summary>Yamux frame header.</summary>
    public const int YamuxHeader = 12;

    /// <summary>Yamux's default receive window: the largest data frame a sender emits.</summary>
    public const int YamuxFrameMax = 256 * 1024;

    /// <summary>Wire bytes that carry <paramref name="payload"/> application bytes in one write.</summary>
    public static long Bytes(long payload)
    {
        if (payload <= 0) return YamuxHeader + NoisePerMessage;
        long frames = (payload + YamuxFrameMax - 1) / YamuxFrameMax;
        long framed = payload + frames * YamuxHeader;
        long noiseMessages = (framed + NoisePayloadMax - 1) / NoisePayloadMax;
        return framed + noiseMessages * NoisePerMessage;
    }

    /// <summary>A control frame (window update, FIN, SYN with a multistream-select line).</summary>
    public static long Control(int extraPayload = 0) => YamuxHeader + extraPayload + NoisePerMessage;
}
