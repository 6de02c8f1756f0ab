using Decentralized.Kernels.Entropy;
using Decentralized.Kernels.Reference;

namespace Decentralized.Kernels.Tests;

/// <summary>The <c>ans</c> stage: the fast rANS coder against its scalar reference (identical streams,
/// each decodes the other's), lossless round trips of every layout, the bytes it saves on bell-shaped
/// codes, and typed refusal of malformed entropy-coded chunks.</summary>
public class EntropyStageTests
{
    public static TheoryData<bool, int> LaneShapes => new()
    {
        { true, 1 }, { false, 1 }, { false, 2 }, { false, 4 },
    };

    [Theory]
    [MemberData(nameof(LaneShapes))]
    public void Fast_and_reference_rans_write_the_same_stream_and_read_each_other(bool nibbles, int stride)
    {
        using var fast = new RansCoder();
        var reference = new RansReferenceCoder();
        var table = new RansTable();
        foreach (int seed in new[] { 1, 2, 3 })
        {
            var random = new Random(seed);
            foreach (int symbols in new[] { 2, 3, 5, 7, 8, 9, 63, 64, 65, 1001, 4096, 70_001 })
            {
                foreach (double skew in new[] { 0.3, 1.0, 4.0 })
                {
                    int count = nibbles ? symbols + symbols % 2 : symbols;
                    int rawLength = nibbles ? count / 2 : (count - 1) * stride + 1;
                    byte[] raw = new byte[rawLength + 3];
                    var lane = new Lane(1, nibbles ? 1 : stride, count, nibbles);
                    for (int i = 0; i < count; i++)
                    {
                        lane.SetSymbolAt(raw, i, Skewed(random, lane.Alphabet, skew));
                    }

                    lane.SetSymbolAt(raw, 0, 0);
                    lane.SetSymbolAt(raw, count - 1, lane.Alphabet - 1); // at least two distinct symbols
                    string where = $"seed {seed}, {count} symbols, skew {skew}, nibbles {nibbles}, stride {stride}";

                    uint[] fastCounts = new uint[lane.Alphabet];
                    uint[] referenceCounts = new uint[lane.Alphabet];
                    fast.Count(raw, lane, fastCounts);
                    reference.Count(raw, lane, referenceCounts);
                    Assert.True(fastCounts.AsSpan().SequenceEqual(referenceCounts), $"histograms differ: {where}");

                    table.Normalize(fastCounts);
                    byte[] fastStream = new byte[IRansCoder.MaxStreamLength(count)];
                    byte[] referenceStream = new byte[fastStream.Length];
                    int fastLength = fast.Encode(raw, lane, table, fastStream);
                    int referenceLength = reference.Encode(raw, lane, table, referenceStream);
                    Assert.True(fastStream.AsSpan(0, fastLength).SequenceEqual(referenceStream.AsSpan(0, referenceLength)), $"streams differ: {where}");

                    byte[] byFast = new byte[raw.Length];
                    byte[] byReference = new byte[raw.Length];
                    fast.Decode(referenceStream.AsSpan(0, referenceLength), table, byFast, lane);
                    reference.Decode(fastStream.AsSpan(0, fastLength), table, byReference, lane);
                    for (int i = 0; i < count; i++)
                    {
                        Assert.True(lane.SymbolAt(raw, i) == lane.SymbolAt(byFast, i) && lane.SymbolAt(raw, i) == lane.SymbolAt(byReference, i),
                            $"symbol {i} decodes wrong: {where}");
                    }
                }
            }
        }
    }

    [Fact]
    public void Normalized_tables_sum_to_4096_keep_every_present_symbol_and_round_trip_their_bytes()
    {
        var random = new Random(4);
        var table = new RansTable();
        var read = new RansTable();
        for (int trial = 0; trial < 500; trial++)
        {
            int alphabet = trial % 2 == 0 ? 16 : 256;
            uint[] counts = new uint[alphabet];
            int present = random.Next(2, alphabet + 1);
            for (int k = 0; k < present; k++)
            {
                counts[random.Next(alphabet)] += trial % 3 == 0 ? 1u : (uint)random.Next(1, 1 << random.Next(1, 24));
            }

            if (counts.Count(c => c != 0) < 2)
            {
                continue;
            }

            table.Normalize(counts);
            Assert.Equal(RansTable.Total, table.Frequencies.ToArray().Sum(f => f));
            for (int s = 0; s < alphabet; s++)
            {
                Assert.Equal(counts[s] != 0, table.Frequencies[s] != 0);
            }

            byte[] bytes = new byte[table.SerializedLength];
            Assert.Equal(bytes.Length, table.Write(bytes));
            Assert.Equal(bytes.Length, read.Read(bytes, alphabet));
            Assert.True(table.Frequencies.SequenceEqual(read.Frequencies), $"trial {trial}");
        }
    }

    public static TheoryData<string> Chains => new()
    {
        "q4+ans", "q4:bf16+ans", "q4:48:sr+ans", "q8+ans", "q8:bf16:sr+ans", "fp32+ans", "bf16+ans", "fp16+ans",
        "topk:0.1+q4+ans", "topk:0.3+q8:bf16+ans", "topk:5+fp32+ans",
    };

    [Theory]
    [MemberData(nameof(Chains))]
    public void Chunks_round_trip_losslessly_and_the_reference_stores_the_same_bytes(string spec)
    {
        CodecChain chain = CodecChain.Parse(spec);
        using var fast = new AnsChunkCodec(reference: false);
        using var reference = new AnsChunkCodec(reference: true);
        var segments = new AnsSegment[AnsLayout.MaxSegments];
        foreach (int seed in new[] { 5, 6 })
        {
            var random = new Random(seed);
            foreach (int n in TestData.Lengths(random))
            {
                foreach (TestData.Shape shape in TestData.AllShapes)
                {
                    float[] values = TestData.Make(random, n, shape);
                    byte[] raw = RawChunk(chain, values, seed);
                    string where = TestData.Describe(seed, n, shape, spec);
                    int used = AnsLayout.Split(chain, raw, n, segments);
                    byte[] fastStored = new byte[AnsChunkCodec.MaxStoredLength(raw.Length)];
                    byte[] referenceStored = new byte[fastStored.Length];
                    int fastLength = fast.Encode(raw, segments.AsSpan(0, used), fastStored);
                    int referenceLength = reference.Encode(raw, segments.AsSpan(0, used), referenceStored);
                    Assert.True(fastStored.AsSpan(0, fastLength).SequenceEqual(referenceStored.AsSpan(0, referenceLength)), $"stored bytes differ: {where}");
                    Assert.True(fastLength <= raw.Length + 4 * used + 16, $"{fastLength} stored bytes for {raw.Length} raw: {where}");

                    byte[] decoded = new byte[raw.Length];
                    fast.Decode(fastStored.AsSpan(0, fastLength), decoded);
                    Assert.True(decoded.AsSpan().SequenceEqual(raw), $"fast decode differs: {where}");
                    decoded.AsSpan().Fill(0xAA);
                    reference.Decode(fastStored.AsSpan(0, fastLength), decoded);
                    Assert.True(decoded.AsSpan().SequenceEqual(raw), $"reference decode differs: {where}");
                }
            }
        }
    }

    [Theory]
    [InlineData("q4+ef+ans", "q4+ef")]
    [InlineData("q4:bf16+ef+ans", "q4:bf16+ef")]
    [InlineData("q8+ans", "q8")]
    [InlineData("topk:0.01+ef+q8+ans", "topk:0.01+ef+q8")]
    public void The_stage_is_lossless_over_a_whole_blob_and_never_costs_more(string withAns, string without)
    {
        var random = new Random(7);
        foreach (TestData.Shape shape in TestData.AllShapes)
        {
            int n = 50_000 + random.Next(100);
            float[] values = TestData.Make(random, n, shape);
            float[] coded = new float[n];
            float[] plain = new float[n];
            long codedBytes = CodecChain.Parse(withAns).RoundTrip(values, coded, new ErrorFeedbackState(), "w", 1, new EncoderLimits { ChunkElements = 8192 });
            long plainBytes = CodecChain.Parse(without).RoundTrip(values, plain, new ErrorFeedbackState(), "w", 1, new EncoderLimits { ChunkElements = 8192 });
            Assert.Equal(plain, coded);
            // The header names the chain, so "+ans" costs its four characters there.
            Assert.True(codedBytes <= plainBytes + 4, $"{shape}: {withAns} {codedBytes} bytes, {without} {plainBytes}");
        }
    }

    [Fact]
    public void Four_bit_codes_of_bell_shaped_data_cost_their_entropy_not_four_bits()
    {
        // 1M Gaussian and 1M Laplacian values: q4+ans must beat q4 by the codes' entropy gap
        // (3.50 and 3.07 bits against 4 at block 64) and reach 8x fewer bytes than fp32.
        const int n = 1 << 20;
        var random = new Random(8);
        float[] gaussian = new float[n];
        float[] laplacian = new float[n];
        for (int i = 0; i < n; i++)
        {
            gaussian[i] = TestData.Gaussian(random) * 1e-3f;
            double u = random.NextDouble() - 0.5;
            laplacian[i] = (float)(-Math.Sign(u) * Math.Log(1 - 2 * Math.Abs(u))) * 1e-3f;
        }

        double Ratio(string spec, float[] values) =>
            4.0 * n / new PseudoGradientEncoder(CodecChain.Parse(spec)).Encode([new TensorView("w", [n], values)], Stream.Null);

        Assert.InRange(Ratio("q4", gaussian), 7.0, 7.2);
        Assert.True(Ratio("q4+ans", gaussian) >= 8.0, $"gaussian q4+ans {Ratio("q4+ans", gaussian):F3}");
        Assert.True(Ratio("q4:bf16+ans", gaussian) >= 8.5, $"gaussian q4:bf16+ans {Ratio("q4:bf16+ans", gaussian):F3}");
        Assert.True(Ratio("q4+ans", laplacian) >= 8.8, $"laplacian q4+ans {Ratio("q4+ans", laplacian):F3}");
        Assert.True(Ratio("q4:bf16+ans", laplacian) >= 9.5, $"laplacian q4:bf16+ans {Ratio("q4:bf16+ans", laplacian):F3}");
    }

    [Fact]
    public void Zeros_and_a_single_symbol_cost_a_few_bytes_per_chunk()
    {
        const int n = 1 << 18;
        var encoder = new PseudoGradientEncoder(CodecChain.Parse("q4+ans"));
        long zeros = encoder.Encode([new TensorView("w", [n], new float[n])], Stream.Null);
        float[] constant = Enumerable.Repeat(0.25f, n).ToArray();
        long same = encoder.Encode([new TensorView("w", [n], constant)], Stream.Null);
        int chunks = n / EncoderLimits.Default.ChunkElements;
        Assert.True(zeros < 100 + chunks * (WireFormat.ChunkHeaderBytes + 16), $"{zeros} bytes for zeros");
        Assert.True(same < 100 + chunks * (WireFormat.ChunkHeaderBytes + 16), $"{same} bytes for a constant");

        var blob = new MemoryStream();
        encoder.Encode([new TensorView("w", [n], constant)], blob);
        blob.Position = 0;
        Assert.Equal(constant, PseudoGradientDecoder.Decode(blob, DecoderLimits.Default)[0].Values);
    }

    [Theory]
    [InlineData("", "ends after 0")]
    [InlineData("03 10 00", "unknown form")]
    [InlineData("11 00", "does not fit")]
    [InlineData("11 11 00", "does not fit")]
    [InlineData("11 10 07", "unknown mode")]
    [InlineData("11 10 01 10", "outside its alphabet")]
    [InlineData("11 10 00 01 02", "truncated")]
    [InlineData("11 10 01 03 FF", "bytes follow")]
    [InlineData("11 10 02 0300 FF0F FF0F 80", "inside a varint")]
    [InlineData("11 10 02 0300 FF0F FF0F 05 0000", "is truncated")]
    [InlineData("11 10 02 0300 FF0F FF0F 02 0000", "not 16 bytes of state")]
    [InlineData("11 10 02 0300 FF0F FF0F 10 00000000 00000100 00000100 00000100", "below 2^16")]
    [InlineData("11 10 02 0300 FF0F FF0F 12 00000100 00000100 00000100 00000100 0000", "ends before its last symbol")]
    [InlineData("11 10 02 0100 FF1F 10 01000100 00000100 00000100 00000100", "initial state")]
    [InlineData("11 10 02 0300 FF1F 00 10", "sum to")]
    [InlineData("01 FFFFFFFF0F", "above 2^31")]
    [InlineData("01 FFFFFFFF8F01", "above 2^31")]
    public void Malformed_entropy_coded_chunks_are_refused_with_a_typed_error(string hex, string why)
    {
        // Chunks that should cover 16 raw bytes.
        byte[] stored = Convert.FromHexString(hex.Replace(" ", ""));
        foreach (bool reference in new[] { false, true })
        {
            using var codec = new AnsChunkCodec(reference);
            var error = Assert.Throws<CodecException>(() => codec.Decode(stored, new byte[16]));
            Assert.Equal(CodecErrorCode.Malformed, error.Code);
            Assert.Contains(why, error.Message);
        }
    }

    [Fact]
    public void A_hand_written_chunk_decodes_as_documented()
    {
        // Two nibble segments of 8 bytes: one constant (symbol 3), one stored.
        byte[] stored = Convert.FromHexString("1108" + "0103" + "1108" + "00" + "0102030405060708");
        byte[] raw = new byte[16];
        using var codec = new AnsChunkCodec(reference: false);
        codec.Decode(stored, raw);
        Assert.Equal(Convert.FromHexString("3333333333333333" + "0102030405060708"), raw);
    }

    [Fact]
    public void More_than_eight_segments_are_refused()
    {
        // Nine one-byte stored segments for 9 raw bytes.
        byte[] stored = Enumerable.Range(0, 9).SelectMany(_ => new byte[] { 0x01, 0x01, 0x00, 0x2A }).ToArray();
        using var codec = new AnsChunkCodec(reference: false);
        codec.Decode(stored.AsSpan(0, 32), new byte[8]);
        var error = Assert.Throws<CodecException>(() => codec.Decode(stored, new byte[9]));
        Assert.Contains("more than 8 segments", error.Message);
    }

    [Fact]
    public void An_ans_flagged_chunk_in_a_chain_without_ans_is_refused()
    {
        byte[] blob = BlobForge.BuildStored("q4+lz4", 64, "w", [64], [(36, (byte)2, new byte[10])]);
        var error = Assert.Throws<CodecException>(() => PseudoGradientDecoder.Decode(new MemoryStream(blob), DecoderLimits.Default));
        Assert.Equal(CodecErrorCode.Malformed, error.Code);
        blob = BlobForge.BuildStored("q4+ans", 64, "w", [64], [(36, (byte)1, new byte[10])]);
        error = Assert.Throws<CodecException>(() => PseudoGradientDecoder.Decode(new MemoryStream(blob), DecoderLimits.Default));
        Assert.Equal(CodecErrorCode.Malformed, error.Code);
    }

    [Theory]
    [InlineData(31)]
    [InlineData(32)]
    public void Fast_and_reference_decoders_agree_on_mutated_chunks(int seed)
    {
        // Differential fuzzing below the checksums: both decoders must refuse the same inputs with a
        // typed error, and decode the rest to the same bytes.
        var random = new Random(seed);
        string[] specs = ["q4+ans", "q4:bf16+ans", "q8+ans", "fp32+ans", "topk:0.3+q4+ans"];
        using var fast = new AnsChunkCodec(reference: false);
        using var reference = new AnsChunkCodec(reference: true);
        var segments = new AnsSegment[AnsLayout.MaxSegments];
        var outcomes = new Dictionary<string, int>();
        for (int iteration = 0; iteration < 3000; iteration++)
        {
            CodecChain chain = CodecChain.Parse(specs[iteration % specs.Length]);
            int n = random.Next(1, 3000);
            byte[] raw = RawChunk(chain, TestData.Make(random, n, TestData.AllShapes[random.Next(TestData.AllShapes.Length)]), seed);
            int used = AnsLayout.Split(chain, raw, n, segments);
            byte[] stored = new byte[AnsChunkCodec.MaxStoredLength(raw.Length)];
            stored = stored[..fast.Encode(raw, segments.AsSpan(0, used), stored)];
            for (int flips = random.Next(1, 4); flips > 0 && stored.Length > 0; flips--)
            {
                int at = random.Next(stored.Length);
                stored[at] = random.Next(3) == 0 ? (byte)random.Next(256) : (byte)(stored[at] ^ (1 << random.Next(8)));
            }

            if (random.Next(8) == 0)
            {
                stored = stored[..random.Next(stored.Length + 1)];
            }

            int rawLength = random.Next(10) == 0 ? random.Next(1, 2 * raw.Length + 2) : raw.Length;
            string byFast = Outcome(fast, stored, rawLength, out byte[] fastRaw);
            string byReference = Outcome(reference, stored, rawLength, out byte[] referenceRaw);
            Assert.True(byFast == byReference, $"seed {seed} iteration {iteration}: fast {byFast}, reference {byReference}; stored {Convert.ToHexString(stored)}");
            if (byFast == "ok")
            {
                Assert.Equal(referenceRaw, fastRaw);
            }

            string kind = byFast.Split(' ')[0];
            outcomes[kind] = outcomes.GetValueOrDefault(kind) + 1;
        }

        Assert.True(outcomes.Count >= 2 && outcomes.GetValueOrDefault("Malformed:") > 1000, string.Join(", ", outcomes));
    }

    private static string Outcome(AnsChunkCodec codec, byte[] stored, int rawLength, out byte[] raw)
    {
        raw = new byte[rawLength];
        try
        {
            codec.Decode(stored, raw);
            return "ok";
        }
        catch (CodecException error)
        {
            Assert.Equal(CodecErrorCode.Malformed, error.Code);
            return error.Message;
        }
    }

    // The raw chunk the encoder would frame for `values` (one chunk).
    private static byte[] RawChunk(CodecChain chain, float[] values, int seed)
    {
        using var codec = new ChunkCodec(chain, Math.Max(16, values.Length), reference: false);
        byte[] raw = new byte[codec.RawLengthBound(values.Length)];
        var cursor = chain.TopK is null ? default : new SparseCursor(codec.Select(values));
        int length = codec.Encode(values, raw, new RoundingContext((uint)seed, 0), ref cursor);
        return raw[..length];
    }

    private static int Skewed(Random random, int alphabet, double skew)
    {
        // A discretised two-sided geometric around the middle: skew 0.3 is nearly uniform, 4 is peaked.
        double u = random.NextDouble();
        int magnitude = (int)(-Math.Log(1 - u) * alphabet / (2 * skew * 2));
        int symbol = alphabet / 2 + (random.Next(2) == 0 ? magnitude : -magnitude);
        return Math.Clamp(symbol, 0, alphabet - 1);
    }
}
