namespace Decentralized.Node.Data;

/// <summary>
/// A user-facing data error: an empty corpus, a binary file, a malformed JSONL line, an unknown
/// tokenizer, a corrupt token file. The message is one line that names the offending input and
/// says what to do, so the CLI can print it as is instead of a stack trace.
/// </summary>
public sealed class DataException : Exception
{
    /// <summary>Creates the exception with a one-line, actionable message.</summary>
    public DataException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a one-line message and the low-level cause.</summary>
    public DataException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
