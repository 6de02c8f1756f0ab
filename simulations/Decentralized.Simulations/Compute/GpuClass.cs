namespace Decentralized.Simulations.Compute;

/// <summary>A kind of accelerator in the mix: its name, its speed relative to the reference, and its share of peers.</summary>
/// <param name="Name">Label in reports (e.g. "H100").</param>
/// <param name="RelativeSpeed">Steps per second relative to the reference GPU (1.0); 0.5 takes twice as long per step.</param>
/// <param name="Share">Weight of this class when peers draw their GPU.</param>
public sealed record GpuClass(string Name, double RelativeSpeed, double Share);
