namespace Decentralized.Node.Pipeline;

/// <summary>One hop's work: which microbatch and hop, its input (tokens for the embedding hop, activations otherwise) and the targets.</summary>
public sealed record HopTask(long Microbatch, bool Swapped, int Hop, int Batch, int Time, long[] Targets, long[]? Tokens, float[]? Input);

/// <summary>What a hop hands back upstream: the microbatch's loss and the gradient of the hop's input (null for the embedding hop).</summary>
public sealed record HopResult(double Loss, float[]? InputGrad);
