using Decentralized.Node.Rounds;
using static TorchSharp.torch;

namespace Decentralized.Node.Training;

/// <summary>
/// The transport of <c>train</c>: K round engines in one process, one synchronous round at a time. Every blob an
/// engine asks to send is handed to each of its targets as is, and the bytes each member sends and receives are
/// counted exactly (the blobs the daemon would put in its update streams, without stream framing).
/// </summary>
public sealed class RoundLoopback
{
    private readonly IReadOnlyList<RoundEngine> _members;
    private readonly string[] _names;
    private readonly Dictionary<string, int> _index;

    /// <param name="members">The engines, each named by <paramref name="names"/> (the names its engine was built with).</param>
    public RoundLoopback(IReadOnlyList<RoundEngine> members, IReadOnlyList<string> names)
    {
        if (members.Count != names.Count) throw new ArgumentException("one name per member");
        _members = members;
        _names = names.ToArray();
        _index = _names.Select((n, i) => (n, i)).ToDictionary(x => x.n, x => x.i, StringComparer.Ordinal);
        Sent = new long[members.Count];
        Received = new long[members.Count];
    }

    public IReadOnlyList<RoundEngine> Members => _members;

    /// <summary>Bytes each member has sent so far.</summary>
    public long[] Sent { get; }

    /// <summary>Bytes each member has received so far.</summary>
    public long[] Received { get; }

    /// <summary>
    /// One outer round for every member: begin with its fast weights, deliver every blob, close, apply; each member's
    /// new fast weights go to <paramref name="assign"/>. Returns the most bytes one member sent in this round.
    /// </summary>
    public long Round(IReadOnlyList<Tensor> fast, bool last, Action<int, Tensor> assign)
    {
        var sent = new Outgoing[_members.Count];
        for (int i = 0; i < _members.Count; i++) sent[i] = _members[i].Begin(fast[i], LiveFor(i), last);
        long most = 0;
        for (int i = 0; i < sent.Length; i++)
        {
            long bytes = 0;
            foreach (var target in sent[i].Targets)
            {
                int t = _index[target];
                var answer = _members[t].OnUpdate(_names[i], sent[i].Round, sent[i].Payload, sent[i].Blob);
                if (answer.Verdict != UpdateVerdict.Accepted)
                    throw new InvalidOperationException($"{target} did not take {_names[i]}'s round {sent[i].Round} update: {answer.Reason}");
                bytes += sent[i].Blob.Length;
                Received[t] += sent[i].Blob.Length;
            }
            Sent[i] += bytes;
            most = Math.Max(most, bytes);
        }
        for (int i = 0; i < _members.Count; i++)
            if (!_members[i].OnTick().Ready) throw new InvalidOperationException($"{_names[i]} still waits although every update was delivered");
        for (int i = 0; i < _members.Count; i++)
        {
            using var next = _members[i].Apply(fast[i]).Fast;
            assign(i, next);
        }
        return most;
    }

    /// <summary>Every other member, at its round (all are at the same one: the rounds are synchronous).</summary>
    private Dictionary<string, long> LiveFor(int self) =>
        Enumerable.Range(0, _members.Count).Where(i => i != self).ToDictionary(i => _names[i], i => _members[i].Round, StringComparer.Ordinal);
}
