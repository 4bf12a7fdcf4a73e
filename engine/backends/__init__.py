"""How tokens are produced, chosen by a setting and by what the host has.

    cpu-fp32    the lean decoder (engine.backends.lean) in float32
    cpu-int8    the same with int8 weights (fbgemm's dynamic int8 matmul)
    cuda-bf16   transformers' forward on a GPU in bfloat16
    cuda-nf4    bitsandbytes 4-bit NF4 weights (BitsAndBytesConfig), bf16 compute
    cuda-int8   bitsandbytes LLM.int8 weights

`auto` picks the default of the host; bench/engine.py measured which is fastest (bench/RESULTS.md).
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModelForCausalLM
from transformers.utils import logging as transformers_logging

from engine.backends.lean import LeanLlama
from engine.extras import MissingExtra, require_extra

# transformers draws a bar for loading the weights' 56 tensors from a local 26 MB file: it filled the first
# line of every `lianju poem` with noise and took no measurable time
transformers_logging.disable_progress_bar()

BACKENDS = ("auto", "cpu-fp32", "cpu-int8", "cuda-bf16", "cuda-nf4", "cuda-int8")


class BackendUnavailable(RuntimeError):
    pass


def default_backend() -> str:
    # bench/RESULTS.md: on the CPU int8 is faster than fp32 at the same held-out NLL (+0.1%); on an H200 bf16 is
    # faster than bitsandbytes' NF4 and LLM.int8 at every load, at the same NLL (session 16)
    return "cuda-bf16" if torch.cuda.is_available() else "cpu-int8"


class LeanBackend:
    def __init__(self, model, name: str, int8: bool):
        self.name = name
        self.decoder = LeanLlama(model, int8=int8)

    def prefill(self, input_ids: torch.Tensor, pad_lengths: torch.Tensor) -> torch.Tensor:
        return self.decoder.prefill(input_ids, pad_lengths)

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.decoder.step(tokens)

    def keep(self, rows: torch.Tensor) -> None:
        self.decoder.keep(rows)

    def all_logits(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.decoder.all_logits(input_ids, torch.zeros(input_ids.shape[0], dtype=torch.long))

    def states_and_logits(self, input_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.decoder.states_and_logits(input_ids)


class TransformersBackend:
    """transformers' own forward with its KV cache: the GPU path, quantized or not."""

    def __init__(self, model, name: str):
        self.name = name
        self.model = model.eval()
        self.device = next(model.parameters()).device

    @torch.inference_mode()
    def prefill(self, input_ids: torch.Tensor, pad_lengths: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(input_ids.shape[1])[None, :] - pad_lengths[:, None]
        self.attention_mask = (positions >= 0).long().to(self.device)
        self.next_position = positions[:, -1:].to(self.device) + 1
        out = self.model(
            input_ids=input_ids.to(self.device),
            attention_mask=self.attention_mask,
            position_ids=positions.clamp(min=0).to(self.device),
            use_cache=True,
        )
        self.cache = out.past_key_values
        return out.logits[:, -1].float().cpu()

    @torch.inference_mode()
    def all_logits(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids.to(self.device)).logits.float().cpu()

    @torch.inference_mode()
    def states_and_logits(self, input_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        states = self.model.model(input_ids=input_ids.to(self.device)).last_hidden_state  # (B, T, C)
        return states.float().cpu(), self.model.lm_head(states).float().cpu()  # (B, T, C), (B, T, V)

    @torch.inference_mode()
    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        count = tokens.shape[1]
        ones = torch.ones_like(self.attention_mask[:, :1]).expand(-1, count)
        self.attention_mask = torch.cat([self.attention_mask, ones], dim=1)
        positions = self.next_position + torch.arange(count, device=self.device)[None]
        out = self.model(
            input_ids=tokens.to(self.device),
            attention_mask=self.attention_mask,
            position_ids=positions,
            past_key_values=self.cache,
            use_cache=True,
        )
        self.cache = out.past_key_values
        self.next_position = self.next_position + count
        return out.logits[:, -1].float().cpu()

    def keep(self, rows: torch.Tensor) -> None:
        rows = rows.to(self.device)
        self.cache.reorder_cache(rows)  # index_select on every layer's keys and values: any subset, in any order
        self.attention_mask, self.next_position = self.attention_mask[rows], self.next_position[rows]


def load_backend(model_dir: Path | str, kind: str = "auto") -> LeanBackend | TransformersBackend:
    if kind not in BACKENDS:
        raise BackendUnavailable(f"unknown backend {kind!r}; use one of: {', '.join(BACKENDS)}")
    kind = default_backend() if kind == "auto" else kind
    if kind.startswith("cpu"):
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
        return LeanBackend(model, kind, int8=kind == "cpu-int8")
    if not torch.cuda.is_available():
        raise BackendUnavailable(f"backend {kind} needs a CUDA GPU and this host has none; use cpu-fp32 or cpu-int8")
    if kind == "cuda-bf16":
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.bfloat16).cuda()  # type: ignore[call-arg]  # transformers types cuda() through functools.wraps, unbound
        return TransformersBackend(model, kind)
    try:
        # Fail here, with the extra to install, not deep inside loading.
        for module in ("bitsandbytes", "accelerate"):
            require_extra(module, "cuda", f"backend {kind}")
    except MissingExtra as error:
        raise BackendUnavailable(str(error)) from error
    from transformers import BitsAndBytesConfig

    if kind == "cuda-nf4":
        quantization = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16
        )
    else:
        quantization = BitsAndBytesConfig(load_in_8bit=True)
    model = AutoModelForCausalLM.from_pretrained(model_dir, quantization_config=quantization, device_map="cuda")
    return TransformersBackend(model, kind)
