namespace Decentralized.Simulations.Core;

/// <summary>The simulated system failed: an unhandled exception in simulated code, a deadlock, or an invalid scenario.</summary>
public sealed class SimulationException : Exception
{
    /// <summary>Creates the exception.</summary>
    public SimulationException(string message, Exception? inner = null) : base(message, inner)
    {
    }
}
