using System.Diagnostics;
using Decentralized.Protocol.Noise;

namespace Decentralized.Protocol.Benchmarks;

/// <summary>
/// What the transport's own cipher costs: our <see cref="NoiseCipherState"/> sealing and opening full 65,519-byte
/// Noise frames. Every byte of an encrypted stream is sealed once and opened once, so the cipher bounds any stream
/// whatever the framing and multiplexing above it do: on one core per side the sender cannot beat the seal rate and
/// the receiver the open rate, and all the cores this process gets cannot seal and open faster than
/// <see cref="SealAndOpenMBps"/> with as many threads.
/// </summary>
internal static class CipherBenchmark
{
    private const int FramesPerBatch = 32;

    /// <summary>
    /// Seal and open rates on one core, timed separately: the best of windows of a few batches each, so that time this
    /// thread spends preempted on a shared machine is not counted as cipher cost.
    /// </summary>
    public static (double EncryptMBps, double DecryptMBps) Run(TimeSpan duration)
    {
        const int BatchesPerWindow = 8;
        using var pair = new CipherPair();
        pair.Seal();   // JIT and cipher setup are not what we measure
        pair.Open();
        double bestSeal = 0, bestOpen = 0;
        var total = Stopwatch.StartNew();
        var sealing = new Stopwatch();
        var opening = new Stopwatch();
        while (total.Elapsed < duration || bestSeal == 0)
        {
            sealing.Reset();
            opening.Reset();
            for (int batch = 0; batch < BatchesPerWindow; batch++)
            {
                sealing.Start();
                pair.Seal();
                sealing.Stop();
                opening.Start();
                pair.Open();
                opening.Stop();
            }
            bestSeal = Math.Max(bestSeal, BatchesPerWindow * pair.BatchBytes / sealing.Elapsed.TotalSeconds / 1e6);
            bestOpen = Math.Max(bestOpen, BatchesPerWindow * pair.BatchBytes / opening.Elapsed.TotalSeconds / 1e6);
        }
        return (bestSeal, bestOpen);
    }

    /// <summary>
    /// Bytes per second that <paramref name="threads"/> threads at once can both seal and open (each thread seals a
    /// batch, then opens it). Timed over the whole duration, preemption included: divided by <see cref="SealAndOpen"/>
    /// of the uncontended rates it says how many cores' worth this process really gets on a shared machine.
    /// </summary>
    public static double SealAndOpenMBps(TimeSpan duration, int threads)
    {
        var rates = new double[threads];
        using var start = new Barrier(threads);
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            using var pair = new CipherPair();
            pair.Seal();
            pair.Open();
            start.SignalAndWait();
            var watch = Stopwatch.StartNew();
            long bytes = 0;
            while (watch.Elapsed < duration)
            {
                pair.Seal();
                pair.Open();
                bytes += pair.BatchBytes;
            }
            rates[t] = bytes / watch.Elapsed.TotalSeconds / 1e6;
        })).ToArray();
        foreach (var worker in workers) worker.Start();
        foreach (var worker in workers) worker.Join();
        return rates.Sum();
    }

    /// <summary>Bytes per second one core can both seal and open at the given rates.</summary>
    public static double SealAndOpen(double encryptMBps, double decryptMBps) => 1 / (1 / encryptMBps + 1 / decryptMBps);

    /// <summary>The ceiling of one encrypted stream given plain TCP's rate: the slower of the two sides, each on its own core paying copy and cipher.</summary>
    public static double Ceiling(double plainMBps, double encryptMBps, double decryptMBps) =>
        Math.Min(1 / (1 / plainMBps + 1 / encryptMBps), 1 / (1 / plainMBps + 1 / decryptMBps));

    /// <summary>Two cipher states with the same key and a ring of frames reused batch after batch (no allocation in the timed loops).</summary>
    private sealed class CipherPair : IDisposable
    {
        private readonly NoiseCipherState _seal = new();
        private readonly NoiseCipherState _open = new();
        private readonly byte[] _plain = new byte[NoiseSecureStream.MaxPlaintextLength];
        private readonly byte[] _output = new byte[NoiseSecureStream.MaxPlaintextLength];
        private readonly byte[][] _frames;

        public CipherPair()
        {
            var key = new byte[NoiseCipherState.KeySize];
            new Random(7).NextBytes(key);
            _seal.InitializeKey(key);
            _open.InitializeKey(key);
            new Random(8).NextBytes(_plain);
            _frames = Enumerable.Range(0, FramesPerBatch).Select(_ => new byte[_plain.Length + NoiseCipherState.TagSize]).ToArray();
        }

        public long BatchBytes => (long)FramesPerBatch * _plain.Length;

        public void Seal()
        {
            foreach (var frame in _frames) _seal.Encrypt([], _plain, frame);
        }

        /// <summary>Opens the batch in nonce order (after <see cref="Seal"/>).</summary>
        public void Open()
        {
            foreach (var frame in _frames) _open.Decrypt([], frame, _output);
        }

        public void Dispose()
        {
            _seal.Dispose();
            _open.Dispose();
        }
    }
}
