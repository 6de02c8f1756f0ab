using Decentralized.Protocol.Addressing;
using Decentralized.Protocol.Nat;

namespace Decentralized.Protocol.Tcp;

public sealed partial class Libp2pHost
{
    private readonly ReachabilityTracker _reachability = new();
    private IReadOnlyList<Multiaddr> _circuitAddresses = [];
    private IReadOnlyList<Multiaddr> _confirmedAddresses = [];

    /// <summary>
    /// Addresses announced to other peers (identify, swarm gossip), each ending in /p2p/. With
    /// <see cref="Libp2pHostOptions.AnnounceAddresses"/> set, exactly those. Otherwise the bound addresses, then the
    /// addresses AutoNAT servers dialed us back on (our public side, e.g. a forwarded port), then our relay circuits.
    /// </summary>
    public IReadOnlyList<Multiaddr> ListenAddresses
    {
        get
        {
            if (_options.AnnounceAddresses.Count > 0)
            {
                return [.. _options.AnnounceAddresses.Select(a => AddressScope.IsCircuit(a) ? a.Encapsulate(Multiaddr.Parse($"/p2p/{LocalPeer}")) : a.WithPeerId(LocalPeer))];
            }
            // Loopback addresses are only announced when there is nothing else (a swarm on one machine): elsewhere a
            // peer would dial its own loopback and reach itself or a stranger.
            var addresses = _listenAddresses.Where(a => AddressScope.IpOf(a) is not { } ip || !System.Net.IPAddress.IsLoopback(ip)).ToList();
            if (addresses.Count == 0)
            {
                addresses.AddRange(_listenAddresses);
            }
            if (Reachability == Reachability.Public)
            {
                addresses.AddRange(_confirmedAddresses.Select(a => a.WithPeerId(LocalPeer)).Where(a => !addresses.Contains(a)));
            }
            // Behind a NAT our own addresses only work on our LAN: circuits go first, since peers (and swarm gossip,
            // which forwards only a few addresses per peer) should try them before anything else.
            if (Reachability == Reachability.Private)
            {
                addresses.InsertRange(0, _circuitAddresses);
            }
            else
            {
                addresses.AddRange(_circuitAddresses);
            }
            return addresses;
        }
    }

    /// <summary>
    /// Our addresses as direct peers see them (identify's observedAddr), without /p2p/, most-reported first. Behind a
    /// NAT these are the router's public side; they are only dialable if the router lets inbound connections through.
    /// </summary>
    public IReadOnlyList<Multiaddr> ObservedAddresses =>
        [.. AllConnections().Where(c => !c.IsRelayed && c.Identify?.ObservedAddress is not null)
            .Select(c => c.Identify!.ObservedAddress!.WithoutPeerId())
            .Where(a => !AddressScope.IsCircuit(a) && AddressScope.TcpPortOf(a) is > 0)
            .GroupBy(a => a).OrderByDescending(g => g.Count()).Select(g => g.Key)];

    /// <summary>The AutoNAT verdict so far (see <see cref="CheckReachabilityAsync"/>).</summary>
    public Reachability Reachability => _reachability.Current;

    /// <summary>Peers whose dial-back answers the verdict rests on.</summary>
    public int ReachabilityAnswers => _reachability.Answers;

    /// <summary>Raised when <see cref="Reachability"/> changes.</summary>
    public event Action<Reachability>? ReachabilityChanged;

    /// <summary>Circuit addresses through relays that hold a reservation for us (set by the relay client).</summary>
    internal void SetCircuitAddresses(IReadOnlyList<Multiaddr> addresses)
    {
        _circuitAddresses = addresses;
        _ = PushIdentifyAsync();
    }

    /// <summary>
    /// Addresses we ask AutoNAT servers to dial: announced ones if set, else bound and observed (the server only
    /// dials those on the IP it sees us connect from, so sending private ones costs nothing and leaks little).
    /// </summary>
    private IReadOnlyList<Multiaddr> DialBackCandidates()
    {
        if (_options.AnnounceAddresses.Count > 0)
        {
            return [.. _options.AnnounceAddresses.Where(a => !AddressScope.IsCircuit(a)).Select(a => a.WithoutPeerId())];
        }
        return [.. ObservedAddresses.Concat(_listenAddresses.Select(a => a.WithoutPeerId())).Distinct().Take(PeerAddressInfo.MaxAddresses)];
    }
}
