namespace Decentralized.Kernels.Tests;

public class BlobRoundTripTests
{
    public static TheoryData<string> Chains => new()
    {
        "fp32", "fp32+lz4", "bf16", "fp16+lz4", "q8", "q8:128:sr+lz4", "q4", "q4:48:sr", "topk:0.05+q8", "topk:0.3+q4+lz4",
        "topk:100+fp32", "topk:1.0+bf16", "topk:0.01+ef+q8", "ef+q4:sr+lz4",
        "q4+ef+ans", "q4:bf16+ef+ans", "q8:128:bf16:sr+ans", "topk:0.05+q4:bf16+ans", "topk:0.01+ef+q8+ans", "fp32+ans", "bf16+ans",
    };

    private static List<TensorView> Model(int seed)
    {
        var random = new Random(seed);
        return
        [
            new("embed.weight", [37, 129], TestData.Make(random, 37 * 129, TestData.Shape.Normal)),
            new("blocks.0.ln.bias", [129], TestData.Make(random, 129, TestData.Shape.WithZeros)),
            new("scalar", [], TestData.Make(random, 1, TestData.Shape.Normal)),
            new("empty", [0, 5], Array.Empty<float>()),
            new("big", [70_001], TestData.Make(random, 70_001, TestData.Shape.WideRange)),
            new("zeros", [3, 3], new float[9]),
            new("ünïcödé/name", [2, 2, 2], TestData.Make(random, 8, TestData.Shape.Subnormal)),
        ];
    }

    [Theory]
    [MemberData(nameof(Chains))]
    public void Decode_and_decode_into_agree_and_match_round_trip(string spec)
    {
        CodecChain chain = CodecChain.Parse(spec);
        List<TensorView> tensors = Model(7);
        var limits = new EncoderLimits { ChunkElements = 4096 };
        var blob = new MemoryStream();
        long written = new PseudoGradientEncoder(chain, limits).Encode(tensors, blob, new ErrorFeedbackState(), seed: 3);
        Assert.Equal(blob.Length, written);

        blob.Position = 0;
        var decoded = PseudoGradientDecoder.Decode(blob, DecoderLimits.Default);
        Assert.Equal(blob.Length, blob.Position);
        Assert.Equal(tensors.Select(t => t.Name), decoded.Select(d => d.Name));
        var targets = tensors.Select(t => new TensorTarget(t.Name, t.Shape, new float[t.Values.Length])).Reverse().ToList();
        blob.Position = 0;
        PseudoGradientDecoder.DecodeInto(blob, targets, DecoderLimits.Default);

        var feedback = new ErrorFeedbackState();
        for (int t = 0; t < tensors.Count; t++)
        {
            Assert.Equal(tensors[t].Shape, decoded[t].Shape);
            float[] into = targets.Single(x => x.Name == tensors[t].Name).Destination.ToArray();
            Assert.Equal(decoded[t].Values, into);
            float[] roundTrip = new float[tensors[t].Values.Length];
            long bytes = chain.RoundTrip(tensors[t].Values.Span, roundTrip, feedback, tensors[t].Name, 3, limits);
            Assert.True(bytes > 0);
            Assert.Equal(decoded[t].Values, roundTrip);
            if (chain.IsLossless)
            {
                Assert.Equal(tensors[t].Values.ToArray(), decoded[t].Values);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Chains))]
    public void Reference_kernels_produce_the_same_blob(string spec)
    {
        CodecChain chain = CodecChain.Parse(spec);
        List<TensorView> tensors = Model(8);
        var limits = new EncoderLimits { ChunkElements = 2048 };
        var fast = new MemoryStream();
        var reference = new MemoryStream();
        new PseudoGradientEncoder(chain, limits).Encode(tensors, fast, new ErrorFeedbackState(), seed: 5);
        new PseudoGradientEncoder(chain, limits, reference: true).Encode(tensors, reference, new ErrorFeedbackState(), seed: 5);
        Assert.True(fast.ToArray().AsSpan().SequenceEqual(reference.ToArray()), $"blobs differ for {spec}");
    }

    [Theory]
    [InlineData("q8:sr")]
    [InlineData("q4")]
    [InlineData("q4:bf16+ans")]
    [InlineData("topk:0.1+bf16")]
    public void Decoded_values_do_not_depend_on_chunk_size(string spec)
    {
        // Dense blocks never straddle chunks and rounding counters are element indices, so chunking
        // is invisible. (Top-k + a quantizer is the exception: blocks form over each chunk's kept values.)
        CodecChain chain = CodecChain.Parse(spec);
        List<TensorView> tensors = Model(9);
        float[][] Decode(int chunk)
        {
            var blob = new MemoryStream();
            new PseudoGradientEncoder(chain, new EncoderLimits { ChunkElements = chunk }).Encode(tensors, blob, seed: 1);
            blob.Position = 0;
            return PseudoGradientDecoder.Decode(blob, DecoderLimits.Default).Select(d => d.Values).ToArray();
        }

        float[][] small = Decode(1024);
        float[][] large = Decode(1 << 20);
        for (int t = 0; t < small.Length; t++)
        {
            Assert.Equal(small[t], large[t]);
        }
    }

    [Fact]
    public void Same_seed_gives_same_bytes_and_another_seed_differs()
    {
        var encoder = new PseudoGradientEncoder(CodecChain.Parse("q4:sr"));
        List<TensorView> tensors = Model(10);
        byte[] Encode(int seed)
        {
            var blob = new MemoryStream();
            encoder.Encode(tensors, blob, seed: seed);
            return blob.ToArray();
        }

        Assert.Equal(Encode(1), Encode(1));
        Assert.NotEqual(Encode(1), Encode(2));
    }

    [Fact]
    public void Compressed_blobs_are_smaller_on_the_wire()
    {
        List<TensorView> tensors = Model(11);
        long Size(string spec) => new PseudoGradientEncoder(CodecChain.Parse(spec)).Encode(tensors, Stream.Null);
        long fp32 = Size("fp32");
        Assert.True(Size("bf16") < fp32 * 0.51);
        Assert.True(Size("q8") < fp32 * 0.27);
        Assert.True(Size("q4") < fp32 * 0.15);
        Assert.True(Size("topk:0.01+q8") < fp32 * 0.02);
        Assert.True(Size("q8+lz4") <= Size("q8"));
        Assert.True(Size("q4+ans") < Size("q4") * 0.92);
        Assert.True(Size("q4:bf16") < Size("q4"));
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    [InlineData(2e30f)]
    public void Non_finite_input_is_refused_before_anything_is_written(float bad)
    {
        List<TensorView> tensors = Model(12);
        float[] poisoned = tensors[4].Values.ToArray();
        poisoned[60_000] = bad;
        tensors[4] = tensors[4] with { Values = poisoned };
        var feedback = new ErrorFeedbackState();
        var blob = new MemoryStream();
        var error = Assert.Throws<CodecException>(() =>
            new PseudoGradientEncoder(CodecChain.Parse("ef+q8")).Encode(tensors, blob, feedback));
        Assert.Equal(CodecErrorCode.NonFiniteInput, error.Code);
        Assert.Contains("'big' element 60000", error.Message);
        Assert.Equal(0, blob.Length);
        Assert.Equal(0, feedback.Count);
        Assert.Throws<CodecException>(() => CodecChain.Parse("q8").RoundTrip(poisoned, new float[poisoned.Length], null, "big", 0));
    }

    [Fact]
    public void Encoder_rejects_caller_mistakes()
    {
        var encoder = new PseudoGradientEncoder(CodecChain.Parse("q8"));
        Assert.Throws<ArgumentException>(() => encoder.Encode([new TensorView("a", [3], new float[4])], Stream.Null));
        Assert.Throws<ArgumentException>(() => encoder.Encode([new TensorView("a", [1], new float[1]), new TensorView("a", [1], new float[1])], Stream.Null));
        Assert.Throws<ArgumentException>(() => encoder.Encode([new TensorView("", [1], new float[1])], Stream.Null));
        Assert.Throws<ArgumentException>(() => new PseudoGradientEncoder(CodecChain.Parse("ef+q8")).Encode([new TensorView("a", [1], new float[1])], Stream.Null));
    }

    [Fact]
    public void Decode_into_refuses_mismatched_targets()
    {
        var blob = new MemoryStream();
        new PseudoGradientEncoder(CodecChain.Parse("q8")).Encode([new TensorView("w", [2, 3], new float[6])], blob);
        void Expect(params TensorTarget[] targets)
        {
            blob.Position = 0;
            var error = Assert.Throws<CodecException>(() => PseudoGradientDecoder.DecodeInto(blob, targets, DecoderLimits.Default));
            Assert.Equal(CodecErrorCode.TargetMismatch, error.Code);
        }

        Expect(new TensorTarget("w", [3, 2], new float[6]));
        Expect(new TensorTarget("v", [2, 3], new float[6]));
        Expect(new TensorTarget("w", [2, 3], new float[7]));
        Expect(new TensorTarget("w", [2, 3], new float[6]), new TensorTarget("x", [1], new float[1]));
    }

    [Fact]
    public void Decoder_stops_at_the_end_of_the_blob()
    {
        var stream = new MemoryStream();
        var encoder = new PseudoGradientEncoder(CodecChain.Parse("q4+lz4"));
        encoder.Encode([new TensorView("a", [100], TestData.Make(new Random(1), 100, TestData.Shape.Normal))], stream);
        encoder.Encode([new TensorView("b", [50], TestData.Make(new Random(2), 50, TestData.Shape.Normal))], stream);
        stream.Position = 0;
        Assert.Equal("a", PseudoGradientDecoder.Decode(stream, DecoderLimits.Default)[0].Name);
        Assert.Equal("b", PseudoGradientDecoder.Decode(stream, DecoderLimits.Default)[0].Name);
    }

    [Fact]
    public void An_empty_set_of_tensors_is_a_valid_blob()
    {
        var blob = new MemoryStream();
        long written = new PseudoGradientEncoder(CodecChain.Parse("q8")).Encode([], blob);
        Assert.Equal(blob.Length, written);
        blob.Position = 0;
        Assert.Empty(PseudoGradientDecoder.Decode(blob, DecoderLimits.Default));
    }

    [Fact]
    public void Header_can_be_read_alone_for_routing()
    {
        var blob = new MemoryStream();
        new PseudoGradientEncoder(CodecChain.Parse("int8+lz4")).Encode(Model(13), blob);
        blob.Position = 0;
        (CodecChain chain, var tensors) = PseudoGradientDecoder.ReadHeader(blob, DecoderLimits.Default);
        Assert.Equal("q8+lz4", chain.Spec);
        Assert.Equal(Model(13).Select(t => t.Name), tensors.Select(t => t.Name));
        Assert.Equal([37, 129], tensors[0].Shape);
    }

    [Fact]
    public void Round_trip_reports_the_same_byte_count_as_the_blob()
    {
        float[] values = TestData.Make(new Random(14), 100_000, TestData.Shape.Normal);
        foreach (string spec in new[] { "fp32", "q4+lz4", "topk:0.02+q8", "q4+ans", "fp32+ans" })
        {
            CodecChain chain = CodecChain.Parse(spec);
            long blob = new PseudoGradientEncoder(chain).Encode([new TensorView("w", [values.Length], values)], Stream.Null);
            float[] output = new float[values.Length];
            Assert.Equal(blob, chain.RoundTrip(values, output, null, "w", 0));
            if (chain.IsLossless)
            {
                Assert.Equal(values, output);
            }
        }
    }
}
