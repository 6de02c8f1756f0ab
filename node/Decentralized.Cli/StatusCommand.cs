using System.CommandLine;
using System.Net.Http;
using System.Text.Json;
using Decentralized.Protocol.Addressing;

namespace Decentralized.Cli;

/// <summary><c>decentralized status &lt;address&gt;</c>: asks a running node (its --http endpoint) what it is doing.</summary>
public static class StatusCommand
{
    public static Command Create()
    {
        var c = new Command("status", "Show a running node's round, members, who it waits for, and per-peer traffic.");
        var address = new Argument<string>("address") { Description = "The node's --http endpoint: host:port, http://host:port or /ip4/<ip>/tcp/<port>." };
        c.Arguments.Add(address);
        var json = c.Add("json", "Print the raw JSON.", false);
        c.SetAction(async (parse, ct) =>
        {
            var url = ToUrl(parse.GetValue(address)!);
            using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            string body;
            try { body = await client.GetStringAsync(url + "/status", ct); }
            catch (HttpRequestException e) { throw new IOException($"cannot reach {url}: {e.Message} (is the node running with --http?)"); }
            if (parse.GetValue(json)) { Console.WriteLine(body); return 0; }
            using var doc = JsonDocument.Parse(body);
            var s = doc.RootElement;
            Console.WriteLine($"peer {s.GetProperty("peer_id")}  round {s.GetProperty("round")}  step {s.GetProperty("step")}  loss {s.GetProperty("loss")}  val_loss {s.GetProperty("val_loss")}");
            var awaited = s.GetProperty("awaited").EnumerateArray().Select(e => e.GetString()).ToArray();
            Console.WriteLine(awaited.Length == 0 ? "waiting for: nobody" : $"waiting for: {string.Join(", ", awaited)}");
            Console.WriteLine($"{"peer",-54}{"relayed",-9}{"in",12}{"out",12}{"round",7}");
            foreach (var conn in s.GetProperty("connections").EnumerateArray())
                Console.WriteLine($"{conn.GetProperty("peer_id").GetString(),-54}{conn.GetProperty("relayed").GetBoolean(),-9}{Units.Bytes(conn.GetProperty("bytes_in").GetInt64()),12}{Units.Bytes(conn.GetProperty("bytes_out").GetInt64()),12}{conn.GetProperty("round"),7}");
            return 0;
        });
        return c;
    }

    public static string ToUrl(string address)
    {
        if (address.StartsWith("http://") || address.StartsWith("https://")) return address.TrimEnd('/');
        if (address.StartsWith('/'))
        {
            var parts = Multiaddr.Parse(address).ToString().Split('/', StringSplitOptions.RemoveEmptyEntries);
            int ip = Array.FindIndex(parts, p => p is "ip4" or "ip6" or "dns" or "dns4" or "dns6");
            int tcp = Array.IndexOf(parts, "tcp");
            if (ip < 0 || tcp < 0) throw new ArgumentException($"'{address}' names no host and tcp port");
            var host = parts[ip] == "ip6" ? $"[{parts[ip + 1]}]" : parts[ip + 1];
            return $"http://{host}:{parts[tcp + 1]}";
        }
        return "http://" + address;
    }
}
