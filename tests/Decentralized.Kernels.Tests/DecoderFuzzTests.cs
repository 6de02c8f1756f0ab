using Decentralized.Tests.Fuzzing;

namespace Decentralized.Kernels.Tests;

/// <summary>Fuzzing of the update decoder through the shared <see cref="Fuzzer"/>: random blobs, mutations of valid
/// blobs, and structure-aware forgeries whose checksums are valid so the checks behind them are reached. Every
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

    // One layout for every seed, so the shape-checking decode (what the round engine calls) can accept them all.
    private static readonly (string Name, int[] Shape)[] Layout = [("a", [257]), ("b.c", [3, 17])];

    public static TheoryData<bool> Modes => new() { false, true };

    [Theory]
    [MemberData(nameof(Modes))]
    public void Random_and_mutated_blobs_never_crash_or_hang(bool intoTensors)
    {
        var report = Fuzzer.CheckShort(Target(intoTensors), output);
        // The fuzzer must reach past the checksums, not just bounce off them.
        Assert.True(report.Refused.Count >= 5, report.ToString());
    }

    [Theory]
    [MemberData(nameof(Modes))]
    [Trait("Category", "Slow")]
    public void Blobs_at_scale(bool intoTensors) => Fuzzer.CheckAtScale(Target(intoTensors), output);

    private static FuzzTarget Target(bool intoTensors)
    {
        var random = new Random(1001);
        var seeds = Chains.Select(spec => MakeValid(spec, Layout, random)).ToList();
        // The decode that checks no shapes also gets other layouts, an empty tensor among them.
        if (!intoTensors) seeds.AddRange(Chains.Select(spec => MakeValid(spec, [("a", [random.Next(1, 300)]), ("b.c", [random.Next(0, 4), 17])], random)));
        Action<byte[]> decode = intoTensors
            ? blob => PseudoGradientDecoder.DecodeInto(new MemoryStream(blob), Layout.Select(t => new TensorTarget(t.Name, t.Shape, new float[t.Shape.Aggregate(1, (x, y) => x * y)])).ToList(), Limits)
            : blob => PseudoGradientDecoder.Decode(new MemoryStream(blob), Limits);
        return new FuzzTarget(intoTensors ? "update blob into tensors" : "update blob", seeds, decode, typeof(CodecException))
        {
            Forge = r => r.Next(4) switch { 0 => Forge(r), 1 => ForgeLz4(r), 2 => ForgeAns(r), _ => RandomBytes(r) },
            Label = e => ((CodecException)e).Code.ToString(),
        };
    }

    private static byte[] MakeValid(string spec, (string Name, int[] Shape)[] layout, Random random)
    {
        List<TensorView> tensors = layout.Select(t => new TensorView(t.Name, t.Shape,
            TestData.Make(random, t.Shape.Aggregate(1, (x, y) => x * y), TestData.AllShapes[random.Next(TestData.AllShapes.Length)]))).ToList();
        var blob = new MemoryStream();
        new PseudoGradientEncoder(CodecChain.Parse(spec), new EncoderLimits { ChunkElements = 64 })
            .Encode(tensors, blob, new ErrorFeedbackState(), random.Next());
        return blob.ToArray();
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
            stored = Fuzzer.Mutate(random, [stored]);
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
