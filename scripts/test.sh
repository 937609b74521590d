#!/usr/bin/env bash
# The whole test suite: lint, speaker unit/fuzz/interop/service tests (real FRR, BIRD 2, GoBGP in network
# namespaces), collection checks and module tests, molecule scenarios on the podman lab. Needs root. Installs what it
# needs first. Any failure (a namespace or container that cannot be created included) fails the run, and so does a
# skipped test: nothing may skip. A failure names its stage; the last line counts the tests.
#   bash scripts/test.sh            # everything
#   bash scripts/test.sh --quick    # without the molecule scenarios
#
# Each stage is `stage "name"` followed by its commands; a new stage is one more such block. pytest runs go through
# `run_pytest NAME ARGS...` so that their results are counted (junit XML) and a skip fails the run.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
current="start"
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
stage() {
  current=$1
  printf '\n=== %s (t+%ss)\n' "$1" "$(($(date +%s) - start))"
}
quick=0
[ "${1:-}" = --quick ] && quick=1

# passed/failed/errors/skipped summed over the junit files of the pytest stages run so far
counts() {
  python3 - "$results" <<'EOF'
import sys, xml.etree.ElementTree as ET
from pathlib import Path
t = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
for f in sorted(Path(sys.argv[1]).glob("*.xml")):
    for suite in ET.parse(f).getroot().iter("testsuite"):
        for k in t:
            t[k] += int(suite.get(k, 0))
passed = t["tests"] - t["failures"] - t["errors"] - t["skipped"]
print(f"{passed} passed, {t['failures'] + t['errors']} failed, {t['skipped']} skipped")
EOF
}
on_error() {
  local rc=$1
  trap - ERR
  printf '\n=== FAILED in stage "%s" (exit %s) after %ss; pytest so far: %s\n' \
    "$current" "$rc" "$(($(date +%s) - start))" "$(counts 2>/dev/null || echo 'no counts')"
  exit "$rc"
}
trap 'on_error $?' ERR

run_pytest() {
  local name=$1
  shift
  python -m pytest -q -p no:cacheprovider --strict-markers -rs --junitxml="$results/$name.xml" "$@"
  local skipped
  skipped=$(python3 -c 'import sys, xml.etree.ElementTree as ET
print(sum(int(s.get("skipped", 0)) for s in ET.parse(sys.argv[1]).getroot().iter("testsuite")))' "$results/$name.xml")
  if ((skipped > 0)); then
    echo "$name: $skipped test(s) skipped (listed above): nothing may skip"
    return 1
  fi
}

stage "dependencies"
bash scripts/setup-deps.sh
export PATH="$PWD/.venv/bin:$PATH"
export ANSIBLE_FORCE_COLOR=0 PY_COLORS=0

stage "lint: ruff, mypy (strict, speaker/src), ansible-lint (production profile)"
ruff check .
ruff format --check .
(cd speaker && mypy)
ansible-lint -q

stage "speaker tests (unit, fuzz, interop, service)"
run_pytest speaker speaker/tests

stage "collection: module unit and integration tests, bench accounting"
run_pytest collection tests

stage "collection: ansible-test sanity"
bash scripts/sanity.sh

stage "collection: build, docs"
tmp=$(mktemp -d)
ansible-galaxy collection build --output-path "$tmp" . >/dev/null
tar -tzf "$tmp"/baremetal-bgplb-*.tar.gz > "$tmp/contents"  # (a grep -q in a pipe would SIGPIPE tar under pipefail)
grep -qx 'speaker/src/bgplb/daemon.py' "$tmp/contents" || { echo "the collection artifact lacks the speaker source"; false; }
if grep -E '^\.(venv|ansible)/' "$tmp/contents"; then echo "the collection artifact holds local caches"; false; fi
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
  stage "molecule: kubernetes (LoadBalancer Services: eTP Local follows the endpoint, Cluster spreads, RBAC)"
  molecule test -s kubernetes
fi

stage "done"
echo "all stages passed in $(($(date +%s) - start))s; pytest: $(counts)"
