using Decentralized.Node.Outer;
using Decentralized.Node.Rounds;
using Decentralized.Node.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Decentralized.Node.Tests.Rounds;

/// <summary>Round engines over a three-value "model", the real fp32 chain and a manual clock; blobs are handed over by hand.</summary>
internal sealed class EngineHarness : IDisposable
{
    private readonly nn.Module<Tensor, Tensor> _layout = nn.Linear(3, 1, hasBias: false);

    public ManualClock Clock { get; } = new();

    public Dictionary<string, RoundEngine> Members { get; } = new(StringComparer.Ordinal);

    public RoundEngine Add(string name, float[] slow, Func<Tensor, IOuterMethod> method, RoundOptions? options = null)
    {
        var flat = new FlatParameters(_layout);
        var codecs = new RoundCodecs(new ChainUpdateCodec("fp32", flat), new ChainUpdateCodec("bf16", flat), new ChainUpdateCodec(WeightsChain.Default, flat));
        using var initial = tensor(slow);
        var engine = new RoundEngine(name, method(initial), codecs, options ?? new RoundOptions { RoundTimeout = TimeSpan.FromSeconds(10) }, Clock);
        Members[name] = engine;
        return engine;
    }

    public static Func<Tensor, IOuterMethod> DiLoCo(double lr = 1.0, double momentum = 0.0) => s => new DiLoCoMethod(s, new DiLoCoOptions(lr, momentum));

    public static Func<Tensor, IOuterMethod> NoLoCo(double alpha = 0.0, double beta = 1.0) => s => new NoLoCoMethod(s, new NoLoCoOptions(alpha, beta));

    /// <summary>Every member's live view: every other member, at its round.</summary>
    public Dictionary<string, long> LiveFor(string self, params string[] absent) =>
        Members.Where(m => m.Key != self && !absent.Contains(m.Key)).ToDictionary(m => m.Key, m => m.Value.Round);

    /// <summary>Hands a blob to each of its targets.</summary>
    public void Deliver(string from, Outgoing outgoing)
    {
        foreach (var target in outgoing.Targets)
            Assert.Equal(UpdateVerdict.Accepted, Members[target].OnUpdate(from, outgoing.Round, outgoing.Payload, outgoing.Blob).Verdict);
    }

    /// <summary>One synchronous round for every member: begin, deliver all, tick, apply. Returns each member's new fast weights.</summary>
    public Dictionary<string, float[]> Round(Dictionary<string, float[]> fast, bool last = false)
    {
        var sent = Members.ToDictionary(m => m.Key, m => m.Value.Begin(tensor(fast[m.Key]), LiveFor(m.Key), last));
        foreach (var (name, outgoing) in sent) Deliver(name, outgoing);
        return Members.ToDictionary(m => m.Key, m =>
        {
            Assert.True(m.Value.OnTick().Ready);
            var applied = m.Value.Apply(tensor(fast[m.Key]));
            using var next = applied.Fast;
            return next.data<float>().ToArray();
        });
    }

    public static float[] Values(Tensor t) => t.data<float>().ToArray();

    public void Dispose()
    {
        foreach (var m in Members.Values) { m.Dispose(); m.Method.Dispose(); }
        _layout.Dispose();
    }
}
