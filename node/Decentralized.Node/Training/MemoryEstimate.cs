using Decentralized.Node.Model;

namespace Decentralized.Node.Training;

/// <summary>
/// A rough memory bill printed at start, so a 1B preset on a small machine fails in the log line, not in the OOM killer.
/// Per replica: float32 weights and gradients (8 B/parameter), the inner optimizer's state (AdamW's two moments, 8 B; with
/// Muon one momentum, 4 B, on the blocks' matrices and AdamW's 8 B on the rest), plus the outer optimizer's φ and
/// momentum (8 B/parameter) for DiLoCo and NoLoCo; activations of one micro-batch kept for backward, counted as about
/// 16·C + 3·hidden values per token and layer, the logits twice, and one T×T score matrix per head and layer.
/// </summary>
public static class MemoryEstimate
{
    /// <summary>Bytes one replica needs to train <paramref name="model"/> with <paramref name="inner"/>.</summary>
    public static long TrainingBytes(ModelConfig model, InnerOptions inner, bool outerState)
    {
        long parameters = model.ParameterCount;
        long matrices = inner.Optimizer.Variant() is null ? 0 : model.HiddenMatrixParameterCount;   // as InnerTrainer gives Muon
        long state = parameters * (outerState ? 16 : 8) + 8 * (parameters - matrices) + 4 * matrices;
        long tokens = (long)inner.MicroBatchSize * inner.SequenceLength;
        long perToken = model.Layers * (16L * model.Dim + 3L * model.EffectiveMlpHidden) + 2L * model.VocabSize;
        long scores = (long)inner.MicroBatchSize * model.Heads * inner.SequenceLength * inner.SequenceLength * model.Layers;
        return state + 4 * (tokens * perToken + scores);
    }

    /// <summary>"N parameters (W weights), about M to train per replica (R total)".</summary>
    public static string Describe(ModelConfig model, InnerOptions inner, int replicas, bool outerState)
    {
        long each = TrainingBytes(model, inner, outerState);
        var total = replicas > 1 ? $", {Gib(each * replicas)} for {replicas} replicas" : "";
        return $"{model.ParameterCount:N0} parameters ({Gib(4 * model.ParameterCount)} of float32 weights), " +
            $"about {Gib(each)} to train per replica{total} (weights, gradients, {OptimizerName(inner.Optimizer)}{(outerState ? ", outer state" : "")}, activations)";
    }

    private static string OptimizerName(InnerOptimizer optimizer) => optimizer.Variant() is null ? "AdamW" : "Muon and AdamW";

    private static string Gib(long bytes) => bytes >= 1L << 30 ? $"{bytes / (double)(1L << 30):F1} GiB" : $"{bytes / (double)(1 << 20):F0} MiB";
}
