#!/usr/bin/env bash
# The whole test suite: lint, speaker unit/fuzz/interop/service tests (real FRR, BIRD 2, GoBGP in network
# namespaces), collection checks and module tests, molecule scenarios on the podman lab. Needs root. Installs what it
# needs first. Any failure (a namespace or container that cannot be created included) fails the run: nothing skips.
#   bash scripts/test.sh            # everything
#   bash scripts/test.sh --quick    # without the molecule scenarios
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
stage() { printf '\n=== %s (t+%ss)\n' "$1" "$(($(date +%s) - start))"; }
quick=0
[ "${1:-}" = --quick ] && quick=1

stage "dependencies"
bash scripts/setup-deps.sh
export PATH="$PWD/.venv/bin:$PATH"
export ANSIBLE_FORCE_COLOR=0 PY_COLORS=0

stage "lint: ruff, ansible-lint (production profile)"
ruff check .
ruff format --check .
ansible-lint -q

stage "speaker tests (unit, fuzz, interop, service)"
# -rs lists skips; --strict-markers and the absence of skip markers keep "skipped" from hiding a missing peer.
python -m pytest speaker/tests -q -p no:cacheprovider -rs

stage "collection: module unit and integration tests"
python -m pytest tests -q -p no:cacheprovider -rs

stage "collection: ansible-test sanity"
bash scripts/sanity.sh

stage "collection: build, docs"
tmp=$(mktemp -d)
ansible-galaxy collection build --output-path "$tmp" . >/dev/null
tar -tzf "$tmp"/baremetal-bgplb-*.tar.gz > "$tmp/contents"  # (a grep -q in a pipe would SIGPIPE tar under pipefail)
grep -qx 'speaker/src/bgplb/daemon.py' "$tmp/contents" || { echo "the collection artifact lacks the speaker source"; exit 1; }
if grep -E '^\.(venv|ansible)/' "$tmp/contents"; then echo "the collection artifact holds local caches"; exit 1; fi
for m in plugins/modules/*.py; do
  ansible-doc "baremetal.bgplb.$(basename "$m" .py)" >/dev/null
done
rm -rf "$tmp"

if ((quick == 0)); then
  stage "molecule: lab images"
  bash lab/images/build.sh
  stage "molecule: default (converge, idempotence, ECMP and traffic)"
  molecule test -s default
  stage "molecule: scale (a 4th node, no session reset)"
  molecule test -s scale
fi

stage "done"
echo "all stages passed in $(($(date +%s) - start))s"
