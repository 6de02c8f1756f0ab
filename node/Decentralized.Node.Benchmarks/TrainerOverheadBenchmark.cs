using System.Diagnostics;
using Decentralized.Node.Model;
using Decentralized.Node.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Decentralized.Node.Benchmarks;

/// <summary>
/// Tokens/s of our inner trainer beside a bare TorchSharp loop on the same model and batch. The two run in
/// alternating blocks within one process, so machine noise hits both alike; the ratio is what counts.
/// </summary>
public static class TrainerOverheadBenchmark
{
    public static void Run(ModelConfig config, int batch, int seqLen, int blocks, int stepsPerBlock, Action<string> print)
    {
        var data = TrainingData.Open(new TrainingDataOptions());
        var source = data.ForReplica(seed: 1, replica: 0, replicas: 1, batch, seqLen);
        var options = new InnerOptions(LearningRate: 1e-3, WarmupSteps: 10, TotalSteps: 1_000_000, MicroBatchSize: batch, SequenceLength: seqLen);
        using var ours = new InnerTrainer(new ModelStage(config, seed: 1), options, CPU);
        var buffer = new long[ours.MicroBatchTokens];

        using var bareModel = new ModelStage(config, seed: 1);
        using var bareOptimizer = optim.AdamW(bareModel.parameters(), 1e-3, 0.9, 0.95, weight_decay: 0.1);
        var bareBuffer = new long[buffer.Length];

        for (int i = 0; i < 3; i++) { ours.TrainStep(source.Next, buffer); BareStep(bareModel, bareOptimizer, source, bareBuffer, batch, seqLen); }
        double oursSeconds = 0, bareSeconds = 0;
        for (int block = 0; block < blocks; block++)
        {
            var clock = Stopwatch.StartNew();
            for (int s = 0; s < stepsPerBlock; s++) ours.TrainStep(source.Next, buffer);
            oursSeconds += clock.Elapsed.TotalSeconds;
            clock.Restart();
            for (int s = 0; s < stepsPerBlock; s++) BareStep(bareModel, bareOptimizer, source, bareBuffer, batch, seqLen);
            bareSeconds += clock.Elapsed.TotalSeconds;
        }
        double tokens = (double)blocks * stepsPerBlock * batch * seqLen;
        double oursRate = tokens / oursSeconds, bareRate = tokens / bareSeconds;
        print($"model {new FlatParameters(bareModel).Count:N0} parameters, batch {batch} x {seqLen}, {blocks} alternating blocks of {stepsPerBlock} steps");
        print($"{"loop",-24}{"tokens/s",12}");
        print($"{"bare TorchSharp",-24}{bareRate,12:N0}");
        print($"{"decentralized trainer",-24}{oursRate,12:N0}");
        print($"overhead: {(bareRate / oursRate - 1) * 100:F2}% (target: at most 3%)");
    }

    /// <summary>The textbook loop: forward, loss, backward, clip, AdamW step.</summary>
    private static void BareStep(ModelStage model, OptimizerHelper optimizer, IBatchSource source, long[] buffer, int batch, int seqLen)
    {
        using var scope = NewDisposeScope();
        optimizer.zero_grad();
        source.Next(buffer);
        var tokens = tensor(buffer, new long[] { batch, seqLen + 1 });
        var logits = model.forward(tokens.narrow(1, 0, seqLen));
        var loss = nn.functional.cross_entropy(logits.reshape(batch * seqLen, -1), tokens.narrow(1, 1, seqLen).reshape(batch * seqLen));
        loss.backward();
        nn.utils.clip_grad_norm_(model.parameters(), 1.0);
        optimizer.step();
    }
}
