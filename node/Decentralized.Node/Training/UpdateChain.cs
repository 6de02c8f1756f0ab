namespace Decentralized.Node.Training;

/// <summary>
/// The codec chain an outer method's update (and the synchronous warm-up's gradients) goes through when
/// <c>--compress</c> is not given: 4-bit codes with bf16 block scales, error feedback and rANS, 8.6x fewer bytes than
/// fp32 and measured as good (DiLoCo with Muon, H = 50, held-out split: 1.0776 against fp32's 1.0773; the chunk split's
/// recipe 0.9428 against 0.9434). <c>train</c>'s DDP baseline and the pipeline keep <see cref="Exact"/>.
/// </summary>
public static class UpdateChain
{
    public const string Default = "q4:bf16+ef+ans";
    public const string Exact = "fp32";
}
