namespace Decentralized.Node.Data;

/// <summary>The two cached token files of a document split (<see cref="TokenCache.GetOrBuildHeldOut"/>).</summary>
/// <param name="Train">Tokens of the documents that train.</param>
/// <param name="Validation">Tokens of the held-out documents, before lines seen in training are dropped.</param>
public sealed record HeldOutFiles(TokenFile Train, TokenFile Validation);
