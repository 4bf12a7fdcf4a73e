#!/usr/bin/env bash
# The static checks, all configured in pyproject.toml: ruff's lint, ruff's formatter (check only) and mypy.
# Usage: bash scripts/check.sh [PATH ...]   (paths from the repository root; default: bot engine storage)
# PYTHON names the interpreter whose environment has the dev extra (default: .venv/bin/python, else python3).
# Every check runs even when one fails, so one run shows everything to fix; `ruff format PATH` fixes the format.
set -uo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}
paths=("$@")
[ ${#paths[@]} -gt 0 ] || paths=(bot engine storage)

failed=()
"$python" -m ruff check "${paths[@]}" || failed+=("ruff check")
"$python" -m ruff format --check "${paths[@]}" || failed+=("ruff format --check")
"$python" -m mypy "${paths[@]}" || failed+=(mypy)
if [ ${#failed[@]} -gt 0 ]; then
    echo "static checks failed: ${failed[*]}" >&2
    exit 1
fi
