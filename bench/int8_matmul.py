"""The matmuls torch offers on the CPU, at the shapes of the shipped model: one row (a lone poem's
step), 16 (a request's candidates at one step) and 1,120 (reading 16 poems of 70 tokens).

    .venv/bin/python bench/int8_matmul.py > bench/results/int8-matmul.json

fbgemm's dynamic int8 matmul (`quantized::linear_dynamic`, what engine/backends/lean.py uses)
against float32 `F.linear` and float32 `x @ W.T` with W.T stored contiguous (lean's float32
projections), bfloat16 `F.linear`, and the int8 weight-only kernel torchao builds on
(`torch._weight_int8pack_mm`) with bfloat16 activations (with float32 ones it took 10-80 times
fbgemm's time). Microseconds per call.
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

SHAPES = {"qkv": (1152, 384), "gate_up": (2048, 384), "down": (384, 1024), "lm_head": (6553, 384)}
ROWS = (1, 16, 1120)


def microseconds(call, calls: int) -> float:
    for _ in range(max(calls // 30, 3)):
        call()
    started = time.perf_counter()
    for _ in range(calls):
        call()
    return round((time.perf_counter() - started) / calls * 1e6, 1)


@torch.inference_mode()
def main() -> dict:
    warnings.simplefilter("ignore")
    table: dict = {"threads": torch.get_num_threads()}
    for rows in ROWS:
        table[f"{rows} rows"] = {
            name: timings(torch.randn(out, columns), torch.randn(rows, 1, columns))
            for name, (out, columns) in SHAPES.items()
        }
    return table


def timings(weight: torch.Tensor, x: torch.Tensor) -> dict[str, float]:
    weight_bf16, x_bf16 = weight.bfloat16(), x.bfloat16()
    scales = weight.abs().amax(1) / 127
    int8_weight = (weight / scales[:, None]).round().to(torch.int8)
    dynamic, float32 = projection(weight, int8=True), projection(weight, int8=False)
    calls = max(3000 // len(x), 30)
    return {
        "fp32 F.linear": microseconds(lambda: F.linear(x, weight), calls),
        "fp32 x @ W.T contiguous": microseconds(lambda: float32(x), calls),
        "bf16 F.linear": microseconds(lambda: F.linear(x_bf16, weight_bf16), calls),
        "int8 weight-only, bf16 x": microseconds(
            lambda: torch._weight_int8pack_mm(x_bf16[:, 0], int8_weight, scales.bfloat16()), calls
        ),
        "fbgemm dynamic int8": microseconds(lambda: dynamic(x), calls),
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=1))
