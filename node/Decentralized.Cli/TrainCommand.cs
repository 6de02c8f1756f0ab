using System.CommandLine;
using System.Text.Json;
using Decentralized.Node.Checkpoints;
using Decentralized.Node.Export;
using Decentralized.Node.Model;
using Decentralized.Node.Outer;
using Decentralized.Node.Rounds;
using Decentralized.Node.Training;

namespace Decentralized.Cli;

/// <summary>
/// <c>decentralized train</c>: K replicas in one process, no network, one algorithm, exact byte counts.
/// The local way to compare DDP, DiLoCo and NoLoCo (and codec chains) at equal tokens.
/// </summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var c = new Command("train", "Train K replicas in this process with ddp, diloco or noloco and report loss and bytes.");
        var config = c.AddOptional<string>("config", "JSON file of option values (keys are option names); unknown keys are refused.");
        var replicas = c.Add("replicas", "Replicas K trained side by side.", 4);
        var steps = c.Add("steps", "Inner steps per replica for the whole run.", 2000);
        var learningOf = LearningOptions.Declare(c, ddp: true);
        var shapeOf = ShapeOptions.Declare(c, "small", 16);
        var dataOf = DataOptions.Declare(c);
        var evalEvery = c.Add("eval-every", "Validate every N steps (0: only at the end).", 200);
        var evalBatches = c.Add("eval-batches", "Fixed validation micro-batches per evaluation.", 16);
        var device = c.Add("device", "cpu | cuda | auto.", "auto");
        var checkpoint = c.AddOptional<string>("checkpoint", "Checkpoint file written atomically during and after the run, and on Ctrl-C (default: a new file under ~/.local/share/decentralized/runs/).");
        var checkpointEvery = c.Add("checkpoint-every-steps", "Write the checkpoint every N inner steps (0: only at the end and on Ctrl-C).", 0);
        var resume = c.Add("resume", "Continue from --checkpoint.", false);
        var stopAfter = c.AddOptional<long?>("stop-after", "Stop after this many steps (with --checkpoint, to resume later).");
        var threads = c.Add("threads", "CPU threads for tensor math (0: torch's default, one per core).", 0);
        var json = c.Add("json", "Print one JSON object with the result at the end.", false);
        var report = c.AddOptional<string>("report", "Also write that JSON object to this file (as node run --report does).");
        var initFrom = c.AddOptional<string>("init-from", "Start from the weights of a Hugging Face Llama directory (e.g. one written by export); its config must match the model.");

        c.SetAction(async (parse, ct) =>
        {
            await Task.Yield();
            bool asJson = parse.GetValue(json);
            if (parse.GetValue(threads) is > 0 and var n) TorchSharp.torch.set_num_threads(n);
            void Log(string line) => Console.Error.WriteLine(line);
            var learning = learningOf(parse);
            var chain = learning.Rounds.Compress;
            var shape = shapeOf(parse);
            var options = new ComparisonOptions
            {
                Replicas = parse.GetValue(replicas),
                Algorithm = learning.Algorithm,
                InnerStepsPerRound = learning.InnerStepsPerRound,
                StepsPerReplica = parse.GetValue(steps),
                Model = shape.Model,
                Inner = learning.Inner(shape, parse.GetValue(steps)),
                DiLoCo = learning.DiLoCo,
                SparseLoCo = learning.SparseLoCo,
                NoLoCo = learning.Rounds.NoLoCo,
                NoLoCoWire = learning.Rounds.Payload,
                SyncWarmupSteps = learning.SyncWarmupSteps,
                EvalEvery = parse.GetValue(evalEvery),
                EvalBatches = parse.GetValue(evalBatches),
                Seed = learning.Seed,
                Init = learning.Init,
            }.Validate();
            var torchDevice = DeviceSelector.Resolve(parse.GetValue(device)!);
            var checkpointPath = parse.GetValue(checkpoint);
            if (parse.GetValue(resume) && checkpointPath is null) throw new ArgumentException("--resume needs --checkpoint PATH");
            // Nothing trained is lost: without --checkpoint the run still saves its final state (and on Ctrl-C) somewhere new.
            checkpointPath ??= NewRunCheckpoint(options.Algorithm.Name());
            if (!parse.GetValue(resume) && checkpointPath is not null && File.Exists(checkpointPath))
                throw new ArgumentException($"checkpoint {checkpointPath} already exists: pass --resume to continue it, or choose another path");

            var corpus = TrainingData.Open(dataOf(parse), Log);
            if (corpus.Tokenizer.VocabSize != options.Model.VocabSize)
                options = options with { Model = options.Model with { VocabSize = corpus.Tokenizer.VocabSize } };
            var validation = corpus.Validation(options.Inner.MicroBatchSize, options.Inner.SequenceLength, options.EvalBatches);
            Log($"model: {MemoryEstimate.Describe(options.Model, options.Inner, options.Replicas, options.Algorithm != Algorithm.Ddp)}");
            var initial = parse.GetValue(initFrom) is { } from ? InitialWeights.Load(from, options.Model) : null;
            if (initial is not null) Log($"initial weights from {initial.Directory} (hash {initial.Hash})");
            using var run = new LocalComparison(options,
                i => corpus.ForReplica(options.Seed, i, options.Replicas, options.Inner.MicroBatchSize, options.Inner.SequenceLength),
                validation, chain, torchDevice, learning.Rounds.WeightsCompress, initial);
            if (parse.GetValue(resume))
            {
                ComparisonCheckpoint.Load(checkpointPath!, run, options, run.CodecSpec);
                Log($"resumed from {checkpointPath} at step {run.Step}");
            }
            var innerName = options.Inner.Optimizer == InnerOptimizer.AdamW ? "adamw" : $"{options.Inner.Optimizer.Name()} (muon-lr {options.Inner.EffectiveMuonLearningRate:G3})";
            Log($"train: {options.Algorithm.Name()} K={options.Replicas} H={options.InnerStepsPerRound} inner={innerName} compress={run.CodecSpec} " +
                $"params={run.Replicas[0].Trainer.Flat.Count:N0} device={torchDevice.type} data={corpus.Source} " +
                $"unigram-entropy={Decentralized.Node.Data.CorpusStatistics.UnigramEntropyNats(corpus.Dataset.Tokens.Span):F3} nats");
            var progress = new ProgressPrinter(options.StepsPerReplica, run.TokensPerStep, Log);
            run.OnStep = (step, loss) =>
            {
                progress.Step(step, loss, run.BytesSentPerReplica);
                int every = parse.GetValue(checkpointEvery);
                if (every > 0 && step % every == 0) ComparisonCheckpoint.Save(checkpointPath, run, options, run.CodecSpec);
            };
            run.OnEvaluation = p => Log($"  eval step {p.Step}: val_loss {p.ValidationLoss:F4}  train_loss {p.TrainLoss:F4}  bytes/replica {Units.Bytes(run.BytesSentPerReplica)}");
            var (stop, signals) = DaemonHosting.StopOnSignals(ct);   // Ctrl-C: finish the step, save, say how to go on
            ComparisonResult result;
            using (signals) result = run.Run(parse.GetValue(stopAfter), stop);
            ComparisonCheckpoint.Save(checkpointPath, run, options, run.CodecSpec);
            result = result with { SplitUnit = corpus.Dataset.Options.Unit.ToString().ToLowerInvariant(), ValidationSeenFraction = corpus.Overlap.SeenFraction };
            if (stop.IsCancellationRequested && run.Step < options.StepsPerReplica)
            {
                Log($"stopped at step {run.Step}/{options.StepsPerReplica}; saved {checkpointPath}; go on with the same options and --checkpoint {checkpointPath} --resume");
                return 130;
            }
            Log($"saved {checkpointPath}");
            var resultJson = JsonSerializer.Serialize(result, JsonOutput.Options);
            if (asJson) Console.WriteLine(resultJson);
            if (parse.GetValue(report) is { } reportPath) AtomicFile.WriteAllText(reportPath, resultJson);
            else Log($"done: val_loss {result.ValLoss:F4}{(result.ValLossAveragedWeights != result.ValLoss ? $" (replicas' averaged weights {result.ValLossAveragedWeights:F4})" : "")}, {Units.Bytes(result.BytesSentPerReplica)} sent per replica, {result.TokensPerSecond:N0} tokens/s, {result.WallSeconds:F0} s");
            return 0;
        });
        return c;
    }

    /// <summary>A checkpoint path no run has used yet: runs/train-&lt;algorithm&gt;-&lt;local time&gt;[-n].ckpt under the data home.</summary>
    private static string NewRunCheckpoint(string algorithm)
    {
        var stem = Path.Combine(NodeDefaults.Home, "runs", $"train-{algorithm}-{DateTime.Now:yyyyMMdd-HHmmss}");
        var path = stem + ".ckpt";
        for (int n = 2; File.Exists(path); n++) path = $"{stem}-{n}.ckpt";
        return path;
    }
}
