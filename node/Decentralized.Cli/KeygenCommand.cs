using System.CommandLine;
using Decentralized.Protocol.Tcp;

namespace Decentralized.Cli;

/// <summary><c>decentralized keygen</c>: creates (or reuses) the identity key file and prints the peer ID.</summary>
public static class KeygenCommand
{
    public static Command Create()
    {
        var c = new Command("keygen", "Create the node's identity key (owner-only file) if missing and print its peer ID.");
        var keyFile = c.Add("key-file", "Identity key file.", NodeDefaults.KeyFile);
        c.SetAction(parse =>
        {
            var key = KeyFile.LoadOrCreate(parse.GetValue(keyFile)!);
            Console.WriteLine(key.PeerId);
            return 0;
        });
        return c;
    }
}
