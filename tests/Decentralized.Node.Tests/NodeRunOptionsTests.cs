using System.CommandLine;
using Decentralized.Cli;

namespace Decentralized.Node.Tests;

/// <summary>A swarm trains as <c>train</c> measured: node run takes train's learning options by the same names and defaults.</summary>
public sealed class NodeRunOptionsTests
{
    // Not yet in the daemon: --sync-warmup (a synchronous gradient exchange over the network; issue 21).
    [Theory]
    [InlineData("algorithm")] [InlineData("inner-steps")] [InlineData("compress")] [InlineData("weights-compress")]
    [InlineData("lr")] [InlineData("warmup")] [InlineData("seed")]
    [InlineData("outer-lr")] [InlineData("outer-momentum")] [InlineData("outer-form")]
    [InlineData("noloco-alpha")] [InlineData("noloco-beta")] [InlineData("noloco-gamma")] [InlineData("noloco-form")]
    [InlineData("noloco-payload")] [InlineData("group-size")]
    public void NodeRunHasTrainsLearningOptionWithTheSameDefault(string name)
    {
        var train = TrainCommand.Create();
        var run = new Command("run");
        NodeOptions.Declare(run);
        var ours = Find(run, name);
        var theirs = Find(train, name);
        Assert.Equal(theirs.ValueType, ours.ValueType);
        Assert.Equal(Default(theirs), Default(ours));
        if (name is not ("noloco-gamma" or "noloco-payload")) Assert.NotNull(Default(ours));
    }

    private static Option Find(Command command, string name) =>
        command.Options.SingleOrDefault(o => o.Name == "--" + name) ?? throw new Xunit.Sdk.XunitException($"{command.Name} has no --{name}");

    /// <summary>The declared default (our options' factories ignore their argument), or null for an optional one.</summary>
    private static object? Default(Option option) =>
        (option.GetType().GetProperty("DefaultValueFactory")?.GetValue(option) as Delegate)?.DynamicInvoke([null]);
}
