"""The int8 matmuls torch offers on the CPU, at the shapes of the shipped model at batch 1.

    .venv/bin/python bench/int8_matmul.py

fbgemm's dynamic int8 matmul (`quantized::linear_dynamic`, what engine/backends/lean.py uses)
against float32 and bfloat16 `F.linear` and the int8 weight-only kernel torchao builds on
(`torch._weight_int8pack_mm`), with float32 and bfloat16 activations. Microseconds per call.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.backends.lean import projection  # noqa: E402

SHAPES = {"qkv": (1152, 384), "gate_up": (2048, 384), "down": (384, 1024), "lm_head": (6551, 384)}


def microseconds(call, calls: int = 3000) -> float:
    for _ in range(100):
        call()
    started = time.perf_counter()
    for _ in range(calls):
        call()
    return round((time.perf_counter() - started) / calls * 1e6, 1)


@torch.inference_mode()
def main() -> dict:
    warnings.simplefilter("ignore")
    table = {"threads": torch.get_num_threads()}
    for name, (rows, columns) in SHAPES.items():
        weight, x = torch.randn(rows, columns), torch.randn(1, 1, columns)
        table[name] = timings(weight, x)
    return table


def timings(weight: torch.Tensor, x: torch.Tensor) -> dict[str, float]:
    weight_bf16, x_bf16 = weight.bfloat16(), x.bfloat16()
    scales = weight.abs().amax(1) / 127
    int8_weight = (weight / scales[:, None]).round().to(torch.int8)
    dynamic = projection(weight, int8=True)
    return {
        "fp32 F.linear": microseconds(lambda: F.linear(x, weight)),
        "bf16 F.linear": microseconds(lambda: F.linear(x_bf16, weight_bf16)),
        "int8 weight-only, fp32 x": microseconds(lambda: torch._weight_int8pack_mm(x[0], int8_weight, scales)),
        "int8 weight-only, bf16 x": microseconds(
            lambda: torch._weight_int8pack_mm(x_bf16[0], int8_weight, scales.bfloat16())
        ),
        "fbgemm dynamic int8": microseconds(lambda: dynamic(x)),
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=1))
