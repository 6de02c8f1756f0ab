using System.Diagnostics;
using Decentralized.Protocol.Noise;

namespace Decentralized.Protocol.Benchmarks;

/// <summary>
/// What the transport's own cipher costs: our <see cref="NoiseCipherState"/> sealing and opening full 65,519-byte
/// Noise frames on one core. It bounds any encrypted stream: the sending side pays the socket copy and the seal for
/// every byte, the receiving side the copy and the open, so even with both sides perfectly overlapped the stream
/// cannot beat 1 / (1/TCP + 1/cipher) per side, whatever the framing and multiplexing above it do.
/// </summary>
internal static class CipherBenchmark
{
    public static (double EncryptMBps, double DecryptMBps) Run(TimeSpan duration)
    {
        var key = new byte[NoiseCipherState.KeySize];
        new Random(7).NextBytes(key);
        using var seal = new NoiseCipherState();
        using var open = new NoiseCipherState();
        seal.InitializeKey(key);
        open.InitializeKey(key);
        var plain = new byte[NoiseSecureStream.MaxPlaintextLength];
        new Random(8).NextBytes(plain);
        var frames = new List<byte[]>();
        long sealedBytes = 0;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < duration)
        {
            var frame = new byte[plain.Length + NoiseCipherState.TagSize];
            seal.Encrypt([], plain, frame);
            // Keep a bounded number of frames to open later (in nonce order, as a receiver would).
            if (frames.Count < 4096) frames.Add(frame);
            sealedBytes += plain.Length;
        }
        double encrypt = sealedBytes / clock.Elapsed.TotalSeconds / 1e6;

        var output = new byte[plain.Length];
        long openedBytes = 0;
        clock.Restart();
        foreach (var frame in frames)
        {
            open.Decrypt([], frame, output);
            openedBytes += output.Length;
        }
        double decrypt = openedBytes / clock.Elapsed.TotalSeconds / 1e6;
        return (encrypt, decrypt);
    }

    /// <summary>The ceiling of one encrypted stream given plain TCP's rate: the slower of the two sides, each paying copy and cipher.</summary>
    public static double Ceiling(double plainMBps, double encryptMBps, double decryptMBps) =>
        Math.Min(1 / (1 / plainMBps + 1 / encryptMBps), 1 / (1 / plainMBps + 1 / decryptMBps));
}
