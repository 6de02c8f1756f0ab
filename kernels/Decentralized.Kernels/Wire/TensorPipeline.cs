using System.Numerics.Tensors;

namespace Decentralized.Kernels;

/// <summary>Encodes one tensor chunk by chunk: error-feedback accumulation, top-k selection, value
/// coding, residual update. Shared by the stream encoder and <see cref="CodecChainExtensions.RoundTrip"/>.</summary>
internal static class TensorPipeline
{
    /// <summary>Encodes <paramref name="input"/>; raw chunk bytes land in <paramref name="raw"/>
    /// before each call of <paramref name="sink"/>.</summary>
    /// <param name="codec">Chunk codec of the chain.</param>
    /// <param name="chain">The chain.</param>
    /// <param name="input">The tensor's values (already checked finite, and input + residual too).</param>
    /// <param name="residual">Error-feedback residual of the same length, or null.</param>
    /// <param name="key">Stochastic-rounding key of the tensor.</param>
    /// <param name="raw">Where each chunk's raw bytes go (the framer's raw area).</param>
    /// <param name="sink">Receives each chunk.</param>
    public static void Encode<TSink>(ChunkCodec codec, CodecChain chain, ReadOnlySpan<float> input, float[]? residual, uint key,
        Span<byte> raw, ref TSink sink)
        where TSink : IChunkSink, allows ref struct
    {
        ReadOnlySpan<float> source = input;
        var cursor = default(SparseCursor);
        if (chain.TopK is not null)
        {
            if (residual is not null)
            {
                // Top-k needs the whole accumulated tensor to pick its threshold.
                TensorPrimitives.Add(input, residual, residual);
                source = residual;
            }

            cursor = new SparseCursor(codec.Select(source));
        }
        else if (residual is not null)
        {
            source = residual;
        }

        int chunkElements = codec.ChunkElements;
        long chunk = 0;
        for (int start = 0; start < input.Length; start += chunkElements, chunk++)
        {
            int count = Math.Min(chunkElements, input.Length - start);
            if (residual is not null && chain.TopK is null)
            {
                // Dense: accumulate one chunk at a time so the data is still in cache for encoding.
                Span<float> accumulated = residual.AsSpan(start, count);
                TensorPrimitives.Add(input.Slice(start, count), accumulated, accumulated);
            }

            int rawLength = codec.Encode(source.Slice(start, count), raw, new RoundingContext(key, (uint)start), ref cursor);
            if (residual is not null)
            {
                codec.ApplyFeedback(raw[..rawLength], residual.AsSpan(start, count));
            }

            sink.Accept(chunk, rawLength, start, count);
        }
    }
}
