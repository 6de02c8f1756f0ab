using Decentralized.Node.Model;

namespace Decentralized.Node.Export;

/// <summary>
/// Our parameter names against Hugging Face Llama's, in the order HF's <c>LlamaForCausalLM</c> declares them.
/// Shapes are the same on both sides (Linear weights are (out, in) in both), and our rotary embedding already uses
/// HF's rotate-half layout (channel i pairs with i + D/2), so q/k rows need no permutation.
/// </summary>
internal static class HfLlamaNames
{
    /// <summary>(HF name, our name, shape) for every tensor of the full model.</summary>
    public static IReadOnlyList<(string Hf, string Ours, long[] Shape)> For(ModelConfig config)
    {
        long c = config.Dim, v = config.VocabSize, h = config.EffectiveMlpHidden;
        var list = new List<(string, string, long[])> { ("model.embed_tokens.weight", "embed.weight", [v, c]) };
        for (int i = 0; i < config.Layers; i++)
        {
            string hf = $"model.layers.{i}.", ours = $"blocks.{i}.";
            list.Add((hf + "input_layernorm.weight", ours + "attn_norm.weight", [c]));
            list.Add((hf + "self_attn.q_proj.weight", ours + "attn.wq.weight", [c, c]));
            list.Add((hf + "self_attn.k_proj.weight", ours + "attn.wk.weight", [c, c]));
            list.Add((hf + "self_attn.v_proj.weight", ours + "attn.wv.weight", [c, c]));
            list.Add((hf + "self_attn.o_proj.weight", ours + "attn.wo.weight", [c, c]));
            list.Add((hf + "post_attention_layernorm.weight", ours + "mlp_norm.weight", [c]));
            list.Add((hf + "mlp.gate_proj.weight", ours + "mlp.w1.weight", [h, c]));
            list.Add((hf + "mlp.up_proj.weight", ours + "mlp.w3.weight", [h, c]));
            list.Add((hf + "mlp.down_proj.weight", ours + "mlp.w2.weight", [c, h]));
        }
        list.Add(("model.norm.weight", "final_norm.weight", [c]));
        list.Add(("lm_head.weight", "head.weight", [v, c]));
        return list;
    }
}
