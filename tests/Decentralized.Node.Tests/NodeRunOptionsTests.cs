using System.CommandLine;
using Decentralized.Cli;

namespace Decentralized.Node.Tests;

/// <summary>A swarm trains as <c>train</c> measured: node run takes train's learning options by the same names and defaults.</summary>
public sealed class NodeRunOptionsTests
{
    [Theory]
    [InlineData("algorithm")] [InlineData("inner-steps")] [InlineData("compress")] [InlineData("weights-compress")]
    [InlineData("lr")] [InlineData("warmup")] [InlineData("seed")]
    [InlineData("outer-lr")] [InlineData("outer-momentum")] [InlineData("outer-form")]
    [InlineData("noloco-alpha")] [InlineData("noloco-beta")] [InlineData("noloco-gamma")] [InlineData("noloco-form")]
    [InlineData("noloco-payload")] [InlineData("group-size")] [InlineData("sync-warmup")] [InlineData("min-lr-ratio")] [InlineData("batch-tokens")]
    [InlineData("init")] [InlineData("split-unit")]
    [InlineData("sparse-k")] [InlineData("sparse-beta")] [InlineData("sparse-lr")] [InlineData("sparse-positions")] [InlineData("sparse-mean")]
    [InlineData("sparse-clip")] [InlineData("sparse-group-size")]
    [InlineData("inner-optimizer")] [InlineData("muon-lr")]
    public void NodeRunHasTrainsLearningOptionWithTheSameDefault(string name)
    {
        var train = TrainCommand.Create();
        var run = new Command("run");
        NodeOptions.Declare(run);
        var ours = Find(run, name);
        var theirs = Find(train, name);
        Assert.Equal(theirs.ValueType, ours.ValueType);
        Assert.Equal(Default(theirs), Default(ours));
        if (name is not ("noloco-gamma" or "noloco-payload" or "compress")) Assert.NotNull(Default(ours));
    }

    /// <summary>
    /// --compress is derived when not given: the 4-bit chain for every outer method, in train and in node run alike,
    /// and fp32 for train's DDP baseline (a user comparing against DDP compares against exact gradients).
    /// </summary>
    [Theory]
    [InlineData("noloco", "q4:bf16+ef+ans")] [InlineData("diloco", "q4:bf16+ef+ans")] [InlineData("sparseloco", "q4:bf16+ef+ans")] [InlineData("ddp", "fp32")]
    public void CompressDefaultsToTheFourBitChainForOuterMethodsAndFp32ForDdp(string algorithm, string chain)
    {
        var train = new Command("train");
        var learning = LearningOptions.Declare(train, ddp: true);   // train's own declaration
        Assert.Equal(chain, learning(train.Parse(["--algorithm", algorithm])).Rounds.Compress);
        if (algorithm == "ddp") return;
        var run = new Command("run");
        var read = NodeOptions.Declare(run);
        Assert.Equal(chain, read(run.Parse(["--algorithm", algorithm])).Compress);
        Assert.Equal("int8", read(run.Parse(["--algorithm", algorithm, "--compress", "int8"])).Compress);
    }

    /// <summary>Muon on the blocks' matrices is the default inner optimizer of train and node run (docs/RESULTS.md, held-out split).</summary>
    [Fact]
    public void MuonIsTheDefaultInnerOptimizer()
    {
        var run = new Command("run");
        var read = NodeOptions.Declare(run);
        Assert.Equal(Decentralized.Node.Training.InnerOptimizer.Muon, read(run.Parse([])).Inner.Optimizer);
        Assert.Equal(Decentralized.Node.Training.InnerOptimizer.AdamW, read(run.Parse(["--inner-optimizer", "adamw"])).Inner.Optimizer);
    }

    /// <summary>
    /// Every option that changes what crosses the wire or what the model is enters the gate's settings under its own
    /// name: two members differing in it have different config hashes and the refusal names the option and both values.
    /// </summary>
    [Theory]
    [InlineData("noloco", "--compress", "int8")] [InlineData("noloco", "--weights-compress", "int8")] [InlineData("noloco", "--seed", "2")]
    [InlineData("noloco", "--overlap", "true")] [InlineData("noloco", "--inner-steps", "7")] [InlineData("noloco", "--group-size", "3")]
    [InlineData("noloco", "--noloco-alpha", "0.25")] [InlineData("noloco", "--noloco-beta", "0.5")] [InlineData("noloco", "--noloco-gamma", "0.3")]
    [InlineData("noloco", "--noloco-form", "nesterov")] [InlineData("noloco", "--noloco-payload", "delta+slow")] [InlineData("noloco", "--tokenizer", "gpt2")]
    [InlineData("diloco", "--outer-lr", "0.7")] [InlineData("diloco", "--outer-momentum", "0.9")] [InlineData("diloco", "--outer-form", "heavyball")]
    [InlineData("diloco", "--layers", "3")] [InlineData("noloco", "--algorithm", "diloco")] [InlineData("diloco", "--sync-warmup", "100")]
    [InlineData("noloco", "--init", "torch")] [InlineData("diloco", "--init", "scale=0.05")] [InlineData("noloco", "--split-unit", "chunk")]
    [InlineData("noloco", "--algorithm", "sparseloco")] [InlineData("sparseloco", "--sparse-k", "32")] [InlineData("sparseloco", "--sparse-beta", "0.9")]
    [InlineData("sparseloco", "--sparse-lr", "0.4")] [InlineData("sparseloco", "--sparse-positions", "12bit")] [InlineData("sparseloco", "--sparse-mean", "replicas")]
    [InlineData("sparseloco", "--sparse-clip", "off")] [InlineData("sparseloco", "--sparse-group-size", "2")] [InlineData("sparseloco", "--compress", "int8")]
    [InlineData("noloco", "--inner-optimizer", "adamw")] [InlineData("diloco", "--inner-optimizer", "muloco")]
    public void EveryWireOrModelSettingEntersTheGateByName(string algorithm, string option, string value)
    {
        var ours = Identity("--algorithm", algorithm);
        var theirs = option == "--algorithm" ? Identity(option, value) : Identity("--algorithm", algorithm, option, value);
        Assert.NotEqual(ours.ConfigHash, theirs.ConfigHash);
        var named = option == "--tokenizer" || option == "--layers" ? "--model" : option;   // both also change the model's shape
        Assert.Contains(named + ": ours '", ours.DescribeDifferences(theirs.Settings));
    }

    [Theory]
    [InlineData("--lr", "1e-3")] [InlineData("--warmup", "7")] [InlineData("--round-timeout", "9")] [InlineData("--norm-bound", "4")] [InlineData("--outer-lr", "0.5")]
    [InlineData("--muon-lr", "0.03")]
    public void SettingsMembersMayChooseForThemselvesStayOutOfTheGate(string option, string value) =>
        Assert.Equal(Identity().ConfigHash, Identity(option, value).ConfigHash);   // --outer-lr: not used by the default NoLoCo

    /// <summary>The gate identity of <c>node run</c> with <paramref name="args"/>.</summary>
    internal static Decentralized.Node.Swarm.SwarmIdentity Identity(params string[] args)
    {
        var run = new Command("run");
        var read = NodeOptions.Declare(run);
        var parsed = run.Parse(args);
        Assert.Empty(parsed.Errors);
        var settings = read(parsed);
        return NodeDaemon.IdentityOf(settings, Decentralized.Node.Data.Tokenizers.Create(settings.Data.Tokenizer).VocabSize);
    }

    private static Option Find(Command command, string name) =>
        command.Options.SingleOrDefault(o => o.Name == "--" + name) ?? throw new Xunit.Sdk.XunitException($"{command.Name} has no --{name}");

    /// <summary>The declared default (our options' factories ignore their argument), or null for an optional one.</summary>
    private static object? Default(Option option) =>
        (option.GetType().GetProperty("DefaultValueFactory")?.GetValue(option) as Delegate)?.DynamicInvoke([null]);
}
