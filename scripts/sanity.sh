#!/usr/bin/env bash
# ansible-test sanity on a copy of the collection under an ansible_collections/ path (ansible-test refuses the
# checkout itself: it is not inside one). get-pip.py is not reachable from here, so a stand-in is put in its cache.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
dest="$root/ansible_collections/baremetal/bgplb"
mkdir -p "$dest" ~/.ansible/test/cache
cp tests/sanity/get_pip.py ~/.ansible/test/cache/get_pip_24_2.py
git ls-files -z | grep -zv '^\(bench\|speaker\|lab\|molecule\)/' | xargs -0 cp --parents -t "$dest"
cd "$dest"
git init -q && git add -A >/dev/null
"$OLDPWD/.venv/bin/ansible-test" sanity --python 3.11 --requirements \
  --test validate-modules --test compile --test import --test yamllint --test ansible-doc plugins/ "$@"
