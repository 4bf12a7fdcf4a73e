"""A lean Llama decoder for sampling on the CPU: the checkpoint's own weights, one preallocated
KV cache, fused projections, and nothing else in the per-token path.

Written by hand because at batch 1 on two CPU cores our 13M-parameter model spends more time in
transformers' general forward (cache objects, mask builders, per-step rotary tables) than in
its arithmetic. tests/test_engine.py checks its logits against LlamaForCausalLM's.
Rows may have prompts of different lengths: they are left-padded, and each row's positions
start at its own first real token.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from transformers import LlamaForCausalLM


class LeanLlama(nn.Module):
    def __init__(self, model: LlamaForCausalLM, max_length: int = 128):
        super().__init__()
        config = model.config
        self.heads = config.num_attention_heads
        self.kv_heads = config.num_key_value_heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // self.heads
        self.eps = config.rms_norm_eps
        self.max_length = max_length
        self.embed = model.model.embed_tokens.weight.detach().float()
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.lm_head.weight = nn.Parameter(model.lm_head.weight.detach().float(), requires_grad=False)
        self.final_norm = model.model.norm.weight.detach().float()
        self.blocks = nn.ModuleList(_Block(layer) for layer in model.model.layers)
        rotary = model.model.rotary_emb
        positions = torch.arange(max_length, dtype=torch.float32)[:, None] * rotary.inv_freq.float()[None]
        angles = torch.cat((positions, positions), dim=-1)
        self.cos = angles.cos() * rotary.attention_scaling
        self.sin = angles.sin() * rotary.attention_scaling
        self.k_cache = self.v_cache = None

    def _norm(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        return F.rms_norm(x, weight.shape, weight, self.eps)  # one fused op, not five

    @torch.inference_mode()
    def prefill(self, input_ids: torch.Tensor, pad_lengths: torch.Tensor) -> torch.Tensor:
        """Run the (left-padded) prompts; returns the logits for each row's next token."""
        return self.all_logits(input_ids, pad_lengths)[:, -1]

    @torch.inference_mode()
    def all_logits(self, input_ids: torch.Tensor, pad_lengths: torch.Tensor) -> torch.Tensor:
        """Start afresh with these (left-padded) sequences; the logits after every position."""
        batch = input_ids.shape[0]
        shape = (len(self.blocks), batch, self.kv_heads, self.max_length, self.head_dim)
        self.k_cache, self.v_cache = torch.zeros(shape), torch.zeros(shape)
        self.pad_lengths = pad_lengths
        self.length = 0
        return self._forward(input_ids)

    @torch.inference_mode()
    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        """Append one token per row; returns the logits for the next one."""
        return self._forward(tokens[:, None])[:, -1]

    def _forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        start, count = self.length, input_ids.shape[1]
        end = start + count
        if end > self.max_length:
            raise ValueError(f"sequence longer than the decoder's {self.max_length} positions")
        slots = torch.arange(start, end)
        # per-row positions: a row's first real token is position 0
        positions = (slots[None, :] - self.pad_lengths[:, None]).clamp(min=0)
        cos, sin = self.cos[positions][:, None], self.sin[positions][:, None]
        keys = torch.arange(end)[None, None, :]
        query = slots[None, :, None]
        # causal, padding hidden; a padding position sees itself so that no row is all-masked (NaN)
        visible = (keys <= query) & ((keys >= self.pad_lengths[:, None, None]) | (keys == query))
        mask = visible[:, None]  # batch, 1, query, key
        x = F.embedding(input_ids, self.embed)
        for index, block in enumerate(self.blocks):
            x = block(x, cos, sin, mask, self.k_cache[index], self.v_cache[index], start, end, self)
        self.length = end
        return self.lm_head(self._norm(x, self.final_norm))


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * cos + rotated * sin


class _Block(nn.Module):
    def __init__(self, layer):
        super().__init__()
        attention, mlp = layer.self_attn, layer.mlp
        self.input_norm = layer.input_layernorm.weight.detach().float()
        self.post_norm = layer.post_attention_layernorm.weight.detach().float()
        self.qkv = _fused(attention.q_proj, attention.k_proj, attention.v_proj)
        self.out = _fused(attention.o_proj)
        self.gate_up = _fused(mlp.gate_proj, mlp.up_proj)
        self.down = _fused(mlp.down_proj)
        self.q_size = attention.q_proj.out_features
        self.kv_size = attention.k_proj.out_features
        self.gate_size = mlp.gate_proj.out_features

    def forward(self, x, cos, sin, mask, k_cache, v_cache, start, end, model):
        batch, count, _ = x.shape
        q, k, v = self.qkv(model._norm(x, self.input_norm)).split((self.q_size, self.kv_size, self.kv_size), -1)
        q = q.view(batch, count, model.heads, model.head_dim).transpose(1, 2)
        k = k.view(batch, count, model.kv_heads, model.head_dim).transpose(1, 2)
        v = v.view(batch, count, model.kv_heads, model.head_dim).transpose(1, 2)
        k_cache[:, :, start:end] = _rotate(k, cos, sin)
        v_cache[:, :, start:end] = v
        keys, values = k_cache[:, :, :end], v_cache[:, :, :end]
        if model.kv_heads != model.heads:
            repeat = model.heads // model.kv_heads
            keys, values = keys.repeat_interleave(repeat, 1), values.repeat_interleave(repeat, 1)
        attended = F.scaled_dot_product_attention(_rotate(q, cos, sin), keys, values, attn_mask=mask)
        x = x + self.out(attended.transpose(1, 2).reshape(batch, count, -1))
        gate, up = self.gate_up(model._norm(x, self.post_norm)).split((self.gate_size, self.gate_size), -1)
        return x + self.down(F.silu(gate) * up)


def _fused(*linears: nn.Linear) -> nn.Linear:
    """One Linear whose output is the concatenated outputs of `linears` (one matmul, not three)."""
    fused = nn.Linear(linears[0].in_features, sum(l.out_features for l in linears), bias=False)
    fused.weight = nn.Parameter(torch.cat([l.weight.detach().float() for l in linears]), requires_grad=False)
    return fused
