using Decentralized.Node.Pipeline;
using Decentralized.Node.Training;
using Decentralized.Simulations.Core;
using TorchSharp;

namespace Decentralized.Simulations.Pipeline;

/// <summary>
/// Trains a pipeline with real TorchSharp stages while a modelled wall clock advances per iteration, stage failures
/// strike at drawn times, and the chosen method recovers: CheckFree averages neighbours, CheckFree+ also trains with
/// swapped microbatches, the checkpoint baseline pays for writes and rolls every stage back, redundant computation
/// pays slower iterations. Loss is measured on fixed validation batches; everything derives from the seed.
/// </summary>
internal sealed class PipelineRecoveryRun
{
    private readonly PipelineRecoveryOptions _o;
    private readonly TrainingData _data;
    private readonly IReadOnlyList<(long[] Tokens, long[] Targets)> _validation;

    public PipelineRecoveryRun(PipelineRecoveryOptions options, TrainingData data)
    {
        _o = options.Validate();
        _data = data;
        int b = options.Pipeline.Inner.MicroBatchSize, t = options.Pipeline.Inner.SequenceLength;
        _validation = data.Validation(b, t, options.EvalBatches).Select(buffer => Split(buffer, b, t)).ToArray();
    }

    public PipelineRecoveryResult Run()
    {
        if (torch.get_num_threads() > 1) torch.set_num_threads(1);   // one thread: identical numbers on every run
        var p = _o.Pipeline;
        int b = p.Inner.MicroBatchSize, t = p.Inner.SequenceLength;
        using var pipeline = new LocalPipeline(p);
        var source = _data.ForReplica(_o.Seed, 0, 1, b, t);
        var buffer = new long[b * (t + 1)];
        var failures = _o.Method == RecoveryMethod.FailureFree ? [] : _o.Failures
            ?? StageFailureSchedule.Draw(_o.FailureRatePerHour, p.StageCount, _o.HorizonHours, new DeterministicRandom(_o.Seed).Fork($"failures-{_o.FailureRatePerHour:R}"));
        var state = new RunState { Curve = { new RecoveryCurvePoint(0, 0, pipeline.Evaluate(_validation)) } };
        double iterationHours = (_o.Method == RecoveryMethod.Redundant ? _o.RedundantIterationTime : _o.IterationTime).TotalHours;
        double horizon = _o.Method == RecoveryMethod.FailureFree ? _o.Iterations * iterationHours : _o.HorizonHours;
        byte[][]? checkpoint = _o.Method == RecoveryMethod.Checkpoint ? pipeline.Checkpoint() : null;
        long checkpointIteration = 0;
        double nextCheckpoint = _o.CheckpointInterval.TotalHours;
        pipeline.Replicate();
        int nextFailure = 0;
        while (state.Hours + iterationHours <= horizon + 1e-9)
        {
            while (nextFailure < failures.Count && failures[nextFailure].Hours <= state.Hours)
                Fail(pipeline, failures[nextFailure++].Stage, state, checkpoint, ref checkpointIteration);
            source.Next(buffer);
            var (tokens, targets) = Split(buffer, b, t);
            long microbatch = state.Iteration;
            bool swapped = _o.Method == RecoveryMethod.CheckFreePlus && MicrobatchRoute.IsSwapped(p.SwapShare, _o.Seed, microbatch);
            pipeline.Train(microbatch, swapped, tokens, targets);
            state.Iteration++;
            state.Hours += iterationHours;
            if (state.Iteration % _o.ReplicateEvery == 0) pipeline.Replicate();
            if (checkpoint is not null && state.Hours >= nextCheckpoint)
            {
                checkpoint = pipeline.Checkpoint();
                checkpointIteration = state.Iteration;
                state.Checkpoints++;
                state.Hours += _o.CheckpointWriteTime.TotalHours;
                nextCheckpoint += _o.CheckpointInterval.TotalHours;
            }
            if (state.Iteration % _o.EvalEvery == 0) state.Curve.Add(new RecoveryCurvePoint(state.Hours, state.Iteration, pipeline.Evaluate(_validation)));
        }
        return new PipelineRecoveryResult(_o.Method, _o.FailureRatePerHour, state.Curve, state.Failures, state.Averaged, state.Copied,
            state.Rollbacks, state.LostIterations, state.Checkpoints, state.Iteration, state.Hours);
    }

    private void Fail(LocalPipeline pipeline, int stage, RunState state, byte[][]? checkpoint, ref long checkpointIteration)
    {
        state.Failures++;
        switch (_o.Method)
        {
            case RecoveryMethod.CheckFree or RecoveryMethod.CheckFreePlus:
                if (stage > 0 && stage < pipeline.StageCount - 1) { pipeline.RebuildByAverage(stage); state.Averaged++; }
                else { pipeline.RebuildByCopy(stage); state.Copied++; }
                state.Hours += _o.RecoveryTime.TotalHours;
                break;
            case RecoveryMethod.Checkpoint:
                pipeline.Restore(checkpoint!);
                state.LostIterations += state.Iteration - checkpointIteration;
                state.Rollbacks++;
                state.Hours += (_o.RecoveryTime + _o.RestartTime).TotalHours;
                break;
            case RecoveryMethod.Redundant:
                break;   // the successor already computed this stage: failover keeps its exact state, no stall modelled
        }
    }

    private static (long[] Tokens, long[] Targets) Split(long[] buffer, int b, int t)
    {
        var tokens = new long[b * t];
        var targets = new long[b * t];
        for (int row = 0; row < b; row++)
        {
            Array.Copy(buffer, row * (t + 1), tokens, row * t, t);
            Array.Copy(buffer, row * (t + 1) + 1, targets, row * t, t);
        }
        return (tokens, targets);
    }

    private sealed class RunState
    {
        public List<RecoveryCurvePoint> Curve { get; } = [];
        public double Hours;
        public long Iteration;
        public int Failures, Averaged, Copied, Rollbacks, Checkpoints;
        public long LostIterations;
    }
}
