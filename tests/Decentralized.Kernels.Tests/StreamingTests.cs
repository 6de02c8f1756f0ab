namespace Decentralized.Kernels.Tests;

/// <summary>What "bounded chunks" means to a user: a large tensor is written in small writes, and
/// neither encoding nor decoding into an existing buffer allocates anything near the tensor's size.</summary>
public class StreamingTests
{
    private sealed class RecordingStream : Stream
    {
        public int LargestWrite { get; private set; }
        public long Total { get; private set; }
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => Total;
        public override long Position { get => Total; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            LargestWrite = Math.Max(LargestWrite, buffer.Length);
            Total += buffer.Length;
        }
    }

    [Theory]
    [InlineData("fp32")]
    [InlineData("ef+q8")]
    [InlineData("q4+lz4")]
    [InlineData("topk:0.01+ef+q8")]
    [InlineData("q4+ef+ans")]
    public void Large_tensor_is_written_in_bounded_chunks_without_a_second_copy(string spec)
    {
        const int n = 8 << 20; // 32 MiB of fp32
        float[] values = TestData.Make(new Random(1), n, TestData.Shape.Normal);
        var encoder = new PseudoGradientEncoder(CodecChain.Parse(spec));
        var feedback = new ErrorFeedbackState();
        encoder.Encode([new TensorView("w", [n], values)], new RecordingStream(), feedback); // warm pools and residual

        var stream = new RecordingStream();
        long before = GC.GetAllocatedBytesForCurrentThread();
        long written = encoder.Encode([new TensorView("w", [n], values)], stream, feedback);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(written, stream.Total);
        Assert.True(stream.LargestWrite <= 300_000, $"largest write {stream.LargestWrite} bytes");
        Assert.True(allocated < 1 << 20, $"encoding 32 MiB allocated {allocated} bytes");
    }

    [Theory]
    [InlineData("q8+lz4")]
    [InlineData("q4+ef+ans")]
    public void Decode_into_an_existing_buffer_allocates_almost_nothing(string spec)
    {
        const int n = 8 << 20;
        float[] values = TestData.Make(new Random(2), n, TestData.Shape.Normal);
        var blob = new MemoryStream();
        new PseudoGradientEncoder(CodecChain.Parse(spec)).Encode([new TensorView("w", [n], values)], blob, new ErrorFeedbackState());
        var targets = new[] { new TensorTarget("w", [n], new float[n]) };
        blob.Position = 0;
        PseudoGradientDecoder.DecodeInto(blob, targets, DecoderLimits.Default); // warm pools

        blob.Position = 0;
        long before = GC.GetAllocatedBytesForCurrentThread();
        PseudoGradientDecoder.DecodeInto(blob, targets, DecoderLimits.Default);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 1 << 20, $"decoding 32 MiB allocated {allocated} bytes");
        float[] decoded = targets[0].Destination.ToArray();
        Assert.True(Math.Abs(decoded[12345] - values[12345]) < 0.01f, $"{spec}: {decoded[12345]} vs {values[12345]}");
    }
}
