using System.Buffers.Binary;

namespace Decentralized.Kernels.Tests;

public class MalformedBlobTests
{
    private static byte[] ValidBlob(string spec = "q8+lz4", int n = 3000)
    {
        var blob = new MemoryStream();
        new PseudoGradientEncoder(CodecChain.Parse(spec), new EncoderLimits { ChunkElements = 1024 })
            .Encode([new TensorView("w", [n], TestData.Make(new Random(n), n, TestData.Shape.Normal))], blob);
        return blob.ToArray();
    }

    private static CodecException DecodeFails(byte[] blob, DecoderLimits? limits = null) =>
        Assert.Throws<CodecException>(() => PseudoGradientDecoder.Decode(new MemoryStream(blob), limits ?? DecoderLimits.Default));

    [Fact]
    public void Every_truncation_is_reported_as_truncated()
    {
        byte[] blob = ValidBlob(n: 700);
        for (int length = 0; length < blob.Length; length++)
        {
            CodecException error = DecodeFails(blob[..length]);
            Assert.True(error.Code == CodecErrorCode.Truncated, $"length {length}: {error.Message}");
        }
    }

    [Fact]
    public void Every_single_bit_flip_is_caught()
    {
        byte[] blob = ValidBlob("q4", n: 300);
        for (int bit = 0; bit < blob.Length * 8; bit++)
        {
            byte[] copy = (byte[])blob.Clone();
            copy[bit / 8] ^= (byte)(1 << (bit % 8));
            DecodeFails(copy);
        }
    }

    [Fact]
    public void Wrong_magic_and_version_are_named()
    {
        byte[] blob = ValidBlob();
        blob[0] ^= 0xFF;
        Assert.Equal(CodecErrorCode.BadMagic, DecodeFails(blob).Code);
        blob = ValidBlob();
        blob[4] = 2;
        Assert.Equal(CodecErrorCode.UnsupportedVersion, DecodeFails(blob).Code);
    }

    [Fact]
    public void Corrupted_chunk_fails_its_checksum()
    {
        byte[] blob = ValidBlob("q8");
        blob[^40] ^= 0x10;
        Assert.Equal(CodecErrorCode.ChecksumMismatch, DecodeFails(blob).Code);
    }

    [Fact]
    public void Unknown_codec_in_a_well_formed_header_is_refused()
    {
        byte[] blob = ValidBlob("q8");
        int headerLength = WireFormat.PrefixBytes + 2 + 8 + (2 + 1 + 2 + 4 + 8) + 8;
        blob[WireFormat.PrefixBytes] = (byte)'z';  // "q8" -> "z8"
        BlobForge.FixHeaderChecksum(blob, headerLength);
        CodecException error = DecodeFails(blob);
        Assert.Equal(CodecErrorCode.InvalidChain, error.Code);
        Assert.Contains("unknown stage 'z8'", error.Message);
    }

    [Fact]
    public void Absurd_sizes_are_refused_before_allocating()
    {
        // A header claiming 2^31 − 1 elements: refused by the default per-tensor limit, allocating
        // almost nothing.
        byte[] blob = HeaderOnly(tensorCount: 1, dims: [int.MaxValue]);
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Equal(CodecErrorCode.LimitExceeded, DecodeFails(blob).Code);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20, "decoder allocated over 1 MiB for a bad header");

        Assert.Equal(CodecErrorCode.LimitExceeded, DecodeFails(HeaderOnly(tensorCount: 1_000_000, dims: [4])).Code);
        Assert.Equal(CodecErrorCode.LimitExceeded, DecodeFails(HeaderOnly(tensorCount: 1, dims: [1, 2, 3, 4, 5, 6, 7, 8, 9])).Code);
        Assert.Equal(CodecErrorCode.LimitExceeded, DecodeFails(HeaderOnly(tensorCount: 1, dims: [4], chunkElements: 1 << 30)).Code);
        Assert.Equal(CodecErrorCode.LimitExceeded,
            DecodeFails(ValidBlob(), DecoderLimits.Default with { MaxBlobBytes = 100 }).Code);
        Assert.Equal(CodecErrorCode.LimitExceeded,
            DecodeFails(ValidBlob(), DecoderLimits.Default with { MaxTotalElements = 2999 }).Code);
    }

    [Fact]
    public void A_header_promising_huge_chunks_costs_nothing_until_the_data_arrives()
    {
        const int n = 1 << 20;
        var full = new MemoryStream();
        var encoder = new PseudoGradientEncoder(CodecChain.Parse("topk:0.5+fp32+lz4"), new EncoderLimits { ChunkElements = n });
        TensorView[] tensors = [new TensorView("w", [n], new float[n])];
        encoder.Encode(tensors, full);
        // The header and a chunk header that announces a large chunk, then nothing.
        byte[] truncated = full.ToArray()[..(int)(encoder.MeasureHeader(tensors) + WireFormat.ChunkHeaderBytes)];
        var targets = new[] { new TensorTarget("w", [n], new float[n]) };
        PseudoGradientDecoder.DecodeInto(new MemoryStream(full.ToArray()), targets, DecoderLimits.Default); // warm pools

        long before = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.Throws<CodecException>(() => PseudoGradientDecoder.DecodeInto(new MemoryStream(truncated), targets, DecoderLimits.Default));
        Assert.Equal(CodecErrorCode.Truncated, error.Code);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 64 << 10, "a bare header made the decoder allocate");
    }

    private static byte[] HeaderOnly(int tensorCount, int[] dims, int chunkElements = 1024)
    {
        var bytes = new List<byte>();
        void U32(uint v) => bytes.AddRange(BitConverter.GetBytes(v));
        U32(WireFormat.Magic);
        bytes.AddRange([WireFormat.Version, 0, 2, (byte)'q', (byte)'8']);
        U32((uint)chunkElements);
        U32((uint)tensorCount);
        bytes.AddRange([1, 0, (byte)'w', 0, (byte)dims.Length]);
        foreach (int d in dims)
        {
            U32((uint)d);
        }

        bytes.AddRange(BitConverter.GetBytes((ulong)dims.Aggregate(1L, (a, d) => a * d)));
        return bytes.ToArray();
    }

    [Fact]
    public void Forged_chunks_with_valid_checksums_are_still_checked()
    {
        // Dense chunk with the wrong raw length.
        byte[] blob = BlobForge.Build("q8", 1024, [("w", [10], [new byte[15]])]);
        Assert.Equal(CodecErrorCode.Malformed, DecodeFails(blob).Code);

        // q8 chunk whose scale is NaN.
        byte[] raw = new byte[4 + 10];
        BinaryPrimitives.WriteSingleLittleEndian(raw, float.NaN);
        blob = BlobForge.Build("q8", 1024, [("w", [10], [raw])]);
        Assert.Equal(CodecErrorCode.NonFiniteDecoded, DecodeFails(blob).Code);

        // fp32 chunk holding +infinity.
        raw = new byte[8];
        BinaryPrimitives.WriteSingleLittleEndian(raw.AsSpan(4), float.PositiveInfinity);
        blob = BlobForge.Build("fp32", 1024, [("w", [2], [raw])]);
        Assert.Equal(CodecErrorCode.NonFiniteDecoded, DecodeFails(blob).Code);

        // Top-k chunk claiming more kept elements than the chunk has.
        raw = new byte[9 + 2 + 4 * 11];
        BinaryPrimitives.WriteUInt32LittleEndian(raw, 11);
        blob = BlobForge.Build("topk:0.5+fp32", 1024, [("w", [10], [raw])]);
        Assert.Equal(CodecErrorCode.Malformed, DecodeFails(blob).Code);

        // A chunk flagged LZ4 in a chain without lz4.
        blob = BlobForge.Build("fp32", 1024, [("w", [1], [new byte[4]])]);
        int flagsAt = blob.Length - WireFormat.TrailerBytes - 4 - WireFormat.ChunkHeaderBytes + 8;
        blob[flagsAt] = 1;
        Assert.Equal(CodecErrorCode.Malformed, DecodeFails(blob).Code);
    }

    [Fact]
    public void Missing_trailer_and_wrong_trailer_are_refused()
    {
        byte[] blob = ValidBlob();
        blob[^12] ^= 1;
        Assert.Equal(CodecErrorCode.Malformed, DecodeFails(blob).Code);
        blob = ValidBlob();
        blob[^1] ^= 1;
        Assert.Equal(CodecErrorCode.ChecksumMismatch, DecodeFails(blob).Code);
    }
}
