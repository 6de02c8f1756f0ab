using Decentralized.Node.Export;
using Decentralized.Node.Model;

namespace Decentralized.Node.Generation.Reference;

/// <summary>
/// The slow, obviously-correct twin of our model for checking exports: Hugging Face's <c>LlamaForCausalLM</c> forward
/// (transformers, src/transformers/models/llama/modeling_llama.py) written out in plain C# over the float32 values of
/// an exported directory, every sum in double, no TorchSharp. Per position t and layer:
/// <code>
/// a = RMSNorm(h) = h / sqrt(mean(h²) + eps) · input_layernorm
/// q, k, v = a·Wqᵀ, a·Wkᵀ, a·Wvᵀ;  q, k rotated in the rotate-half layout: q·cos + rotate_half(q)·sin,
///     rotate_half(x) = (-x[D/2:], x[:D/2]),  angle(p, i) = p / theta^(2i/D) for i &lt; D/2 (same for i + D/2)
/// y = Σ_{j≤t} softmax_j(q·k_j / sqrt(D)) v_j (per head);  h += y·Woᵀ
/// b = RMSNorm(h) · post_attention_layernorm;  h += (SiLU(b·Wgateᵀ) ⊙ b·Wupᵀ)·Wdownᵀ
/// logits = RMSNorm(h) · norm, then ·lm_headᵀ
/// </code>
/// It reads only what an HF user has (config.json, model.safetensors), so it checks the export as well as the model.
/// </summary>
public sealed class ReferenceLlama
{
    private readonly ModelConfig _config;
    private readonly float[] _embed, _norm, _head;
    private readonly Layer[] _layers;

    private sealed record Layer(float[] InputNorm, float[] Q, float[] K, float[] V, float[] O, float[] PostNorm, float[] Gate, float[] Up, float[] Down);

    private ReferenceLlama(ModelConfig config, Func<string, float[]> read)
    {
        _config = config;
        _embed = read("model.embed_tokens.weight");
        _norm = read("model.norm.weight");
        _head = read("lm_head.weight");
        _layers = Enumerable.Range(0, config.Layers).Select(i =>
        {
            string p = $"model.layers.{i}.";
            return new Layer(read(p + "input_layernorm.weight"), read(p + "self_attn.q_proj.weight"), read(p + "self_attn.k_proj.weight"),
                read(p + "self_attn.v_proj.weight"), read(p + "self_attn.o_proj.weight"), read(p + "post_attention_layernorm.weight"),
                read(p + "mlp.gate_proj.weight"), read(p + "mlp.up_proj.weight"), read(p + "mlp.down_proj.weight"));
        }).ToArray();
    }

    public ModelConfig Config => _config;

    /// <summary>Loads config.json and model.safetensors from an exported directory.</summary>
    public static ReferenceLlama Load(string directory)
    {
        var configPath = Path.Combine(directory, HfLlamaConfig.FileName);
        var (config, _, _) = HfLlamaConfig.Parse(File.ReadAllText(configPath), configPath);
        using var reader = SafetensorsReader.Open(Path.Combine(directory, HfLlamaDirectory.WeightsFileName));
        return new ReferenceLlama(config, reader.ReadFloats);
    }

    /// <summary>Logits (T, V) for the tokens at positions 0..T-1.</summary>
    public double[][] Logits(ReadOnlySpan<int> tokens)
    {
        int c = _config.Dim, T = tokens.Length;
        var h = new double[T][];
        for (int t = 0; t < T; t++)
        {
            h[t] = new double[c];
            for (int i = 0; i < c; i++) h[t][i] = _embed[(long)tokens[t] * c + i];
        }
        foreach (var layer in _layers)
        {
            var a = h.Select(x => RmsNorm(x, layer.InputNorm)).ToArray();
            var q = a.Select((x, position) => Rope(MatVec(layer.Q, x, c), position)).ToArray();
            var k = a.Select((x, position) => Rope(MatVec(layer.K, x, c), position)).ToArray();
            var v = a.Select(x => MatVec(layer.V, x, c)).ToArray();
            for (int t = 0; t < T; t++)
            {
                var o = MatVec(layer.O, Attend(q, k, v, t), c);
                for (int i = 0; i < c; i++) h[t][i] += o[i];
            }
            for (int t = 0; t < T; t++)
            {
                var b = RmsNorm(h[t], layer.PostNorm);
                int hidden = _config.EffectiveMlpHidden;
                var gate = MatVec(layer.Gate, b, hidden);
                var up = MatVec(layer.Up, b, hidden);
                var m = new double[hidden];
                for (int i = 0; i < hidden; i++) m[i] = gate[i] / (1 + Math.Exp(-gate[i])) * up[i];   // SiLU(g) · u
                var down = MatVec(layer.Down, m, c);
                for (int i = 0; i < c; i++) h[t][i] += down[i];
            }
        }
        return h.Select(x => MatVec(_head, RmsNorm(x, _norm), _config.VocabSize)).ToArray();
    }

    /// <summary>The windowed loss of <see cref="WindowedLoss"/>, computed here: windows of the context length, each predicting within itself.</summary>
    public LossTotal Loss(ReadOnlySpan<int> tokens)
    {
        double sum = 0;
        long predictions = 0;
        foreach (var (start, length) in WindowedLoss.Windows(tokens.Length, _config.ContextLength))
        {
            if (length < 2) continue;
            var logits = Logits(tokens.Slice(start, length - 1));
            for (int t = 0; t < length - 1; t++)
            {
                double max = logits[t].Max(), z = 0;
                foreach (var l in logits[t]) z += Math.Exp(l - max);
                sum += max + Math.Log(z) - logits[t][tokens[start + t + 1]];   // -log softmax(target)
                predictions++;
            }
        }
        return new LossTotal(sum, predictions);
    }

    private double[] RmsNorm(double[] x, float[] weight)
    {
        double ms = 0;
        foreach (var v in x) ms += v * v;
        double scale = 1 / Math.Sqrt(ms / x.Length + _config.NormEps);
        return x.Select((v, i) => v * scale * weight[i]).ToArray();
    }

    // y = W x for W of shape (rows, x.Length), row-major (nn.Linear's weight).
    private static double[] MatVec(float[] w, double[] x, int rows)
    {
        int cols = x.Length;
        var y = new double[rows];
        for (int r = 0; r < rows; r++)
        {
            double s = 0;
            for (int i = 0; i < cols; i++) s += w[(long)r * cols + i] * x[i];
            y[r] = s;
        }
        return y;
    }

    private double[] Rope(double[] x, int position)
    {
        int d = _config.HeadDim, half = d / 2;
        var y = new double[x.Length];
        for (int head = 0; head < _config.Heads; head++)
            for (int i = 0; i < half; i++)
            {
                double angle = position / Math.Pow(_config.RopeTheta, 2.0 * i / d);
                double x1 = x[head * d + i], x2 = x[head * d + i + half];
                y[head * d + i] = x1 * Math.Cos(angle) - x2 * Math.Sin(angle);
                y[head * d + i + half] = x2 * Math.Cos(angle) + x1 * Math.Sin(angle);
            }
        return y;
    }

    // Causal attention of position t over 0..t, per head, scaled by 1/sqrt(D).
    private double[] Attend(double[][] q, double[][] k, double[][] v, int t)
    {
        int d = _config.HeadDim;
        var y = new double[_config.Dim];
        for (int head = 0; head < _config.Heads; head++)
        {
            int o = head * d;
            var scores = new double[t + 1];
            for (int j = 0; j <= t; j++)
            {
                double s = 0;
                for (int i = 0; i < d; i++) s += q[t][o + i] * k[j][o + i];
                scores[j] = s / Math.Sqrt(d);
            }
            double max = scores.Max(), z = 0;
            for (int j = 0; j <= t; j++) z += scores[j] = Math.Exp(scores[j] - max);
            for (int j = 0; j <= t; j++)
                for (int i = 0; i < d; i++) y[o + i] += scores[j] / z * v[j][o + i];
        }
        return y;
    }
}
