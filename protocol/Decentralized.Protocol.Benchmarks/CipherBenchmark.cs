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
        var output = new byte[plain.Length];
        // A ring of frames reused batch after batch (no allocation in the timed loops): seal a batch, open it in nonce order.
        var frames = Enumerable.Range(0, 32).Select(_ => new byte[plain.Length + NoiseCipherState.TagSize]).ToArray();
        var sealing = new Stopwatch();
        var opening = new Stopwatch();
        long bytes = 0;
        for (int batch = 0; sealing.Elapsed + opening.Elapsed < duration || batch < 4; batch++)
        {
            bool warmUp = batch < 2;   // JIT and cipher setup are not what we measure
            if (!warmUp) sealing.Start();
            foreach (var frame in frames) seal.Encrypt([], plain, frame);
            sealing.Stop();
            if (!warmUp) opening.Start();
            foreach (var frame in frames) open.Decrypt([], frame, output);
            opening.Stop();
            if (!warmUp) bytes += (long)frames.Length * plain.Length;
        }
        return (bytes / sealing.Elapsed.TotalSeconds / 1e6, bytes / opening.Elapsed.TotalSeconds / 1e6);
    }

    /// <summary>The ceiling of one encrypted stream given plain TCP's rate: the slower of the two sides, each paying copy and cipher.</summary>
    public static double Ceiling(double plainMBps, double encryptMBps, double decryptMBps) =>
        Math.Min(1 / (1 / plainMBps + 1 / encryptMBps), 1 / (1 / plainMBps + 1 / decryptMBps));
}
