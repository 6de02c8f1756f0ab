using System.CommandLine;

namespace Decentralized.Simulations.Scenarios;

/// <summary>The System.CommandLine shape of <c>decentralized sim</c>: one argument (the scenario) and the run's knobs.</summary>
internal static class SimulationCommandLine
{
    public static Command Create()
    {
        var defaults = new SimulationRunOptions();
        var scenario = new Argument<string>("scenario")
        {
            Description = "Which scenario: " + string.Join("; ", SimulationCommands.Describe().Select(d => $"{d.Name}: {d.Description}")),
        };
        scenario.AcceptOnlyFromAmong(SimulationCommands.ScenarioNames.ToArray());
        var seed = new Option<long>("--seed") { Description = "Seed of the whole run; the same seed replays the same numbers", DefaultValueFactory = _ => defaults.Seed };
        var output = new Option<string?>("--out") { Description = "Output folder (default: ./sim-<scenario>)" };
        var peers = new Option<int?>("--peers") { Description = "Peers (default per scenario; sync-scaling: the largest count)" };
        var quick = new Option<bool>("--quick") { Description = "Short version (seconds): what the tests run" };
        var steps = new Option<int?>("--steps") { Description = "Inner steps per peer (training scenarios)" };
        var innerSteps = new Option<int?>("--inner-steps") { Description = "H, inner steps per outer round" };
        var latency = new Option<double>("--latency-ms") { Description = "One-way link latency (ms)", DefaultValueFactory = _ => defaults.LatencyMs };
        var jitter = new Option<double>("--jitter-ms") { Description = "Mean extra delay per message (ms)", DefaultValueFactory = _ => defaults.JitterMs };
        var bandwidth = new Option<double>("--bandwidth-gbps") { Description = "Each peer's uplink and downlink (Gbit/s)", DefaultValueFactory = _ => defaults.BandwidthGbps };
        var loss = new Option<double>("--loss") { Description = "Packet loss probability (TCP: slower, never lossy)", DefaultValueFactory = _ => defaults.LossRate };
        var represented = new Option<long>("--represented-params") { Description = "Model size the network is timed for in training scenarios", DefaultValueFactory = _ => defaults.RepresentedParameters };
        var stepTime = new Option<double>("--step-time-ms") { Description = "Virtual time of one inner step on the reference GPU (ms)", DefaultValueFactory = _ => defaults.StepTimeMs };
        var codec = new Option<string>("--compress") { Description = "Codec chain of the outer exchange, as --compress of train and node run (fp32, q8, q4+ef, topk:0.05+ef, ...)", DefaultValueFactory = _ => defaults.Codec };
        var corpus = new Option<string?>("--data") { Description = "Corpus, as --data of train and node run: a text file, a folder of them, or JSONL (default: the embedded corpus)" };
        var payload = new Option<long>("--payload-params") { Description = "sync-scaling: parameters synchronised", DefaultValueFactory = _ => defaults.PayloadParameters };
        var bytesPerParam = new Option<int>("--bytes-per-param") { Description = "sync-scaling: bytes per parameter on the wire (1 int8, 2 bf16, 4 fp32)", DefaultValueFactory = _ => defaults.BytesPerParameter };
        var layersPerStage = new Option<int>("--layers-per-stage") { Description = "checkfree: decoder blocks per pipeline stage", DefaultValueFactory = _ => defaults.LayersPerStage };
        var churnRates = new Option<double[]?>("--churn-rates") { Description = "churn: departures per peer per simulated hour (default 10 40)", AllowMultipleArgumentsPerToken = true };
        var repeats = new Option<int?>("--repeats") { Description = "attacks: run the table with this many consecutive seeds from --seed and report the means" };
        var algorithms = new Option<string[]?>("--algorithms") { Description = "attacks: the outer methods to attack (default diloco noloco sparseloco)", AllowMultipleArgumentsPerToken = true };
        var attacks = new Option<string[]?>("--attacks") { Description = "attacks: which attacks (default all: flip near-bound random replay echo zeros scaled garbage-text)", AllowMultipleArgumentsPerToken = true };

        var command = new Command("sim", "Run a scenario on the deterministic simulated network (virtual time, modelled links, real training of a small model).");
        command.Arguments.Add(scenario);
        foreach (var option in new Option[] { seed, output, peers, quick, steps, innerSteps, latency, jitter, bandwidth, loss, represented, stepTime, codec, corpus, payload, bytesPerParam, churnRates, layersPerStage, algorithms, attacks, repeats })
            command.Options.Add(option);
        command.SetAction(parse =>
        {
            var options = new SimulationRunOptions
            {
                Seed = parse.GetValue(seed),
                OutputDirectory = parse.GetValue(output),
                Peers = parse.GetValue(peers),
                Quick = parse.GetValue(quick),
                Steps = parse.GetValue(steps),
                InnerSteps = parse.GetValue(innerSteps),
                LatencyMs = parse.GetValue(latency),
                JitterMs = parse.GetValue(jitter),
                BandwidthGbps = parse.GetValue(bandwidth),
                LossRate = parse.GetValue(loss),
                RepresentedParameters = parse.GetValue(represented),
                StepTimeMs = parse.GetValue(stepTime),
                Codec = parse.GetValue(codec) ?? defaults.Codec,
                CorpusPath = parse.GetValue(corpus),
                PayloadParameters = parse.GetValue(payload),
                BytesPerParameter = parse.GetValue(bytesPerParam),
                ChurnRates = parse.GetValue(churnRates) is { Length: > 0 } rates ? rates : null,
                LayersPerStage = parse.GetValue(layersPerStage),
                Repeats = parse.GetValue(repeats),
                Algorithms = parse.GetValue(algorithms) is { Length: > 0 } methods ? methods : null,
                Attacks = parse.GetValue(attacks) is { Length: > 0 } chosen ? chosen : null,
            };
            return SimulationCommands.Run(parse.GetValue(scenario)!, options, Console.Error);
        });
        return command;
    }
}
