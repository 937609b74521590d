#!/usr/bin/env bash
# Writes the speaker's wheelhouse locks, speaker/requirements.lock and speaker/requirements-kubernetes.lock: every
# dependency pinned to the version pip picks today, with the sha256 of its wheel for each node target (Python,
# machine, glibc). The speaker role downloads exactly these wheels (`pip --require-hashes`), so every rollout installs
# the same bytes. Needs PyPI (or --pip-arg=--index-url=MIRROR). Run after a dependency change in speaker/pyproject.toml.
#   bash scripts/lock-wheelhouse.sh                 # the default targets below
#   bash scripts/lock-wheelhouse.sh --check         # exit 1 if a lock differs from what PyPI gives today
#   bash scripts/lock-wheelhouse.sh --target cp312-x86_64-glibc2.39 ...   # other targets (replace the default list)
set -euo pipefail
cd "$(dirname "$0")/.."
# Debian 12, Ubuntu 24.04 and Debian 13 interpreters, on x86_64 and aarch64
targets=(cp311-x86_64-glibc2.36 cp311-aarch64-glibc2.36 cp312-x86_64-glibc2.39 cp312-aarch64-glibc2.39
  cp313-x86_64-glibc2.41 cp313-aarch64-glibc2.41)
args=()
given=()
while (($#)); do
  case "$1" in
    --target) given+=("$2"); shift 2 ;;
    --target=*) given+=("${1#--target=}"); shift ;;
    --check|--pip-arg=*) args+=("$1"); shift ;;
    *) echo "usage: $0 [--check] [--target cpXY-MACHINE-glibcA.B]... [--pip-arg=ARG]..." >&2; exit 2 ;;
  esac
done
((${#given[@]})) && targets=("${given[@]}")
python=.venv/bin/python
[ -x "$python" ] || python=python3
rc=0
for extra in "" kubernetes; do
  lock=speaker/requirements${extra:+-$extra}.lock
  "$python" roles/speaker/files/bgplb_wheelhouse.py --source speaker --write-lock "$lock" \
    ${extra:+--extra="$extra"} "${targets[@]/#/--target=}" "${args[@]}" || rc=$?
done
exit "$rc"
