using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Decentralized.Node.Model;

/// <summary>
/// One contiguous pipeline stage of the decoder. Stage 0 holds the token embedding, the last stage the
/// final norm and the output head; the blocks are dealt out contiguously. With one stage this is the
/// whole model: tokens (B, T) in, logits (B, T, V) out. Other stages map hidden states (B, T, C).
/// </summary>
public sealed class ModelStage : nn.Module<Tensor, Tensor>
{
    private readonly Embedding? embed;
    private readonly ModuleList<DecoderBlock> blocks;
    private readonly RmsNorm? final_norm;
    private readonly Linear? head;

    public ModelConfig Config { get; }
    public int StageIndex { get; }
    public int StageCount { get; }
    public bool IsFirst => StageIndex == 0;
    public bool IsLast => StageIndex == StageCount - 1;

    /// <summary>
    /// Builds stage <paramref name="stageIndex"/> of <paramref name="stageCount"/>, initialised from <paramref name="seed"/>
    /// as <paramref name="init"/> says (default <see cref="WeightInit.Gpt2"/>).
    /// </summary>
    public ModelStage(ModelConfig config, int stageIndex = 0, int stageCount = 1, long seed = 0, WeightInit? init = null) : base(nameof(ModelStage))
    {
        config.Validate();
        if (stageCount < 1 || stageCount > config.Layers)
            throw new ArgumentException($"stage count must be between 1 and the layer count ({config.Layers})");
        if (stageIndex < 0 || stageIndex >= stageCount)
            throw new ArgumentException($"stage index must be between 0 and {stageCount - 1}");
        Config = config;
        StageIndex = stageIndex;
        StageCount = stageCount;
        var (first, count) = LayerRange(config.Layers, stageIndex, stageCount);
        _firstLayer = first;
        if (IsFirst) embed = nn.Embedding(config.VocabSize, config.Dim);
        blocks = new ModuleList<DecoderBlock>();
        for (int layer = 0; layer < count; layer++) blocks.Add(new DecoderBlock(config));
        if (IsLast)
        {
            final_norm = new RmsNorm(config.Dim, config.NormEps);
            head = nn.Linear(config.Dim, config.VocabSize, hasBias: false);
        }
        RegisterComponents();
        InitialiseWeights(seed, init ?? WeightInit.Gpt2);
    }

    private readonly int _firstLayer;

    /// <summary>First layer and layer count of a stage: contiguous, earlier stages take the remainder.</summary>
    public static (int First, int Count) LayerRange(int layers, int stageIndex, int stageCount)
    {
        int baseCount = layers / stageCount, extra = layers % stageCount;
        int first = stageIndex * baseCount + Math.Min(stageIndex, extra);
        return (first, baseCount + (stageIndex < extra ? 1 : 0));
    }

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = embed is not null ? embed.forward(input) : input;    // (B, T, C)
        foreach (var block in blocks) x = block.forward(x);
        if (head is not null) x = head.forward(final_norm!.forward(x)); // (B, T, V)
        return x.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The whole model over new tokens (B, T) that follow the positions already in <paramref name="cache"/>: logits
    /// (B, T, V) equal to those of a full forward over the whole sequence. The cache grows by T positions.
    /// </summary>
    public Tensor Forward(Tensor tokens, KvCache cache)
    {
        if (!IsFirst || !IsLast) throw new InvalidOperationException("a KV-cached forward needs the whole model in one stage");
        using var scope = NewDisposeScope();
        var x = embed!.forward(tokens);                                 // (B, T, C)
        for (int i = 0; i < blocks.Count; i++) x = blocks[i].Run(x, cache, i);
        cache.Advance((int)tokens.shape[1]);
        return head!.forward(final_norm!.forward(x)).MoveToOuterDisposeScope();   // (B, T, V)
    }

    /// <summary>Token embedding of the first stage: tokens (B, T) to hidden states (B, T, C).</summary>
    public Tensor Embed(Tensor tokens) =>
        (embed ?? throw new InvalidOperationException("only the first stage holds the embedding")).forward(tokens);

    /// <summary>This stage's decoder blocks alone: (B, T, C) to (B, T, C). Pipelines that reorder stages use it.</summary>
    public Tensor RunBlocks(Tensor x)
    {
        using var scope = NewDisposeScope();
        foreach (var block in blocks) x = block.forward(x);
        return x.MoveToOuterDisposeScope();
    }

    /// <summary>Final norm and output head of the last stage: (B, T, C) to logits (B, T, V).</summary>
    public Tensor RunHead(Tensor x) =>
        (head ?? throw new InvalidOperationException("only the last stage holds the head")).forward(final_norm!.forward(x));

    /// <summary>Parameters of the embedding (empty unless first stage).</summary>
    public IEnumerable<Parameter> EmbeddingParameters() => embed?.parameters() ?? [];

    /// <summary>Parameters of the decoder blocks, in layer order.</summary>
    public IEnumerable<Parameter> BlockParameters() => blocks.parameters();

    /// <summary>The blocks' attention and MLP matrices, the parameters Muon takes (the blocks' norm gains are vectors).</summary>
    public IEnumerable<Parameter> HiddenMatrices() => BlockParameters().Where(p => p.dim() == 2);

    /// <summary>Parameters of the final norm and the head (empty unless last stage).</summary>
    public IEnumerable<Parameter> HeadParameters() =>
        head is null ? [] : final_norm!.parameters().Concat(head.parameters());

    /// <summary>
    /// Draws the weights as <paramref name="init"/> says (<see cref="WeightInit"/>). Each part draws from its own
    /// generator keyed by its global layer, so a stage built alone equals the same layers inside a full model
    /// (pipeline stages and the whole model start from identical weights).
    /// </summary>
    private void InitialiseWeights(long seed, WeightInit init)
    {
        using var noGrad = no_grad();
        if (embed is not null) Initialise(embed, seed, part: -1, init);
        for (int i = 0; i < blocks.Count; i++) Initialise(blocks[i], seed, part: _firstLayer + i, init);
        if (head is not null) Initialise(head, seed, part: -2, init);
    }

    private void Initialise(nn.Module module, long seed, int part, WeightInit init)
    {
        using var generator = new Generator((ulong)(seed * 1_000_003 + part + 1_000));
        double residualStd = init.Std / Math.Sqrt(2.0 * Config.Layers);
        foreach (var (name, p) in module.named_parameters())
        {
            if (name.EndsWith("norm.weight")) continue;
            if (init.TorchDefaults)
            {
                // torch.nn.Embedding: N(0, 1); torch.nn.Linear: kaiming_uniform_(a=√5), i.e. U(±1/√fan_in), weight (out, in).
                if (module == embed) p.normal_(0, 1, generator);
                else p.uniform_(-1 / Math.Sqrt(p.shape[1]), 1 / Math.Sqrt(p.shape[1]), generator);
                continue;
            }

            bool residual = name.EndsWith("wo.weight") || name.EndsWith("w2.weight");
            p.normal_(0, residual ? residualStd : init.Std, generator);
        }
    }
}
