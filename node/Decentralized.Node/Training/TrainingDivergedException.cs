namespace Decentralized.Node.Training;

/// <summary>
/// Training produced a non-finite loss or state. The message is one line naming where (inner step or outer round) and
/// which tensor; what to change is the host's to say (it knows the options the user set).
/// </summary>
public sealed class TrainingDivergedException(string message) : Exception(message);
