namespace Decentralized.Cli;

/// <summary>
/// Circuit relay service of a node. Relaying costs the relay's own bandwidth, so every relayed connection is capped
/// (bytes per direction and lifetime); a swarm whose members all sit behind NATs should raise the caps on its public
/// member instead of switching the limits off.
/// </summary>
/// <param name="Mode">auto (serve once AutoNAT finds us public), on, or off.</param>
/// <param name="Reservations">Peers that may hold a reservation at once.</param>
/// <param name="LimitMb">MiB per relayed connection and direction.</param>
/// <param name="LimitSeconds">Lifetime of a relayed connection.</param>
public sealed record RelaySettings(string Mode = "auto", int Reservations = 64, double LimitMb = 256, double LimitSeconds = 1800)
{
    public void Validate()
    {
        if (Mode is not ("auto" or "on" or "off")) throw new ArgumentException($"--relay must be auto, on or off (got '{Mode}')");
        if (Reservations < 1) throw new ArgumentException("--relay-reservations must be at least 1");
        if (!(LimitMb > 0 && double.IsFinite(LimitMb))) throw new ArgumentException("--relay-limit-mb must be a positive number");
        if (!(LimitSeconds > 0 && double.IsFinite(LimitSeconds))) throw new ArgumentException("--relay-limit-seconds must be a positive number");
    }
}
