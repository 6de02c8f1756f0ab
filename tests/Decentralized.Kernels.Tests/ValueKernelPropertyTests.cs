namespace Decentralized.Kernels.Tests;

/// <summary>Fast kernels against their scalar references: every encoding is deterministic given the
/// seed (stochastic rounding included), so the bound is bit-exact equality of bytes and of decoded
/// values, over random lengths (block-size and group-size misaligned ones included), zeros, subnormals
/// and a wide dynamic range.</summary>
public class ValueKernelPropertyTests
{
    public static TheoryData<string> Codecs => new()
    {
        "fp32", "bf16", "fp16", "q8", "q8:16", "q8:48", "q8:128:sr", "q8:sr", "q4", "q4:16", "q4:48", "q4:96:sr", "q4:sr",
        "q8:bf16", "q8:48:bf16:sr", "q4:bf16", "q4:16:bf16", "q4:48:bf16", "q4:bf16:sr",
    };

    [Theory]
    [MemberData(nameof(Codecs))]
    public void Fast_and_reference_agree_bit_for_bit(string spec)
    {
        Compare(spec);
    }

    [Theory]
    [MemberData(nameof(Codecs))]
    public void Avx2_paths_agree_with_reference_too(string spec)
    {
        // On AVX-512 machines the 512-bit paths handle whole blocks; force the 256-bit ones once.
        VectorMath.ForceAvx2 = true;
        try
        {
            Compare(spec);
        }
        finally
        {
            VectorMath.ForceAvx2 = false;
        }
    }

    private static void Compare(string spec)
    {
        ValueCodecOptions options = CodecChain.Parse(spec).Value;
        IValueKernel fast = ValueKernels.Create(options);
        IValueKernel reference = ValueKernels.Create(options, reference: true);
        foreach (int seed in new[] { 1, 2, 3 })
        {
            var random = new Random(seed);
            foreach (int n in TestData.Lengths(random))
            {
                foreach (TestData.Shape shape in TestData.AllShapes)
                {
                    float[] input = TestData.Make(random, n, shape);
                    var rounding = new RoundingContext((uint)random.Next(), (uint)random.Next());
                    string where = TestData.Describe(seed, n, shape, spec);
                    byte[] fastBytes = new byte[fast.EncodedLength(n)];
                    byte[] referenceBytes = new byte[reference.EncodedLength(n)];
                    fast.Encode(input, fastBytes, rounding);
                    reference.Encode(input, referenceBytes, rounding);
                    Assert.True(fastBytes.AsSpan().SequenceEqual(referenceBytes), $"encodings differ: {where}");

                    float[] fastValues = new float[n];
                    float[] referenceValues = new float[n];
                    fast.Decode(fastBytes, fastValues);
                    reference.Decode(referenceBytes, referenceValues);
                    for (int i = 0; i < n; i++)
                    {
                        Assert.True(BitConverter.SingleToInt32Bits(fastValues[i]) == BitConverter.SingleToInt32Bits(referenceValues[i]),
                            $"decoded value {i} differs ({fastValues[i]} vs {referenceValues[i]}): {where}");
                    }
                }
            }
        }
    }

    [Theory]
    [InlineData("q8", 127)]
    [InlineData("q8:16", 127)]
    [InlineData("q8:48:sr", 127)]
    [InlineData("q4", 7)]
    [InlineData("q4:32", 7)]
    [InlineData("q4:80:sr", 7)]
    [InlineData("q8:bf16", 127)]
    [InlineData("q4:bf16", 7)]
    [InlineData("q4:48:bf16:sr", 7)]
    public void Quantizers_stay_within_half_a_step_or_a_step_with_stochastic_rounding(string spec, int qMax)
    {
        ValueCodecOptions options = CodecChain.Parse(spec).Value;
        IValueKernel kernel = ValueKernels.Create(options);
        float stepsAllowed = options.StochasticRounding ? 1f : 0.5f;

        // bf16 scales round max|x| / q_max up by at most 2^-7 relative (7 mantissa bits), and so the step.
        float stepSlack = options.ScaleFormat == BlockScaleFormat.Bf16 ? 1.0079f : 1.0001f;
        foreach (int seed in new[] { 11, 12 })
        {
            var random = new Random(seed);
            foreach (int n in TestData.Lengths(random))
            {
                foreach (TestData.Shape shape in TestData.AllShapes)
                {
                    float[] input = TestData.Make(random, n, shape);
                    float[] output = RoundTrip(kernel, input, random);
                    for (int start = 0; start < n; start += options.BlockSize)
                    {
                        int end = Math.Min(n, start + options.BlockSize);
                        float absMax = 0f;
                        for (int i = start; i < end; i++)
                        {
                            absMax = Math.Max(absMax, Math.Abs(input[i]));
                        }

                        float step = absMax / qMax;
                        float bound = absMax < ValueRange.MinBlockMagnitude ? absMax : step * stepsAllowed * stepSlack + 1e-38f;
                        for (int i = start; i < end; i++)
                        {
                            Assert.True(Math.Abs(output[i] - input[i]) <= bound,
                                $"element {i}: {input[i]} -> {output[i]}, bound {bound}: {TestData.Describe(seed, n, shape, spec)}");
                        }
                    }
                }
            }
        }
    }

    [Theory]
    [InlineData("q8")]
    [InlineData("q4:sr")]
    [InlineData("q4:bf16")]
    [InlineData("bf16")]
    [InlineData("fp16")]
    public void Zero_blocks_decode_to_exact_zeros(string spec)
    {
        IValueKernel kernel = ValueKernels.Create(CodecChain.Parse(spec).Value);
        float[] input = new float[200];
        input[150] = 3f; // only the last block has a value
        float[] output = RoundTrip(kernel, input, new Random(5));
        Assert.All(output.AsSpan(0, 128).ToArray(), v => Assert.Equal(0f, v));
        Assert.True(Math.Abs(output[150] - 3f) < 0.5f);
    }

    [Fact]
    public void Bf16_and_fp16_keep_their_relative_precision()
    {
        var random = new Random(21);
        float[] input = TestData.Make(random, 5000, TestData.Shape.Normal);
        float[] bf16 = RoundTrip(new Bf16Kernel(), input, random);
        float[] fp16 = RoundTrip(new Fp16Kernel(), input, random);
        for (int i = 0; i < input.Length; i++)
        {
            float magnitude = Math.Abs(input[i]);
            Assert.True(Math.Abs(bf16[i] - input[i]) <= magnitude * MathF.Pow(2, -8), $"bf16 element {i}: {input[i]} -> {bf16[i]}");
            // fp16 is exact to 2^-11 relative in its normal range and to 2^-25 absolute below it.
            Assert.True(Math.Abs(fp16[i] - input[i]) <= Math.Max(magnitude * MathF.Pow(2, -11), MathF.Pow(2, -25)), $"fp16 element {i}: {input[i]} -> {fp16[i]}");
        }
    }

    [Fact]
    public void Fp16_saturates_instead_of_producing_infinity()
    {
        float[] output = RoundTrip(new Fp16Kernel(), [1e6f, -70000f, 65504f, 1e-9f], new Random(1));
        Assert.Equal([65504f, -65504f, 65504f, 0f], output);
    }

    [Fact]
    public void Stochastic_rounding_is_unbiased_and_deterministic_per_seed()
    {
        var kernel = new Int4BlockKernel(64, stochasticRounding: true);
        float[] input = new float[64 * 2000];
        for (int i = 0; i < input.Length; i++)
        {
            input[i] = i % 64 == 0 ? 7f : 0.3f; // 0.3 sits between codes 0 and 1 at scale 1
        }

        float[] output = RoundTrip(kernel, input, new Random(9));
        double mean = 0;
        int count = 0;
        for (int i = 0; i < input.Length; i++)
        {
            if (i % 64 != 0)
            {
                mean += output[i];
                count++;
            }
        }

        mean /= count;
        Assert.InRange(mean, 0.29, 0.31); // about 126,000 draws: standard error 0.0013

        byte[] first = new byte[kernel.EncodedLength(input.Length)];
        byte[] second = new byte[first.Length];
        kernel.Encode(input, first, new RoundingContext(42, 0));
        kernel.Encode(input, second, new RoundingContext(42, 0));
        Assert.Equal(first, second);
        kernel.Encode(input, second, new RoundingContext(43, 0));
        Assert.NotEqual(first, second);
    }

    [Fact]
    public void Rounding_dither_is_uniform_for_consecutive_counters()
    {
        int[] bins = new int[16];
        const int draws = 160_000;
        for (uint i = 0; i < draws; i++)
        {
            float u = StochasticRounding.Uniform(12345, i);
            Assert.InRange(u, 0f, 0.99999995f);
            bins[(int)(u * 16)]++;
        }

        Assert.All(bins, count => Assert.InRange(count, draws / 16 * 0.95, draws / 16 * 1.05));
    }

    [Theory]
    [InlineData("fp32")]
    [InlineData("bf16")]
    [InlineData("fp16")]
    public void Float_decoders_refuse_nan_and_infinity_payloads(string spec)
    {
        ValueCodecOptions options = CodecChain.Parse(spec).Value;
        foreach (bool reference in new[] { false, true })
        {
            IValueKernel kernel = ValueKernels.Create(options, reference);
            byte[] bytes = new byte[kernel.EncodedLength(40)];
            kernel.Encode(new float[40], bytes, default);
            int width = bytes.Length / 40;
            // An all-ones exponent: NaN or infinity in every format; put it at element 37 (a tail lane).
            bytes[37 * width + width - 1] = 0x7F;
            bytes[37 * width + width - 2] = 0xFF;
            var error = Assert.Throws<CodecException>(() => kernel.Decode(bytes, new float[40]));
            Assert.Equal(CodecErrorCode.NonFiniteDecoded, error.Code);
            Assert.Contains("position 37", error.Message);
        }
    }

    [Theory]
    [InlineData("q8", float.NaN)]
    [InlineData("q8", float.PositiveInfinity)]
    [InlineData("q4", -1f)]
    [InlineData("q4", 1e31f)]
    [InlineData("q8:bf16", float.NaN)]
    [InlineData("q4:bf16", -1f)]
    [InlineData("q4:bf16", float.PositiveInfinity)]
    public void Quantizer_decoders_refuse_bad_scales(string spec, float scale)
    {
        ValueCodecOptions options = CodecChain.Parse(spec).Value;
        foreach (bool reference in new[] { false, true })
        {
            IValueKernel kernel = ValueKernels.Create(options, reference);
            byte[] bytes = new byte[kernel.EncodedLength(100)];
            kernel.Encode(new float[100], bytes, default);
            // The second block's scale (bf16 scales are the upper half of the fp32 bits).
            if (options.ScaleFormat == BlockScaleFormat.Bf16)
            {
                BitConverter.TryWriteBytes(bytes.AsSpan(2), (ushort)(BitConverter.SingleToUInt32Bits(scale) >> 16));
            }
            else
            {
                BitConverter.TryWriteBytes(bytes.AsSpan(4), scale);
            }

            var error = Assert.Throws<CodecException>(() => kernel.Decode(bytes, new float[100]));
            Assert.Equal(CodecErrorCode.NonFiniteDecoded, error.Code);
        }
    }

    [Fact]
    public void Decoders_refuse_wrong_payload_lengths()
    {
        foreach (string spec in new[] { "fp32", "bf16", "fp16", "q8", "q4", "q8:bf16", "q4:bf16" })
        {
            IValueKernel kernel = ValueKernels.Create(CodecChain.Parse(spec).Value);
            var error = Assert.Throws<CodecException>(() => kernel.Decode(new byte[kernel.EncodedLength(10) + 1], new float[10]));
            Assert.Equal(CodecErrorCode.Malformed, error.Code);
        }
    }

    [Theory]
    [InlineData("q8:bf16", 127)]
    [InlineData("q4:bf16", 7)]
    [InlineData("q4:32:bf16", 7)]
    public void Bf16_scales_round_up_so_the_largest_value_keeps_its_code(string spec, int qMax)
    {
        // 0.1 / 7 and 0.1 / 127 are not bf16 values: rounding the scale down would clip the block's
        // largest value, rounding it up keeps it at q_max (and the codes are taken against that scale).
        ValueCodecOptions options = CodecChain.Parse(spec).Value;
        float[] input = new float[options.BlockSize];
        var random = new Random(3);
        for (int i = 0; i < input.Length; i++)
        {
            input[i] = (float)(random.NextDouble() * 0.2 - 0.1);
        }

        input[5] = 0.1f;
        input[9] = -0.1f;
        foreach (bool reference in new[] { false, true })
        {
            IValueKernel kernel = ValueKernels.Create(options, reference);
            byte[] bytes = new byte[kernel.EncodedLength(input.Length)];
            kernel.Encode(input, bytes, new RoundingContext(1, 0));
            float scale = BitConverter.UInt32BitsToSingle((uint)BitConverter.ToUInt16(bytes, 0) << 16);
            Assert.True(scale >= 0.1f / qMax && scale <= 0.1f / qMax * 1.0079f, $"scale {scale}");
            Assert.Equal(2 + (qMax == 7 ? options.BlockSize / 2 : options.BlockSize), bytes.Length);
            float[] output = new float[input.Length];
            kernel.Decode(bytes, output);
            Assert.Equal(qMax * scale, output[5]);
            Assert.Equal(-qMax * scale, output[9]);
        }
    }

    private static float[] RoundTrip(IValueKernel kernel, float[] input, Random random)
    {
        byte[] bytes = new byte[kernel.EncodedLength(input.Length)];
        kernel.Encode(input, bytes, new RoundingContext((uint)random.Next(), 0));
        float[] output = new float[input.Length];
        kernel.Decode(bytes, output);
        return output;
    }
}
