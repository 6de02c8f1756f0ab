namespace Decentralized.Node.Pipeline;

/// <summary>A weight part fetched from a replica, with that replica's CheckFree weight ω and outer round.</summary>
public readonly record struct FetchedPart(float[] Values, double GradNormWeight, long Round);
