using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Decentralized.Node.Checkpoints;

/// <summary>Flat float32 tensors in checkpoints: a length then raw little-endian values, copied through the CPU.</summary>
public static class TensorIo
{
    public static void WriteFlat(BinaryWriter writer, Tensor flat)
    {
        using var cpu = flat.detach().cpu().contiguous();
        var values = cpu.data<float>().ToArray();
        writer.Write((long)values.Length);
        writer.Write(MemoryMarshal.AsBytes(values.AsSpan()));
    }

    /// <summary>Reads a vector written by <see cref="WriteFlat"/> into <paramref name="destination"/>, checking its length first.</summary>
    public static void ReadFlatInto(BinaryReader reader, Tensor destination, string what)
    {
        long count = reader.ReadInt64();
        if (count != destination.numel())
            throw new CheckpointException($"checkpoint {what} has {count} values; the model has {destination.numel()}");
        var values = new float[count];
        reader.BaseStream.ReadExactly(MemoryMarshal.AsBytes(values.AsSpan()));
        using var loaded = tensor(values);
        using var noGrad = no_grad();
        destination.copy_(loaded);
    }
}
