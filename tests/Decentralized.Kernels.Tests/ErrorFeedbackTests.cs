namespace Decentralized.Kernels.Tests;

public class ErrorFeedbackTests
{
    [Theory]
    [InlineData("ef+q8", 1)]
    [InlineData("ef+q4:sr", 2)]
    [InlineData("topk:0.05+ef+q8", 3)]
    [InlineData("topk:0.01+ef+fp32+lz4", 4)]
    [InlineData("ef+bf16", 5)]
    [InlineData("ef+fp16", 6)]
    public void Sent_plus_residual_equals_input_plus_previous_residual(string spec, int seed)
    {
        CodecChain chain = CodecChain.Parse(spec);
        var random = new Random(seed);
        var feedback = new ErrorFeedbackState();
        const int n = 10_000;
        double[] totalIn = new double[n];
        double[] totalSent = new double[n];
        for (int round = 0; round < 5; round++)
        {
            float[] input = TestData.Make(random, n, TestData.Shape.Normal);
            float[] before = feedback.GetResidual("w").ToArray();
            float[] sent = new float[n];
            chain.RoundTrip(input, sent, feedback, "w", seed: round, new EncoderLimits { ChunkElements = 1024 });
            ReadOnlySpan<float> after = feedback.GetResidual("w");
            for (int i = 0; i < n; i++)
            {
                float accumulated = input[i] + (before.Length == 0 ? 0f : before[i]);
                // residual = accumulated − sent is computed in fp32, so adding it back is exact up to
                // one rounding of the sum.
                float tolerance = Math.Max(Math.Abs(accumulated), Math.Abs(sent[i])) * 1.2e-7f;
                Assert.True(Math.Abs(sent[i] + after[i] - accumulated) <= tolerance,
                    $"round {round} element {i}: sent {sent[i]} + residual {after[i]} != {accumulated} ({spec}, seed {seed})");
                totalIn[i] += input[i];
                totalSent[i] += sent[i];
            }
        }

        // Over rounds, nothing is lost: what was sent plus what is still held equals what came in.
        ReadOnlySpan<float> residual = feedback.GetResidual("w");
        for (int i = 0; i < n; i++)
        {
            Assert.True(Math.Abs(totalSent[i] + residual[i] - totalIn[i]) <= 1e-5 * (1 + Math.Abs(totalIn[i])), $"element {i} drifted ({spec})");
        }
    }

    [Fact]
    public void Stream_encoder_updates_the_residual_like_round_trip()
    {
        CodecChain chain = CodecChain.Parse("topk:0.1+ef+q4");
        float[] input = TestData.Make(new Random(3), 5000, TestData.Shape.Normal);
        var viaStream = new ErrorFeedbackState();
        var viaRoundTrip = new ErrorFeedbackState();
        var blob = new MemoryStream();
        new PseudoGradientEncoder(chain).Encode([new TensorView("w", [5000], input)], blob, viaStream, seed: 4);
        chain.RoundTrip(input, new float[5000], viaRoundTrip, "w", 4);
        Assert.Equal(viaRoundTrip.GetResidual("w").ToArray(), viaStream.GetResidual("w").ToArray());
        Assert.Equal(5000, viaStream.ElementCount);
        viaStream.Reset();
        Assert.Equal(0, viaStream.Count);
        Assert.True(viaStream.GetResidual("w").IsEmpty);
    }

    [Fact]
    public void A_reshaped_tensor_needs_a_reset()
    {
        CodecChain chain = CodecChain.Parse("ef+q8");
        var feedback = new ErrorFeedbackState();
        chain.RoundTrip(new float[64], new float[64], feedback, "w", 0);
        Assert.Throws<ArgumentException>(() => chain.RoundTrip(new float[65], new float[65], feedback, "w", 0));
        feedback.Remove("w");
        chain.RoundTrip(new float[65], new float[65], feedback, "w", 0);
    }

    [Fact]
    public void Error_feedback_lets_small_persistent_gradients_through_top_k()
    {
        // Element 0 is always small, element 1 always large: without feedback element 0 is never
        // sent; with feedback its residual grows until it wins a slot.
        CodecChain withFeedback = CodecChain.Parse("topk:1+ef+fp32");
        var feedback = new ErrorFeedbackState();
        float sentToZero = 0;
        for (int round = 0; round < 20; round++)
        {
            float[] sent = new float[2];
            withFeedback.RoundTrip([0.3f, 1f], sent, feedback, "w", round);
            sentToZero += sent[0];
        }

        Assert.True(sentToZero > 3f, $"element 0 received {sentToZero}");
    }
}
