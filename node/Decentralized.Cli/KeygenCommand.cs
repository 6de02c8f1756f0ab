using System.CommandLine;
using Decentralized.Protocol.Tcp;

namespace Decentralized.Cli;

/// <summary><c>decentralized keygen</c>: creates (or reuses) the identity key file and prints the peer ID.</summary>
public static class KeygenCommand
{
    public static Command Create()
    {
        var c = new Command("keygen", "Create the node's identity key (owner-only file) if missing and print its peer ID; with --swarm-key, also create a swarm key.");
        var keyFile = c.Add("key-file", "Identity key file.", NodeDefaults.KeyFile);
        var swarmKey = c.AddOptional<string>("swarm-key", "Also create a new swarm key in this file (owner-only). Copy it to every member and start each with --swarm-key @FILE.");
        c.SetAction(parse =>
        {
            if (parse.GetValue(swarmKey) is { } swarmKeyPath)
            {
                SwarmKeyFile.Create(swarmKeyPath);
                Console.Error.WriteLine($"swarm key written to {swarmKeyPath} (owner-only): copy it to every member and start each with --swarm-key @{swarmKeyPath}");
            }
            var key = KeyFile.LoadOrCreate(parse.GetValue(keyFile)!);
            Console.WriteLine(key.PeerId);
            return 0;
        });
        return c;
    }
}
