"""A lean Llama decoder for sampling on the CPU: the checkpoint's own weights, one preallocated
KV cache, fused projections, and as few tensor operations per token as the arithmetic allows.

Written by hand because at batch 1 on two CPU cores our 13M-parameter model spends more time
dispatching small operations than doing arithmetic: transformers' general forward (cache
objects, mask builders, per-step rotary tables) costs ~5 ms a token where the weights take
~0.4 ms to read. What this file does about it, each a rewrite of the same mathematics:

- RMSNorm's weight (and √width) is folded into the projection that reads the normalised
  vector, so a norm is x / hypot(‖x‖, √(width·eps)): three operations, not six;
- the rows of q and k are reordered so that the dimensions Llama rotates together sit side by
  side, and RoPE becomes one complex multiplication (q·k is unchanged by a reordering applied
  to both);
- q, k, v are one matmul, gate and up one; no attention mask when no row is padded;
- int8 weights go straight to fbgemm's dynamic int8 matmul (per-channel weight scales;
  activations quantised per call), without torch.ao's module wrappers; the MLP's down
  projection stays float32 (its input has outlier channels).

tests/test_engine.py checks its logits against LlamaForCausalLM's. Rows may have prompts of
different lengths: they are left-padded, and each row's positions start at its own first real
token.

Shapes in the comments: B rows, T tokens fed in this call, S positions so far (T plus the cached
ones), P max_length, C width, H query heads, G key/value heads, D head width, M the MLP's width,
V vocabulary, L layers.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import torch
import torch.nn.functional as F
from transformers import LlamaForCausalLM

Projection = Callable[[torch.Tensor], torch.Tensor]


def projection(weight: torch.Tensor, int8: bool) -> Projection:
    """x @ weight.T, in float32 or with int8 weights."""
    weight = weight.detach().float().contiguous()  # (out, in)
    if not int8:
        # x @ (in, out), not F.linear's x @ (out, in).T: for 16 rows of a decoding step MKL took 0.26 ms for
        # down's 1024 → 384 that way and 0.07 ms this way (bench/int8_matmul.py)
        transposed = weight.t().contiguous()  # (in, out)
        return lambda x: x @ transposed  # (..., in) → (..., out)
    scales = (weight.abs().amax(dim=1) / 127).clamp(min=1e-12).double()  # (out,)
    with warnings.catch_warnings():
        # quantized tensors are deprecated in favour of torchao, whose int8 weight-only kernel
        # (torch._weight_int8pack_mm) is no faster at our shapes and wants bfloat16 activations
        # (bench/int8_matmul.py); torch 2.13 still ships fbgemm's
        warnings.simplefilter("ignore")
        quantized = torch.quantize_per_channel(  # (out, in) int8, a scale per row
            weight, scales, torch.zeros_like(scales, dtype=torch.long), 0, torch.qint8
        )
    packed = torch.ops.quantized.linear_prepack(quantized, None)  # (out, in) in fbgemm's layout
    # reduce_range: fbgemm's int8 kernels accumulate pairs in 16 bits, 7-bit activations cannot overflow
    return lambda x: torch.ops.quantized.linear_dynamic(x, packed, reduce_range=True)  # (..., in) → (..., out)


def _unit(x: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """RMSNorm without its weight, up to the factor √width folded into the next projection:
    x / √(mean(x²) + eps) · 1/√width = x / √(‖x‖² + width·eps), and hypot(‖x‖, √(width·eps)) is that root."""
    return x / torch.hypot(torch.linalg.vector_norm(x, dim=-1, keepdim=True), eps)  # (..., C) / (..., 1) → (..., C)


def _adjacent_pairs(weight: torch.Tensor, heads: int, head_dim: int) -> torch.Tensor:
    """Reorder each head's rows from (0 … d/2-1, d/2 … d-1) to (0, d/2, 1, d/2+1, …)."""
    order = torch.arange(head_dim).view(2, head_dim // 2).t().flatten()  # (D,)
    return weight.view(heads, head_dim, -1)[:, order].reshape(heads * head_dim, -1)  # (heads·D, in)


def _rotate(x: torch.Tensor, rotation: torch.Tensor) -> torch.Tensor:
    """RoPE on (batch, count, heads, head_dim) with adjacent pairs; rotation is (batch, count, 1, head_dim/2)."""
    pairs = torch.view_as_complex(x.unflatten(-1, (-1, 2)))  # (B, T, heads, D/2) complex
    return torch.view_as_real(pairs * rotation).flatten(-2)  # (B, T, heads, D)


class LeanLlama:
    def __init__(self, model: LlamaForCausalLM, int8: bool = False, max_length: int = 128):
        config = model.config
        self.heads = config.num_attention_heads
        self.kv_heads: int = config.num_key_value_heads or self.heads  # LlamaConfig's own default when unset
        self.head_dim: int = getattr(config, "head_dim", None) or config.hidden_size // self.heads
        self.max_length = max_length
        norm_scale = math.sqrt(config.hidden_size)
        self.norm_eps = torch.tensor(math.sqrt(config.hidden_size * config.rms_norm_eps))  # ()
        self.embed = model.model.embed_tokens.weight.detach().float()  # (V, C)
        # (..., C) → (..., V), with the final norm's weight folded in
        self.lm_head = projection(model.lm_head.weight * (model.model.norm.weight * norm_scale), int8)
        self.final_norm = model.model.norm.weight.detach().float() * norm_scale  # (C,)
        self.blocks = [_Block(layer, self, norm_scale, int8) for layer in model.model.layers]
        rotary = model.model.rotary_emb
        angles = torch.arange(max_length, dtype=torch.float32)[:, None] * rotary.inv_freq.float()[None]  # (P, D/2)
        self.rotation = torch.polar(torch.full_like(angles, rotary.attention_scaling), angles)  # (P, D/2) complex
        self.k_cache = self.v_cache = torch.empty(0)  # sized for each batch by _reset

    @torch.inference_mode()
    def prefill(self, input_ids: torch.Tensor, pad_lengths: torch.Tensor) -> torch.Tensor:
        """Start afresh with these (left-padded) prompts; returns the logits for each row's next token.
        A request's candidates share one prompt (a rewrite's, the lines it keeps as well): each distinct
        prompt is run once and its cache copied to its rows."""
        prompts, prompt_of_row = torch.unique(input_ids, dim=0, return_inverse=True)  # (U, T), (B,)
        # a row of each prompt, for its padding (rows of one prompt are padded alike)
        row_of_prompt = torch.empty(len(prompts), dtype=torch.long).scatter_(
            0, prompt_of_row, torch.arange(len(input_ids))
        )  # (U,)
        self._reset(len(prompts), pad_lengths[row_of_prompt])
        last = _unit(self._forward(prompts)[:, -1], self.norm_eps)  # (U, C)
        self._copy_rows(prompt_of_row, pad_lengths)
        return self.lm_head(last)[prompt_of_row]  # (B, V)

    @torch.inference_mode()
    def all_logits(self, input_ids: torch.Tensor, pad_lengths: torch.Tensor) -> torch.Tensor:
        """Start afresh with these (left-padded) sequences; the logits after every position."""
        self._reset(input_ids.shape[0], pad_lengths)
        return self.lm_head(_unit(self._forward(input_ids), self.norm_eps))  # (B, T, V)

    @torch.inference_mode()
    def states_and_logits(self, input_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The last layer's normed states, as LlamaModel's last_hidden_state, and the logits after every
        position of these sequences (of one length, unpadded). Their shared opening (a rewrite's candidates
        keep the lines before the one rewritten: three quarters of a 七律) is run once."""
        batch, length = input_ids.shape
        differs = (input_ids != input_ids[:1]).any(0).nonzero()  # (positions where some row differs, 1)
        # at least the last position is run for every row
        shared = min(int(differs[0]) if len(differs) else length, length - 1)
        unpadded = torch.zeros(batch, dtype=torch.long)  # (B,)
        if not shared:
            self._reset(batch, unpadded)
            unit = _unit(self._forward(input_ids), self.norm_eps)  # (B, T, C); lm_head holds the final norm's weight
            return unit * self.final_norm, self.lm_head(unit)  # (B, T, C), (B, T, V)
        self._reset(1, unpadded[:1])
        opening = _unit(self._forward(input_ids[:1, :shared]), self.norm_eps)  # (1, shared, C)
        self._copy_rows(torch.zeros(batch, dtype=torch.long), unpadded)  # every row a copy of row 0
        rest = _unit(self._forward(input_ids[:, shared:]), self.norm_eps)  # (B, T - shared, C)
        unit = torch.cat([opening.expand(batch, -1, -1), rest], 1)  # (B, T, C)
        logits = torch.cat([self.lm_head(opening).expand(batch, -1, -1), self.lm_head(rest)], 1)  # (B, T, V)
        return unit * self.final_norm, logits  # (B, T, C), (B, T, V)

    @torch.inference_mode()
    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        """Append tokens (batch, count) to every row; returns the logits after the last of them."""
        return self.lm_head(_unit(self._forward(tokens)[:, -1], self.norm_eps))  # (B, V)

    def keep(self, rows: torch.Tensor) -> None:
        """Continue with only these rows of the batch (the others have finished), in this order."""
        self._copy_rows(rows, self.pad_lengths[rows])

    def _reset(self, batch: int, pad_lengths: torch.Tensor) -> None:
        shape = (len(self.blocks), batch, self.kv_heads, self.max_length, self.head_dim)  # (L, B, G, P, D)
        # every position a step reads (0 … end - 1) was written first: nothing to clear
        self.k_cache, self.v_cache = torch.empty(shape), torch.empty(shape)
        self.pad_lengths = pad_lengths  # (B,)
        self.padded = bool(pad_lengths.any())
        self.length = 0

    def _copy_rows(self, source_rows: torch.Tensor, pad_lengths: torch.Tensor) -> None:
        """A new batch whose row i is a copy of the cached row source_rows[i], with these paddings."""
        length = self.length
        k = self.k_cache[:, source_rows, :, :length]  # (L, B, G, S, D)
        v = self.v_cache[:, source_rows, :, :length]  # (L, B, G, S, D)
        self._reset(len(source_rows), pad_lengths)
        self.k_cache[:, :, :, :length], self.v_cache[:, :, :, :length] = k, v
        self.length = length

    def _forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        start, count = self.length, input_ids.shape[1]
        end = start + count
        if end > self.max_length:
            raise ValueError(f"sequence longer than the decoder's {self.max_length} positions")
        slots = torch.arange(start, end)  # (T,)
        # per-row positions: a row's first real token is position 0
        positions = (slots[None, :] - self.pad_lengths[:, None]).clamp(min=0)  # (B, T)
        rotation = self.rotation[positions][:, :, None]  # (B, T, 1, D/2)
        mask = None
        if self.padded or count > 1:
            keys = torch.arange(end)[None, None, :]  # (1, 1, S)
            query = slots[None, :, None]  # (1, T, 1)
            # causal, padding hidden; a padding position sees itself so that no row is all-masked (NaN)
            visible = (keys <= query) & ((keys >= self.pad_lengths[:, None, None]) | (keys == query))  # (B, T, S)
            mask = visible[:, None]  # (B, 1, T, S): row, head, query, key
        x = F.embedding(input_ids, self.embed)  # (B, T, C)
        for index, block in enumerate(self.blocks):
            x = block(x, rotation, mask, self.k_cache[index], self.v_cache[index], start, end)  # (B, T, C)
        self.length = end
        return x


class _Block:
    def __init__(self, layer, model: LeanLlama, norm_scale: float, int8: bool):
        attention, mlp = layer.self_attn, layer.mlp
        self.heads, self.kv_heads, self.head_dim = model.heads, model.kv_heads, model.head_dim
        self.norm_eps = model.norm_eps
        qkv = torch.cat(  # ((H + 2G)·D, C)
            [
                _adjacent_pairs(attention.q_proj.weight, self.heads, self.head_dim),
                _adjacent_pairs(attention.k_proj.weight, self.kv_heads, self.head_dim),
                attention.v_proj.weight,
            ]
        )
        self.qkv = projection(qkv * (layer.input_layernorm.weight * norm_scale), int8)  # (B, T, C) → (B, T, (H + 2G)·D)
        self.out = projection(attention.o_proj.weight, int8)  # (B, T, H·D) → (B, T, C)
        gate_up = torch.cat([mlp.gate_proj.weight, mlp.up_proj.weight])  # (2M, C)
        # (B, T, C) → (B, T, 2M), with the second norm's weight folded in
        self.gate_up = projection(gate_up * (layer.post_attention_layernorm.weight * norm_scale), int8)
        # down stays float32: its input, silu(gate)·up, has outlier channels that per-tensor 7-bit activations
        # cannot hold. In int8 the session-18 model's held-out NLL rose from 3.69 to 3.82-3.85 (0.14 nats, more
        # than it gained over its predecessor); with down alone in float32, 3.68 (bench/RESULTS.md, session 18).
        self.down = projection(mlp.down_proj.weight, False)  # (B, T, M) → (B, T, C)
        self.sizes = (attention.q_proj.out_features, attention.k_proj.out_features, attention.v_proj.out_features)

    def __call__(self, x, rotation, mask, k_cache, v_cache, start, end):
        batch, count, _ = x.shape  # x: (B, T, C); the caches: (B, G, P, D)
        q, k, v = self.qkv(_unit(x, self.norm_eps)).split(self.sizes, -1)  # (B, T, H·D), (B, T, G·D), (B, T, G·D)
        q = _rotate(q.view(batch, count, self.heads, self.head_dim), rotation).transpose(1, 2)  # (B, H, T, D)
        # this call's keys and values, (B, G, T, D), into the caches at positions start … end - 1
        k_cache[:, :, start:end] = _rotate(k.view(batch, count, self.kv_heads, self.head_dim), rotation).transpose(1, 2)
        v_cache[:, :, start:end] = v.view(batch, count, self.kv_heads, self.head_dim).transpose(1, 2)
        attended = F.scaled_dot_product_attention(  # (B, H, T, D): queries over keys 0 … S - 1
            q, k_cache[:, :, :end], v_cache[:, :, :end], attn_mask=mask, enable_gqa=self.kv_heads != self.heads
        )
        x = x + self.out(attended.transpose(1, 2).reshape(batch, count, -1))  # (B, T, C)
        gate, up = self.gate_up(_unit(x, self.norm_eps)).chunk(2, -1)  # (B, T, M) each
        return x + self.down(F.silu(gate) * up)  # (B, T, C)
