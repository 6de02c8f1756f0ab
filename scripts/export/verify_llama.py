#!/usr/bin/env python3
"""Independent check of an export, outside .NET: HF Llama's forward (transformers' modeling_llama.py, written out in
numpy, float64) over config.json + model.safetensors, and the windowed loss `decentralized eval` reports.

    /usr/bin/python3 scripts/export/verify_llama.py EXPORT_DIR TEXT_FILE     # needs numpy (Debian: python3-numpy)

Byte-vocabulary exports only (token ids are the file's UTF-8 bytes). Prints {"loss": ..., "tokens": ...}.
Not used by the tests; the required reference is node/Decentralized.Node/Generation/Reference/ReferenceLlama.cs.
"""
import json
import struct
import sys

import numpy as np


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        assert entry["dtype"] == "F32", entry
        begin, end = entry["data_offsets"]
        tensors[name] = np.frombuffer(data[base + begin:base + end], dtype="<f4").reshape(entry["shape"]).astype(np.float64)
    return tensors


def rms_norm(x, w, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w


def rotate_half(x):
    half = x.shape[-1] // 2
    return np.concatenate([-x[..., half:], x[..., :half]], axis=-1)


def logits(cfg, w, ids):
    t, c, heads = len(ids), cfg["hidden_size"], cfg["num_attention_heads"]
    d = c // heads
    inv_freq = 1.0 / cfg.get("rope_theta", 10000.0) ** (np.arange(0, d, 2) / d)
    angles = np.outer(np.arange(t), inv_freq)
    emb = np.concatenate([angles, angles], axis=-1)           # (T, D)
    cos, sin = np.cos(emb), np.sin(emb)
    eps = cfg["rms_norm_eps"]
    h = w["model.embed_tokens.weight"][ids]                     # (T, C)
    mask = np.triu(np.full((t, t), -np.inf), 1)
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        a = rms_norm(h, w[p + "input_layernorm.weight"], eps)
        q, k, v = (
            (a @ w[p + f"self_attn.{n}_proj.weight"].T).reshape(t, heads, d).transpose(1, 0, 2) for n in "qkv")
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        s = q @ k.transpose(0, 2, 1) / np.sqrt(d) + mask      # (H, T, T)
        s = np.exp(s - s.max(-1, keepdims=True))
        y = (s / s.sum(-1, keepdims=True)) @ v                # (H, T, D)
        h = h + y.transpose(1, 0, 2).reshape(t, c) @ w[p + "self_attn.o_proj.weight"].T
        b = rms_norm(h, w[p + "post_attention_layernorm.weight"], eps)
        g, u = b @ w[p + "mlp.gate_proj.weight"].T, b @ w[p + "mlp.up_proj.weight"].T
        h = h + (g / (1 + np.exp(-g)) * u) @ w[p + "mlp.down_proj.weight"].T
    return rms_norm(h, w["model.norm.weight"], eps) @ w["lm_head.weight"].T


def main(directory, text_file):
    cfg = json.load(open(f"{directory}/config.json"))
    w = read_safetensors(f"{directory}/model.safetensors")
    ids = np.frombuffer(open(text_file, "rb").read(), dtype=np.uint8).astype(np.int64)
    ctx, total, count = cfg["max_position_embeddings"], 0.0, 0
    for start in range(0, len(ids), ctx):
        window = ids[start:start + ctx]
        if len(window) < 2:
            continue
        z = logits(cfg, w, window[:-1])
        m = z.max(-1, keepdims=True)
        logp = z - m - np.log(np.exp(z - m).sum(-1, keepdims=True))
        total -= logp[np.arange(len(window) - 1), window[1:]].sum()
        count += len(window) - 1
    print(json.dumps({"loss": total / count, "tokens": count}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
