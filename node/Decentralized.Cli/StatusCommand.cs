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
        var address = new Argument<string>("address") { Description = "The node's --http endpoint: a port (this machine), host:port, http://host:port or /ip4/<ip>/tcp/<port>." };
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
            Print(doc.RootElement);
            return 0;
        });
        return c;
    }

    /// <summary>The human view: round and who it waits for, the last round, members, per-peer traffic, joiners, resources.</summary>
    private static void Print(JsonElement s)
    {
        Console.WriteLine($"peer {s.GetProperty("peer_id")}  round {s.GetProperty("round")}  step {s.GetProperty("step")}  loss {Loss(s, "loss")}  val_loss {Loss(s, "val_loss")}");
        var awaited = s.GetProperty("awaited").EnumerateArray().Select(e => e.GetString()).ToArray();
        Console.WriteLine(awaited.Length == 0 ? "waiting for: nobody" : $"waiting for: {string.Join(", ", awaited)}");
        if (s.TryGetProperty("excluded", out var excluded) && excluded.GetArrayLength() > 0)
            Console.WriteLine($"excluded (negative scores in a row, until they score positive): {Join(excluded)}");
        if (s.TryGetProperty("suspended", out var suspended) && suspended.GetArrayLength() > 0)
            Console.WriteLine($"left out of pairing (missed 3 rounds in a row): {Join(suspended)}");
        if (s.TryGetProperty("last_round", out var last) && last.ValueKind == JsonValueKind.Object)
            Console.WriteLine($"last round {last.GetProperty("round")}: waited {last.GetProperty("wait_seconds").GetDouble():F1} s for [{Join(last.GetProperty("partners"))}], used [{Join(last.GetProperty("received"))}], closed: {last.GetProperty("closed")}");
        if (s.TryGetProperty("membership", out var members))
        {
            Console.WriteLine($"{"member",-54}{"round",7}{"step",9}{"seen",9}");
            foreach (var m in members.EnumerateArray())
                Console.WriteLine($"{m.GetProperty("peer_id").GetString(),-54}{m.GetProperty("round"),7}{m.GetProperty("step"),9}{m.GetProperty("seen_seconds_ago").GetDouble(),8:F1}s{(m.GetProperty("awaited").GetBoolean() ? "  awaited" : m.TryGetProperty("suspended", out var left) && left.GetBoolean() ? "  left out" : "")}");
        }
        Console.WriteLine($"{"peer",-54}{"relayed",-9}{"in",12}{"out",12}{"in/s",12}{"out/s",12}{"round",7}");
        foreach (var conn in s.GetProperty("connections").EnumerateArray())
            Console.WriteLine($"{conn.GetProperty("peer_id").GetString(),-54}{conn.GetProperty("relayed").GetBoolean(),-9}{Units.Bytes(conn.GetProperty("bytes_in").GetInt64()),12}{Units.Bytes(conn.GetProperty("bytes_out").GetInt64()),12}{Rate(conn, "in_bytes_per_second"),12}{Rate(conn, "out_bytes_per_second"),12}{conn.GetProperty("round"),7}");
        if (s.TryGetProperty("joiners", out var joiners))
        {
            var serving = joiners.GetProperty("serving").EnumerateArray().Select(j => $"{j.GetProperty("peer_id").GetString()} ({Units.Bytes(j.GetProperty("bytes").GetInt64())})").ToArray();
            Console.WriteLine(serving.Length == 0 ? "joiners being served: none" : $"joiners being served: {string.Join(", ", serving)}");
            foreach (var j in joiners.GetProperty("served").EnumerateArray())
                Console.WriteLine($"  served {j.GetProperty("peer_id").GetString()}: {Units.Bytes(j.GetProperty("bytes").GetInt64())} in {j.GetProperty("seconds").GetDouble():F1} s{(j.GetProperty("failed").GetBoolean() ? " (ended early)" : "")}");
        }
        if (s.TryGetProperty("process", out var p))
            Console.WriteLine($"process: resident {Units.Bytes(p.GetProperty("resident_bytes").GetInt64())}, managed heap {Units.Bytes(p.GetProperty("managed_heap_bytes").GetInt64())}, live tensors {p.GetProperty("live_tensors")}, open files {p.GetProperty("open_files")}");
    }

    private static string Join(JsonElement array) => string.Join(", ", array.EnumerateArray().Select(e => e.GetString()));

    private static string Rate(JsonElement conn, string name) =>
        conn.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? Units.Bytes(v.GetDouble()) + "/s" : "?";

    private static string Loss(JsonElement s, string name) =>
        s.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble().ToString("F4") : "-";

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
        // A bare port is this machine's node, never a host named "9201" somewhere off the machine.
        if (ushort.TryParse(address, out var port) && port > 0) return $"http://127.0.0.1:{port}";
        if (address.StartsWith(':') && ushort.TryParse(address[1..], out port) && port > 0) return $"http://127.0.0.1:{port}";
        return "http://" + address;
    }
}
