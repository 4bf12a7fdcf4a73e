#!/usr/bin/env bash
# The static checks, all configured in pyproject.toml: ruff's lint, ruff's formatter (check only) and mypy.
# Usage: bash scripts/check.sh [PATH ...]   (paths from the repository root)
# Without paths, ruff covers every folder with Python in it and mypy the three packages; with paths, ruff
# covers those and mypy those inside the packages (tests and benches are not type-checked).
# PYTHON names the interpreter whose environment has the dev extra (default: .venv/bin/python, else python3).
# Every check runs even when one fails, so one run shows everything to fix; `ruff format PATH` fixes the format.
set -uo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}
lint_paths=(bot engine storage tests bench scripts)
typed_paths=(bot engine storage)
if [ $# -gt 0 ]; then
    lint_paths=("$@")
    typed_paths=()
    for path in "$@"; do
        case "$path" in
            bot | bot/* | engine | engine/* | storage | storage/*) typed_paths+=("$path") ;;
        esac
    done
fi

failed=()
"$python" -m ruff check "${lint_paths[@]}" || failed+=("ruff check")
"$python" -m ruff format --check "${lint_paths[@]}" || failed+=("ruff format --check")
if [ ${#typed_paths[@]} -gt 0 ]; then
    "$python" -m mypy "${typed_paths[@]}" || failed+=(mypy)
fi
if [ ${#failed[@]} -gt 0 ]; then
    echo "static checks failed: ${failed[*]}" >&2
    exit 1
fi
