namespace Decentralized.Node.Export;

/// <summary>Why a safetensors file or a Hugging Face model directory was refused.</summary>
public enum SafetensorsError
{
    /// <summary>The file ends before its header or its data does.</summary>
    Truncated,
    /// <summary>The header length field exceeds the limit or the file.</summary>
    HeaderTooLarge,
    /// <summary>The header is not the JSON object the format describes (or has too many tensors).</summary>
    MalformedHeader,
    /// <summary>A tensor's dtype is not one this reader converts to float32.</summary>
    UnsupportedDtype,
    /// <summary>A tensor's shape is negative, too deep, or does not match its byte range.</summary>
    BadShape,
    /// <summary>Data offsets lie outside the data section, overlap, or leave gaps.</summary>
    BadOffsets,
    /// <summary>A tensor holds NaN or infinity.</summary>
    NonFinite,
    /// <summary>A tensor the model needs is absent, or one it does not know is present.</summary>
    MissingTensor,
    /// <summary>A tensor's shape differs from the one the model config implies.</summary>
    ShapeMismatch,
    /// <summary>config.json is missing, malformed, or describes a model this code cannot run.</summary>
    ConfigMismatch,
}
