using System.Diagnostics;

namespace Decentralized.Node.Tests.Nat;

/// <summary>
/// A small internet in network namespaces, built by the test and deleted afterwards. Everything lives on the
/// documentation range 203.0.113.0/24 (the "internet", one bridge) and private LANs behind nftables routers:
/// <code>
///   boot 203.0.113.10   pub 203.0.113.11   fw 203.0.113.12 (drops new inbound TCP to 4001)
///   rt1 203.0.113.21 ── h1 10.1.0.2   masquerade (keeps ports: hole punching works)
///   rt2 203.0.113.22 ── h2 10.2.0.2   masquerade
///   rt3 203.0.113.23 ── h3 10.3.0.2   masquerade random (new port per connection: relay only)
///   rt4 203.0.113.24 ── h4 10.4.0.2   masquerade random
/// </code>
/// Routers drop unsolicited new connections on their outer interface, as home routers do (otherwise their own
/// stack would answer with a reset). Nothing here can reach any address outside these namespaces.
/// </summary>
public sealed class NatLab : IDisposable
{
    private static int s_labs;
    private static readonly Lazy<string?> Probe = new(FindSkipReason);

    private readonly string _prefix;
    private readonly string[] _sudo;

    /// <summary>Why namespaces cannot be built here, or null if they can.</summary>
    public static string? SkipReason => Probe.Value;

    public NatLab()
    {
        _sudo = IsRoot() ? [] : ["sudo", "-n"];
        _prefix = $"dz{Environment.ProcessId % 10000}x{Interlocked.Increment(ref s_labs)}";
        try { Bash(Script(_prefix)); }
        catch { Dispose(); throw; }
    }

    /// <summary>Words that run a command inside <paramref name="host"/>'s namespace.</summary>
    public IReadOnlyList<string> In(string host) => [.. _sudo, "ip", "netns", "exec", $"{_prefix}-{host}"];

    public static string Ip(string host) => host switch
    {
        "boot" => "203.0.113.10", "pub" => "203.0.113.11", "fw" => "203.0.113.12",
        _ when host.StartsWith('h') => $"10.{host[1..]}.0.2",
        _ when host.StartsWith("rt") => $"203.0.113.2{host[2..]}",
        _ => throw new ArgumentException(host),
    };

    public void Dispose()
    {
        try
        {
            var names = Run([.. _sudo, "ip", "netns", "list"]).Split('\n').Select(l => l.Split(' ')[0]).Where(n => n.StartsWith(_prefix + "-"));
            foreach (var name in names) Run([.. _sudo, "ip", "netns", "del", name]);
        }
        catch (Exception) { /* best effort: a leftover namespace holds no process and no traffic */ }
    }

    private void Bash(string script) => Run([.. _sudo, "bash", "-euo", "pipefail", "-c", script]);

    private static string Run(IReadOnlyList<string> words)
    {
        var info = new ProcessStartInfo(words[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var w in words.Skip(1)) info.ArgumentList.Add(w);
        using var p = Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(60_000)) { p.Kill(true); throw new TimeoutException($"{string.Join(' ', words)} hung"); }
        if (p.ExitCode != 0) throw new InvalidOperationException($"{string.Join(' ', words.Take(6))}… failed ({p.ExitCode}): {stderr.Result}");
        return stdout.Result;
    }

    private static bool IsRoot()
    {
        try { return Run(["id", "-u"]).Trim() == "0"; }
        catch (Exception) { return false; }
    }

    private static string? FindSkipReason()
    {
        if (!OperatingSystem.IsLinux()) return "network namespaces need Linux";
        foreach (var tool in new[] { "ip", "nft" })
            if (!new[] { "/usr/sbin", "/sbin", "/usr/bin", "/bin" }.Any(d => File.Exists(Path.Combine(d, tool))))
                return $"'{tool}' is not installed (scripts/setup-netns.sh installs nftables and iproute2 as root)";
        var sudo = IsRoot() ? "" : "sudo -n ";
        if (sudo.Length > 0)
        {
            try { Run(["sudo", "-n", "true"]); }
            catch (Exception) { return "not root and no passwordless sudo: cannot create network namespaces (needs CAP_NET_ADMIN)"; }
        }
        var probe = $"dzprobe{Environment.ProcessId % 100000}";
        try
        {
            Run([.. sudo.Split(' ', StringSplitOptions.RemoveEmptyEntries), "ip", "netns", "add", probe]);
            Run([.. sudo.Split(' ', StringSplitOptions.RemoveEmptyEntries), "ip", "netns", "exec", probe, "nft", "list", "ruleset"]);
        }
        catch (Exception e) { return $"cannot create a network namespace with nftables here: {e.Message.Split('\n')[0]}"; }
        finally { try { Run([.. sudo.Split(' ', StringSplitOptions.RemoveEmptyEntries), "ip", "netns", "del", probe]); } catch (Exception) { } }
        return null;
    }

    private static string Script(string p) => $$"""
        ns() { ip netns exec {{p}}-$1 "${@:2}"; }
        ip netns add {{p}}-inet
        ns inet ip link set lo up
        ns inet ip link add br0 type bridge
        ns inet ip link set br0 up
        public() { # namespace, address: one host on the internet bridge
          ip netns add {{p}}-$1
          ip link add {{p}}$1o type veth peer name {{p}}$1b
          ip link set {{p}}$1o netns {{p}}-$1
          ip link set {{p}}$1b netns {{p}}-inet
          ns $1 ip link set {{p}}$1o name out
          ns $1 ip addr add $2/24 dev out
          ns $1 ip link set out up
          ns $1 ip link set lo up
          ns inet ip link set {{p}}$1b master br0
          ns inet ip link set {{p}}$1b up
        }
        behind() { # router, host, lan prefix, masquerade flags: a home router with one machine behind it
          ip netns add {{p}}-$2
          ip link add {{p}}$2r type veth peer name {{p}}$2h
          ip link set {{p}}$2r netns {{p}}-$1
          ip link set {{p}}$2h netns {{p}}-$2
          ns $1 ip link set {{p}}$2r name lan
          ns $1 ip addr add $3.1/24 dev lan
          ns $1 ip link set lan up
          ns $2 ip link set {{p}}$2h name eth0
          ns $2 ip addr add $3.2/24 dev eth0
          ns $2 ip link set eth0 up
          ns $2 ip link set lo up
          ns $2 ip route add default via $3.1
          ns $1 sysctl -qw net.ipv4.ip_forward=1
          printf 'table ip nat {\n chain post {\n  type nat hook postrouting priority 100;\n  oifname "out" masquerade %s;\n }\n}\ntable inet guard {\n chain guard_forward {\n  type filter hook forward priority 0;\n  ct state established,related accept;\n  iifname "out" drop;\n }\n chain guard_input {\n  type filter hook input priority 0;\n  ct state established,related accept;\n  iifname "out" drop;\n }\n}\n' "$4" | ns $1 nft -f -
        }
        public boot 203.0.113.10
        public pub 203.0.113.11
        public fw 203.0.113.12
        printf 'table inet guard {\n chain guard_input {\n  type filter hook input priority 0;\n  tcp dport 4001 ct state new drop;\n }\n}\n' | ns fw nft -f -
        public rt1 203.0.113.21
        public rt2 203.0.113.22
        public rt3 203.0.113.23
        public rt4 203.0.113.24
        behind rt1 h1 10.1.0 ""
        behind rt2 h2 10.2.0 ""
        behind rt3 h3 10.3.0 random
        behind rt4 h4 10.4.0 random
        """;
}

/// <summary>A fact that skips, with the reason, where namespaces cannot be created.</summary>
public sealed class NatLabFactAttribute : FactAttribute
{
    public NatLabFactAttribute()
    {
        if (NatLab.SkipReason is { } reason) Skip = reason;
    }
}
