using System.CommandLine;
using Decentralized.Node.Model;
using Decentralized.Node.Outer;
using Decentralized.Node.Rounds;
using Decentralized.Node.Training;

namespace Decentralized.Cli;

/// <summary>
/// Every option that changes how a model learns, declared once for <c>train</c>, <c>node run</c> and <c>swarm local</c>:
/// the same names, meanings and defaults, so a swarm trains as <c>train</c> measured. The inner schedule's length and
/// the batch shape come from the caller (<c>--steps</c> for train, <c>--rounds</c> for a node; <see cref="ShapeOptions"/>).
/// </summary>
public sealed record LearningOptions(Algorithm Algorithm, int InnerStepsPerRound, int SyncWarmupSteps, double LearningRate, int WarmupSteps,
    double MinLearningRateRatio, int BatchTokens, DiLoCoOptions DiLoCo, long Seed, RoundSettings Rounds, WeightInit Init, SparseLoCoOptions SparseLoCo)
{
    /// <summary>The inner optimizer of every replica (AdamW, or Muon on the hidden matrices).</summary>
    public InnerOptimizer InnerOptimizer { get; init; }

    /// <summary>Peak Muon rate; 0 takes the variant's default.</summary>
    public double MuonLearningRate { get; init; }

    /// <summary>Adds the learning options to <paramref name="c"/>; <paramref name="ddp"/> also offers the in-process DDP baseline.</summary>
    public static Func<ParseResult, LearningOptions> Declare(Command c, bool ddp)
    {
        var algorithm = c.Add("algorithm", ddp ? "ddp | diloco | noloco | sparseloco." : "noloco | diloco | sparseloco.", "noloco");
        var innerSteps = c.Add("inner-steps", "H: inner steps per outer round.", 50);
        var syncWarmup = c.Add("sync-warmup", "Synchronous steps before the first outer round: every step's gradients averaged through --compress (from scratch, a few hundred close most of the gap to DDP; every member of a swarm must use the same).", 0);
        var lr = c.Add("lr", "Peak inner AdamW learning rate.", 1.5e-3);
        var warmup = c.Add("warmup", "Inner learning-rate warm-up steps.", 100);
        var minLrRatio = c.Add("min-lr-ratio", "Where the cosine ends, as a fraction of --lr (0.1 as in NoLoCo; 0 decays to zero).", 0.1);
        var innerOptimizer = c.Add("inner-optimizer", "muon (Keller Jordan's reference Muon) | muloco (MuLoCo's, from Dion): Muon on the blocks' matrices, AdamW (--lr) on embeddings, head and norms | adamw: AdamW on everything.", "muon");
        var muonLr = c.Add("muon-lr", "Peak Muon learning rate, on --lr's schedule (0: the variant's default, 0.02 for muon, 0.01 for muloco).", 0.0);
        var batchTokens = c.Add("batch-tokens", "Tokens per inner step; micro-batches are accumulated to reach it (0: one micro-batch).", 0);
        var outerLr = c.Add("outer-lr", "DiLoCo outer learning rate.", 1.0);
        var outerMomentum = c.Add("outer-momentum", "DiLoCo outer momentum.", 0.5);
        var outerForm = c.Add("outer-form", "DiLoCo momentum form: nesterov | heavyball.", "nesterov");
        var sparseOf = SparseLoCoNames.Declare(c);
        // Train runs no network: it has the round options without the waiting and refusing ones.
        // An outer method's update goes through the 4-bit chain unless --compress says otherwise; DDP, the exact baseline, through fp32.
        // NoLoCo's β = γ = 1.0: measured better than the paper's 0.7 at K=4 (docs/RESULTS.md), and what every NoLoCo row there uses.
        var roundsOf = RoundSettings.Declare(c, network: !ddp,
            compressDefault: p => AlgorithmNames.Parse(p.GetValue(algorithm)!) == Algorithm.Ddp ? UpdateChain.Exact : UpdateChain.Default,
            nolocoBeta: 1.0);
        var seed = c.Add("seed", "Seed of the initial weights, the data shards and NoLoCo's pairing (every member of a swarm must use the same).", 1L);
        var init = c.Add("init", "Starting weights drawn from --seed: gpt2 (N(0, 0.02), residual projections shrunk by 1/sqrt(2L)) | torch (torch.nn defaults: Linear U(+-1/sqrt(fan_in)), embedding N(0, 1)) | scale=X (gpt2's shape with std X). Every member of a swarm must use the same.", "gpt2");
        return parse =>
        {
            var a = AlgorithmNames.Parse(parse.GetValue(algorithm)!);
            if (a == Algorithm.Ddp && !ddp) throw new ArgumentException("--algorithm ddp is train's in-process baseline; a swarm runs noloco, diloco or sparseloco");
            if (parse.GetValue(muonLr) is var m && !(m >= 0 && double.IsFinite(m))) throw new ArgumentException($"--muon-lr {m}: must be 0 (the variant's default) or positive");
            if (parse.GetValue(syncWarmup) < 0) throw new ArgumentException($"--sync-warmup {parse.GetValue(syncWarmup)}: must be 0 or more");
            return new LearningOptions(a, parse.GetValue(innerSteps), parse.GetValue(syncWarmup),
                parse.GetValue(lr), parse.GetValue(warmup), parse.GetValue(minLrRatio), parse.GetValue(batchTokens),
                new DiLoCoOptions(parse.GetValue(outerLr), parse.GetValue(outerMomentum), ParseForm(parse.GetValue(outerForm)!)),
                parse.GetValue(seed), roundsOf(parse), WeightInit.Parse(parse.GetValue(init)!), sparseOf(parse))
            { InnerOptimizer = InnerOptimizerNames.Parse(parse.GetValue(innerOptimizer)!), MuonLearningRate = parse.GetValue(muonLr) };
        };
    }

    /// <summary>The inner trainer's options for a schedule of <paramref name="totalSteps"/> steps in this shape.</summary>
    public InnerOptions Inner(ShapeOptions shape, int totalSteps) => new(LearningRate: LearningRate, WarmupSteps: WarmupSteps,
        TotalSteps: totalSteps, MinLearningRateRatio: MinLearningRateRatio, MicroBatchSize: shape.MicroBatchSize,
        SequenceLength: shape.SequenceLength, BatchTokens: BatchTokens, Optimizer: InnerOptimizer, MuonLearningRate: MuonLearningRate);

    internal static OuterMomentum ParseForm(string text) => text.ToLowerInvariant() switch
    {
        "nesterov" => OuterMomentum.Nesterov,
        "heavyball" or "heavy-ball" => OuterMomentum.HeavyBall,
        _ => throw new ArgumentException($"unknown outer momentum form '{text}': use nesterov or heavyball"),
    };
}
