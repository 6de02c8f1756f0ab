using Decentralized.Node.Outer;
using Decentralized.Simulations.Core;
using Decentralized.Simulations.Network;

namespace Decentralized.Simulations.Collectives;

/// <summary>
/// Runs one synchronisation among flow-model nodes as real message exchanges (every chunk a message sharing the
/// links with the others), each member as its own async code on its host, and reports when each member finished.
/// Only sizes travel here: the sync-scaling scenario times a realistic payload without allocating it, and the
/// training simulation uses the same code to time its all-reduces.
/// </summary>
public sealed class CollectiveRunner
{
    private readonly SimulationScheduler _scheduler;
    private readonly Mailbox _mailbox;
    private long _nextTagBase;

    /// <summary>Creates a runner over <paramref name="network"/>.</summary>
    public CollectiveRunner(SimulationScheduler scheduler, FlowNetwork network)
    {
        _scheduler = scheduler;
        _mailbox = new Mailbox(network);
    }

    /// <summary>
    /// Starts <paramref name="pattern"/> over <paramref name="nodes"/> (node i starts when <paramref name="ready"/>[i]
    /// completes, or at once) and returns, per member, the task that completes when that member holds the result.
    /// <paramref name="payloadBytes"/> is the size of one member's full vector on the wire.
    /// </summary>
    public Task<TimeSpan>[] Start(SyncPattern pattern, IReadOnlyList<int> nodes, IReadOnlyList<SimulatedHost?> hosts,
        long payloadBytes, long pairingSeed = 0, long round = 0, IReadOnlyList<Task>? ready = null)
    {
        if (nodes.Count != hosts.Count) throw new ArgumentException("one host per node");
        ArgumentOutOfRangeException.ThrowIfNegative(payloadBytes);
        long tagBase = _nextTagBase;
        _nextTagBase += 4L * nodes.Count * (nodes.Count + 8) + 64;
        var groups = pattern == SyncPattern.PairExchange ? NoLoCoPairing.Groups(nodes.Count, pairingSeed, round) : null;
        var finished = new Task<TimeSpan>[nodes.Count];
        for (int i = 0; i < nodes.Count; i++)
        {
            int member = i;
            var gate = ready?[i] ?? Task.CompletedTask;
            var host = hosts[i] ?? new SimulatedHost(_scheduler, $"node{nodes[i]}");
            finished[i] = StartMember(host, async () =>
            {
                await gate;
                switch (pattern)
                {
                    case SyncPattern.PairExchange: await PairMemberAsync(nodes, groups!, member, payloadBytes, tagBase); break;
                    case SyncPattern.RingAllReduce: await RingMemberAsync(nodes, member, payloadBytes, tagBase); break;
                    default: await TreeMemberAsync(nodes, member, payloadBytes, tagBase); break;
                }
                return _scheduler.Now;
            });
        }
        return finished;
    }

    private static Task<TimeSpan> StartMember(SimulatedHost host, Func<Task<TimeSpan>> body)
    {
        var result = new TaskCompletionSource<TimeSpan>();
        host.Start(async () =>
        {
            try { result.TrySetResult(await body()); }
            catch (Exception e) { result.TrySetException(e); }
        });
        return result.Task;
    }

    /// <summary>NoLoCo: send the vector to each partner, wait for each partner's.</summary>
    private async Task PairMemberAsync(IReadOnlyList<int> nodes, IReadOnlyList<int[]> groups, int member, long bytes, long tagBase)
    {
        var group = groups.First(g => g.Contains(member));
        foreach (int partner in group.Where(p => p != member))
            _mailbox.Send(nodes[member], nodes[partner], bytes, tagBase + member);
        foreach (int partner in group.Where(p => p != member))
            await _mailbox.ReceiveAsync(nodes[member], tagBase + partner);
    }

    /// <summary>
    /// Ring all-reduce: in step s (0 ≤ s &lt; 2(N−1)) member i sends one chunk of payload/N to i+1, and may send step
    /// s+1 only after step s's chunk from i−1 arrived (it must add or forward it).
    /// </summary>
    private async Task RingMemberAsync(IReadOnlyList<int> nodes, int member, long bytes, long tagBase)
    {
        int n = nodes.Count;
        if (n < 2) return;
        long chunk = (bytes + n - 1) / n;
        int next = (member + 1) % n, steps = 2 * (n - 1);
        for (int s = 0; s < steps; s++)
        {
            _mailbox.Send(nodes[member], nodes[next], chunk, tagBase + (long)s * n + next);
            await _mailbox.ReceiveAsync(nodes[member], tagBase + (long)s * n + member);
        }
    }

    /// <summary>
    /// Tree all-reduce over a binary heap (parent of i is (i−1)/2): wait for the children's partial sums, send ours
    /// up; then wait for the result from the parent and pass it down. Every message is the full payload.
    /// </summary>
    private async Task TreeMemberAsync(IReadOnlyList<int> nodes, int member, long bytes, long tagBase)
    {
        int n = nodes.Count;
        if (n < 2) return;
        long up = tagBase, down = tagBase + 2L * n;
        int[] children = new[] { 2 * member + 1, 2 * member + 2 }.Where(c => c < n).ToArray();
        foreach (int c in children) await _mailbox.ReceiveAsync(nodes[member], up + c);
        if (member > 0)
        {
            int parent = (member - 1) / 2;
            _mailbox.Send(nodes[member], nodes[parent], bytes, up + member);
            await _mailbox.ReceiveAsync(nodes[member], down + member);
        }
        foreach (int c in children) _mailbox.Send(nodes[member], nodes[c], bytes, down + c);
    }
}
