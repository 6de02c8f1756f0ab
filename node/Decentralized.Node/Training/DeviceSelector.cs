using static TorchSharp.torch;

namespace Decentralized.Node.Training;

/// <summary>Turns <c>--device cpu|cuda|auto</c> into a torch device; asking for CUDA where there is none is an error, not a silent fallback.</summary>
public static class DeviceSelector
{
    public static Device Resolve(string name)
    {
        switch (name.Trim().ToLowerInvariant())
        {
            case "cpu":
                return CPU;
            case "auto":
                return cuda.is_available() ? CUDA : CPU;
            case "cuda":
                if (!cuda.is_available())
                    throw new ArgumentException("--device cuda: no CUDA device is visible to this build (build with -p:TorchBackend=cuda on a GPU machine, or use --device cpu)");
                return CUDA;
            default:
                throw new ArgumentException($"unknown device '{name}': use cpu, cuda or auto");
        }
    }
}
