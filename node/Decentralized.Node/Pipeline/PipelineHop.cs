namespace Decentralized.Node.Pipeline;

/// <summary>One hop of a microbatch's route: the stage that runs it and which of its parts.</summary>
public readonly record struct PipelineHop(int Stage, HopParts Parts);
