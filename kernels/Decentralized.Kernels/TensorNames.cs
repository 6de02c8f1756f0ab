using System.Text;

namespace Decentralized.Kernels;

/// <summary>Caller-side checks of tensor names and shapes shared by the encoder and decoder.</summary>
internal static class TensorNames
{
    public static byte[] Encode(string name, int maxBytes)
    {
        if (string.IsNullOrEmpty(name))
        {
            throw new ArgumentException("tensor names must not be empty");
        }

        byte[] bytes = Encoding.UTF8.GetBytes(name);
        if (bytes.Length > Math.Min(maxBytes, WireFormat.MaxNameBytes))
        {
            throw new ArgumentException($"tensor name '{name}' is {bytes.Length} UTF-8 bytes; at most {Math.Min(maxBytes, WireFormat.MaxNameBytes)} are allowed");
        }

        return bytes;
    }

    /// <summary>Element count of a shape; throws for null, negative dims, rank &gt; 8 or &gt; int.MaxValue elements.</summary>
    public static long CheckShape(string name, int[] shape)
    {
        if (shape is null || shape.Length > WireFormat.MaxRank)
        {
            throw new ArgumentException($"tensor '{name}' needs a shape of at most {WireFormat.MaxRank} dimensions");
        }

        long elements = 1;
        foreach (int dim in shape)
        {
            if (dim < 0)
            {
                throw new ArgumentException($"tensor '{name}' has a negative dimension");
            }

            elements *= dim;
            if (elements > int.MaxValue)
            {
                throw new ArgumentException($"tensor '{name}' has more than {int.MaxValue} elements");
            }
        }

        return elements;
    }
}
