using Decentralized.Node.Rounds;
using Decentralized.Node.Training;
using static TorchSharp.torch;

namespace Decentralized.Node.Swarm;

/// <summary>
/// Fault injection for testing the swarm's defences, one mechanism for the daemon (<c>--misbehave MODE</c>) and the
/// simulator: a misbehaving peer trains and decodes like any other, and lies only in what it sends. Never useful in a
/// real run. The modes, each the attack of issue 24 or an older malformed-update test:
/// <code>
///   garbage | nan | huge       malformed, non-finite or runaway blobs (the codec: <see cref="FaultyUpdateCodec"/>)
///   flip                       −Δ at equal norm (Δ = φ − θ, the update it would have sent)
///   near-bound                 −Δ scaled to 0.9 × the norm bound (just under what the bound refuses)
///   random                     a random direction at ‖Δ‖
///   zeros | scaled             a free rider: Δ = 0, or 0.01 × Δ
///   replay                     its blob of two rounds ago, sent again as this round's
///   echo                       each partner's own blob of this round, sent back to it
///   garbage-text               honest rounds, but trained on uniformly random tokens
/// </code>
/// </summary>
public sealed class Misbehaviour
{
    public static readonly IReadOnlyList<string> Modes = ["garbage", "nan", "huge", "flip", "near-bound", "random", "zeros", "scaled", "replay", "echo", "garbage-text"];

    /// <summary>The attacks of the verification suite (the sender-side lies a norm bound cannot see).</summary>
    public static readonly IReadOnlyList<string> Attacks = ["flip", "near-bound", "random", "replay", "echo", "zeros", "scaled", "garbage-text"];

    private readonly Queue<byte[]> _sent = new();

    public Misbehaviour(string mode)
    {
        Mode = Modes.Contains(mode) ? mode : throw new ArgumentException($"unknown --misbehave mode '{mode}': use {string.Join(", ", Modes)}");
    }

    public string Mode { get; }

    /// <summary>The update codec this peer sends through: a faulty one for the codec-level modes.</summary>
    public IUpdateCodec Wrap(IUpdateCodec codec) => Mode is "garbage" or "nan" or "huge" ? new FaultyUpdateCodec(codec, Mode) : codec;

    /// <summary>The data this peer trains on: random tokens for <c>garbage-text</c>.</summary>
    public IBatchSource Wrap(IBatchSource data, int vocabulary, long seed) => Mode == "garbage-text" ? new RandomTokens(vocabulary, seed) : data;

    /// <summary>
    /// The fast weights to build this round's update from: θ' = φ − Δ' for the update-level modes (so Δ' reaches the
    /// wire in whatever payload the swarm sends), null to send the honest one.
    /// </summary>
    public Tensor? Tamper(Tensor fast, Tensor slow, long round, double normBound)
    {
        if (Mode is not ("flip" or "near-bound" or "random" or "zeros" or "scaled")) return null;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var delta = slow - fast;
        var lie = Mode switch
        {
            "flip" => -delta,
            "near-bound" => delta * (-0.9 * normBound),
            "random" => RandomAtNorm(delta, round),
            "zeros" => zeros_like(delta),
            _ => delta * 0.01,
        };
        return (slow - lie).MoveToOuterDisposeScope();
    }

    private static Tensor RandomAtNorm(Tensor delta, long round)
    {
        using var generator = new Generator((ulong)(round + 1) * 7919UL);
        var r = randn(delta.shape, generator: generator).to(delta.device);
        return r * (delta.norm() / r.norm());
    }

    /// <summary>The blob to send in place of <paramref name="honest"/>: for <c>replay</c>, the one sent two rounds ago.</summary>
    public byte[] Blob(byte[] honest)
    {
        if (Mode != "replay") return honest;
        _sent.Enqueue(honest);
        return _sent.Count > 2 ? _sent.Dequeue() : honest;
    }

    /// <summary>True when this peer sends each partner its own update back instead of one of its own.</summary>
    public bool Echoes => Mode == "echo";

    /// <summary>Uniformly random tokens: a peer that trains on noise and sends honest-looking updates of it.</summary>
    private sealed class RandomTokens(int vocabulary, long seed) : IBatchSource
    {
        private readonly Random _random = new((int)seed);

        public void Next(long[] buffer)
        {
            for (int i = 0; i < buffer.Length; i++) buffer[i] = _random.Next(vocabulary);
        }

        public long[] SaveState() => [];

        public void RestoreState(long[] state) { }
    }
}
