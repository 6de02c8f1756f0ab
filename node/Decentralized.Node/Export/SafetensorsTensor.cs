namespace Decentralized.Node.Export;

/// <summary>Element types of the safetensors format that this code reads (converted to float32) or writes.</summary>
public enum SafetensorsDtype { F32, F16, BF16 }

/// <summary>One validated header entry: its byte range <c>[Begin, End)</c> is relative to the start of the data section.</summary>
public sealed record SafetensorsTensor(string Name, SafetensorsDtype Dtype, long[] Shape, long Begin, long End)
{
    public long ElementCount => Shape.Aggregate(1L, (a, d) => a * d);

    public static int BytesPerElement(SafetensorsDtype dtype) => dtype == SafetensorsDtype.F32 ? 4 : 2;
}
