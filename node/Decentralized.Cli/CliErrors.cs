namespace Decentralized.Cli;

/// <summary>Every user error ends as one line on stderr and a non-zero exit code, never a stack trace.</summary>
public static class CliErrors
{
    public const int UsageError = 2;

    public static int Report(Exception e)
    {
        Console.Error.WriteLine($"error: {e.Message}");
        return UsageError;
    }

    /// <summary>Errors that are the user's input, not our bug.</summary>
    public static bool IsUserError(Exception e) =>
        e is ArgumentException or FormatException or IOException or UnauthorizedAccessException or InvalidDataException
        || e.GetType().Name is "DataException" or "CheckpointException" or "CodecException" or "ProtocolException" or "SwarmProtocolException";
}
