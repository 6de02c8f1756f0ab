namespace Decentralized.Node.Pipeline;

/// <summary>Wire form of activations and activation gradients between stages.</summary>
public enum ActivationCodecKind : byte
{
    /// <summary>Raw float32: exact, 4 bytes per value (tests and debugging).</summary>
    Fp32 = 0,
    /// <summary>bfloat16, round to nearest even: 2 bytes per value, float32's range. The default.</summary>
    Bf16 = 1,
    /// <summary>Blockwise absmax int8 (64 values per fp32 scale): about 1.06 bytes per value.</summary>
    Int8 = 2,
}
