using System.Diagnostics;

namespace Decentralized.Kernels.Tests;

/// <summary>Bounded fuzzing of the decoder: random blobs, byte-level mutations of valid blobs, and
/// structure-aware forgeries whose checksums are valid so the checks behind them are reached. Every
/// outcome must be a successful decode or a <see cref="CodecException"/>, quickly.</summary>
public class DecoderFuzzTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly string[] Chains =
        ["fp32", "bf16+lz4", "fp16", "q8", "q8:16:sr+lz4", "q4", "q4:48+lz4", "topk:0.1+q8", "topk:0.5+q4+lz4", "topk:3+fp16",
         "q4+ans", "q8:bf16+ans", "q4:48:bf16:sr", "topk:0.2+q4:bf16+ans", "fp32+ans"];

    private static readonly string[] AnsChains = ["q4+ans", "q4:bf16+ans", "q8+ans", "fp32+ans", "bf16+ans", "topk:0.3+q4+ans", "topk:0.2+q8:bf16+ans"];

    private static readonly DecoderLimits Limits = new()
    {
        MaxBlobBytes = 1 << 20, MaxTotalElements = 1 << 20, MaxElementsPerTensor = 1 << 20, MaxTensorCount = 64,
    };

    [Theory]
    [InlineData(1001)]
    [InlineData(1002)]
    public void Random_and_mutated_blobs_never_crash_or_hang(int seed)
    {
        var random = new Random(seed);
        List<(byte[] Blob, List<TensorView> Tensors)> corpus = Chains.Select(spec => MakeValid(spec, random)).ToList();
        var outcomes = new Dictionary<string, int>();
        var clock = Stopwatch.StartNew();
        for (int iteration = 0; iteration < 5000; iteration++)
        {
            (byte[] source, List<TensorView> tensors) = corpus[random.Next(corpus.Count)];
            byte[] blob = (iteration % 5) switch
            {
                0 => Mutate(source, random),
                1 => Forge(random),
                2 => ForgeLz4(random),
                3 => iteration % 10 == 3 ? RandomBytes(random) : Mutate(Mutate(source, random), random),
                _ => ForgeAns(random),
            };
            bool forged = iteration % 5 is 1 or 2 or 4;
            string outcome = Run(blob, forged ? null : tensors, seed, iteration);
            outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
        }

        output.WriteLine($"seed {seed}, {clock.Elapsed.TotalSeconds:F1} s: " + string.Join(", ", outcomes.OrderBy(o => o.Key).Select(o => $"{o.Key}={o.Value}")));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"fuzzing took {clock.Elapsed}");

        // The fuzzer must reach past the checksums, not just bounce off them.
        Assert.True(outcomes.Count >= 5, string.Join(", ", outcomes.Select(o => $"{o.Key}={o.Value}")));
    }

    private static string Run(byte[] blob, List<TensorView>? tensors, int seed, int iteration)
    {
        try
        {
            if (tensors is null || iteration % 2 == 0)
            {
                PseudoGradientDecoder.Decode(new MemoryStream(blob), Limits);
            }
            else
            {
                var targets = tensors.Select(t => new TensorTarget(t.Name, t.Shape, new float[t.Values.Length])).ToList();
                PseudoGradientDecoder.DecodeInto(new MemoryStream(blob), targets, Limits);
            }

            return "ok";
        }
        catch (CodecException error)
        {
            return error.Code.ToString();
        }
        catch (Exception error)
        {
            string hex = Convert.ToHexString(blob.AsSpan(0, Math.Min(blob.Length, 256)));
            Assert.Fail($"seed {seed} iteration {iteration}: {error.GetType().Name}: {error.Message}\nblob[..256] = {hex}\n{error.StackTrace}");
            throw;
        }
    }

    private static (byte[], List<TensorView>) MakeValid(string spec, Random random)
    {
        List<TensorView> tensors =
        [
            new("a", [random.Next(1, 300)], Array.Empty<float>()),
            new("b.c", [random.Next(0, 4), 17], Array.Empty<float>()),
        ];
        tensors = tensors.Select(t => t with
        {
            Values = TestData.Make(random, t.Shape.Aggregate(1, (x, y) => x * y), TestData.AllShapes[random.Next(TestData.AllShapes.Length)]),
        }).ToList();
        var blob = new MemoryStream();
        new PseudoGradientEncoder(CodecChain.Parse(spec), new EncoderLimits { ChunkElements = 64 })
            .Encode(tensors, blob, new ErrorFeedbackState(), random.Next());
        return (blob.ToArray(), tensors);
    }

    private static byte[] Mutate(byte[] blob, Random random)
    {
        var bytes = new List<byte>(blob);
        switch (random.Next(6))
        {
            case 0:
                for (int i = random.Next(1, 9); i > 0 && bytes.Count > 0; i--)
                {
                    bytes[random.Next(bytes.Count)] ^= (byte)(1 << random.Next(8));
                }

                break;
            case 1:
                if (bytes.Count > 0)
                {
                    bytes[random.Next(bytes.Count)] = new byte[] { 0, 0xFF, 0x7F, 0x80, 1 }[random.Next(5)];
                }

                break;
            case 2:
                return blob[..random.Next(blob.Length + 1)];
            case 3:
                int from = random.Next(bytes.Count + 1);
                bytes.InsertRange(from, RandomBytes(random).Take(random.Next(1, 40)));
                break;
            case 4:
                if (bytes.Count > 10)
                {
                    int start = random.Next(bytes.Count - 5);
                    bytes.RemoveRange(start, random.Next(1, Math.Min(40, bytes.Count - start)));
                }

                break;
            default:
                // Overwrite a 32-bit field near the front (counts, lengths) with an extreme value.
                if (bytes.Count > 24)
                {
                    int field = random.Next(0, Math.Min(bytes.Count - 4, 64));
                    byte[] value = BitConverter.GetBytes(new[] { uint.MaxValue, 0x80000000u, 0u, 1u << 22, 65537u }[random.Next(5)]);
                    for (int i = 0; i < 4; i++)
                    {
                        bytes[field + i] = value[i];
                    }
                }

                break;
        }

        return bytes.ToArray();
    }

    private static byte[] RandomBytes(Random random)
    {
        byte[] bytes = new byte[random.Next(0, 2000)];
        random.NextBytes(bytes);
        if (bytes.Length >= 5 && random.Next(2) == 0)
        {
            BitConverter.GetBytes(WireFormat.Magic).CopyTo(bytes, 0);
            bytes[4] = WireFormat.Version;
        }

        return bytes;
    }

    // Valid framing and checksums around random raw chunks of plausible (and implausible) lengths.
    private static byte[] Forge(Random random)
    {
        string spec = Chains[random.Next(Chains.Length)];
        int n = random.Next(0, 200);
        int chunk = 64;
        var chunks = new List<byte[]>();
        for (int start = 0; start < n; start += chunk)
        {
            int count = Math.Min(chunk, n - start);
            int length = random.Next(3) == 0 ? random.Next(0, 600) : ValueKernels.Create(CodecChain.Parse(spec).Value).EncodedLength(count) + (spec.StartsWith("topk") ? 9 + random.Next(0, 10) : 0);
            byte[] raw = new byte[length];
            random.NextBytes(raw);
            if (random.Next(2) == 0)
            {
                // Mostly-sane content: small codes and modest scales.
                for (int i = 0; i < raw.Length; i++)
                {
                    raw[i] &= 0x3F;
                }
            }

            chunks.Add(raw);
        }

        return BlobForge.Build(spec, chunk, [("w", [n], chunks.ToArray())], lz4Flagged: spec.Contains("lz4"));
    }

    // ans-flagged chunks with valid checksums whose stored bytes are a real entropy coding of a real
    // chunk, usually mutated (so the segment, lane, table and rANS checks are reached), with the true
    // or a wrong raw length.
    private static byte[] ForgeAns(Random random)
    {
        string spec = AnsChains[random.Next(AnsChains.Length)];
        CodecChain chain = CodecChain.Parse(spec);
        int n = random.Next(1, 400);
        float[] values = TestData.Make(random, n, TestData.AllShapes[random.Next(TestData.AllShapes.Length)]);
        using var codec = new ChunkCodec(chain, n, reference: false);
        byte[] raw = new byte[codec.RawLengthBound(n)];
        var cursor = chain.TopK is null ? default : new SparseCursor(codec.Select(values));
        raw = raw[..codec.Encode(values, raw, new RoundingContext(1, 0), ref cursor)];
        var segments = new Entropy.AnsSegment[Entropy.AnsLayout.MaxSegments];
        int used = Entropy.AnsLayout.Split(chain, raw, n, segments);
        byte[] stored = new byte[Entropy.AnsChunkCodec.MaxStoredLength(raw.Length)];
        using var ans = new Entropy.AnsChunkCodec(reference: false);
        stored = stored[..ans.Encode(raw, segments.AsSpan(0, used), stored)];
        if (random.Next(4) != 0)
        {
            stored = Mutate(stored, random);
        }

        int rawLength = random.Next(5) == 0 ? random.Next(0, 2 * raw.Length + 2) : raw.Length;
        return BlobForge.BuildStored(spec, n, "w", [n], [(rawLength, (byte)2, stored)]);
    }

    // LZ4-flagged chunks whose stored bytes are garbage or truncated real LZ4 blocks.
    private static byte[] ForgeLz4(Random random)
    {
        int n = random.Next(1, 64);
        int raw = 4 * n;
        byte[] stored = new byte[random.Next(1, raw)];
        random.NextBytes(stored);
        return BlobForge.BuildStored("fp32+lz4", 64, "w", [n], [(raw, (byte)1, stored)]);
    }
}
