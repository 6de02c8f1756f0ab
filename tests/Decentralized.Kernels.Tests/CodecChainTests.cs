namespace Decentralized.Kernels.Tests;

public class CodecChainTests
{
    [Theory]
    [InlineData("fp32", "fp32")]
    [InlineData("int8", "q8")]
    [InlineData("Q8", "q8")]
    [InlineData("q4+lz4", "q4+lz4")]
    [InlineData("topk:0.01+ef+q8", "topk:0.01+ef+q8")]
    [InlineData("ef+topk:0.01+q8", "topk:0.01+ef+q8")]
    [InlineData("q8:128", "q8:128")]
    [InlineData("q8:64", "q8")]
    [InlineData("q4:64:sr", "q4:sr")]
    [InlineData("int4:48:sr+ef+lz4", "ef+q4:48:sr+lz4")]
    [InlineData("topk:1000", "topk:1000+fp32")]
    [InlineData("topk:1.0+bf16", "topk:1.0+bf16")]
    [InlineData("topk:1e-3+fp16+lz4", "topk:0.001+fp16+lz4")]
    [InlineData("lz4", "fp32+lz4")]
    [InlineData("bf16+ef", "ef+bf16")]
    [InlineData("q4+ef+ans", "ef+q4+ans")]
    [InlineData("Q4:64:BF16+EF+ANS", "ef+q4:bf16+ans")]
    [InlineData("q8:128:bf16:sr", "q8:128:bf16:sr")]
    [InlineData("int4:bf16", "q4:bf16")]
    [InlineData("topk:0.01+ef+q8+ans", "topk:0.01+ef+q8+ans")]
    [InlineData("ans", "fp32+ans")]
    public void Parses_to_canonical_spec_that_reparses_to_the_same_chain(string spec, string canonical)
    {
        CodecChain chain = CodecChain.Parse(spec);
        Assert.Equal(canonical, chain.Spec);
        Assert.Equal(chain, CodecChain.Parse(chain.Spec));
    }

    [Fact]
    public void Exposes_the_stages()
    {
        CodecChain chain = CodecChain.Parse("topk:0.05+ef+q4:32:sr+lz4");
        Assert.True(chain.UsesErrorFeedback);
        Assert.True(chain.UsesLz4);
        Assert.Equal(0.05, chain.TopK!.Fraction);
        Assert.Equal(new ValueCodecOptions(ValueCodecKind.Int4, 32, true), chain.Value);
        Assert.False(chain.IsLossless);
        Assert.True(CodecChain.Parse("fp32+lz4").IsLossless);
        Assert.False(CodecChain.Parse("q8").UsesErrorFeedback);

        CodecChain ans = CodecChain.Parse("q4:bf16+ef+ans");
        Assert.True(ans.UsesAns);
        Assert.False(ans.UsesLz4);
        Assert.Equal(LosslessStage.Ans, ans.Lossless);
        Assert.Equal(new ValueCodecOptions(ValueCodecKind.Int4, 64, false, BlockScaleFormat.Bf16), ans.Value);
        Assert.Equal(2, ans.Value.ScaleBytes);
        Assert.True(CodecChain.Parse("fp32+ans").IsLossless);
    }

    [Theory]
    [InlineData("")]
    [InlineData("zstd")]
    [InlineData("q8+q4")]
    [InlineData("q8:15")]
    [InlineData("q8:0")]
    [InlineData("q8:131072")]
    [InlineData("q8:sr:64")]
    [InlineData("q8:64:64")]
    [InlineData("q8:fast")]
    [InlineData("topk")]
    [InlineData("topk:0")]
    [InlineData("topk:1.5")]
    [InlineData("topk:-0.1")]
    [InlineData("topk:abc")]
    [InlineData("topk:99999999999")]
    [InlineData("q8+topk:0.1")]
    [InlineData("lz4+q8")]
    [InlineData("ef")]
    [InlineData("fp32+ef")]
    [InlineData("ef+ef+q8")]
    [InlineData("q8++lz4")]
    [InlineData("fp16:2")]
    [InlineData("topk:0.1+topk:0.2")]
    [InlineData("q4+lz4+ans")]
    [InlineData("q4+ans+lz4")]
    [InlineData("ans+q4")]
    [InlineData("q4+ans+ef")]
    [InlineData("q4+ans:2")]
    [InlineData("q4:bf16:64")]
    [InlineData("q4:sr:bf16")]
    [InlineData("q4:bf16:bf16")]
    [InlineData("q4:fp16")]
    [InlineData("bf16:bf16")]
    public void Rejects_bad_specs_with_a_message_listing_valid_stages(string spec)
    {
        var error = Assert.Throws<CodecException>(() => CodecChain.Parse(spec));
        Assert.Equal(CodecErrorCode.InvalidChain, error.Code);
        Assert.Contains("Valid stages: fp32, bf16, fp16, q8 (int8), q4 (int4), topk, ef, lz4, ans", error.Message);
        Assert.False(CodecChain.TryParse(spec, out _));
    }

    [Fact]
    public void Unknown_stage_is_named_in_the_message()
    {
        var error = Assert.Throws<CodecException>(() => CodecChain.Parse("q8+zstd"));
        Assert.Contains("'zstd'", error.Message);
    }

    [Theory]
    [InlineData(0.01, 1000, 10)]
    [InlineData(0.01, 50, 1)]
    [InlineData(1.0, 7, 7)]
    [InlineData(0.5, 0, 0)]
    public void Top_k_fraction_rounds_up_and_keeps_at_least_one(double fraction, int n, int kept) =>
        Assert.Equal(kept, new TopKOptions(fraction, null).KeptCount(n));

    [Fact]
    public void Top_k_count_is_capped_at_the_tensor_length() =>
        Assert.Equal(5, new TopKOptions(null, 1000).KeptCount(5));
}
