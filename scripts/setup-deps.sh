#!/usr/bin/env bash
# Installs everything bgplb's lab and test suite need on a Debian 12 machine (root): apt packages, a Python venv
# with the pinned tools in requirements-dev.txt, and the speaker package in editable mode. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  python3 python3-venv python3-dev gcc make git
  podman runc uidmap slirp4netns fuse-overlayfs debootstrap
  frr frr-pythontools bird2 gobgpd
  iproute2 nftables conntrack tcpdump procps curl
  prometheus  # promtool, for tests/monitoring (the package's server is stopped below)
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "== apt: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The Debian packages start daemons in the host namespace on install; the tests start their own instances.
for svc in frr bird gobgpd prometheus; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$svc" 2>/dev/null; then
    systemctl disable --now "$svc" >/dev/null 2>&1 || true
  fi
done

if [ ! -x .venv/bin/python ]; then
  echo "== venv: creating .venv"
  python3 -m venv .venv
fi
if ! cmp -s requirements-dev.txt .venv/.requirements-installed 2>/dev/null; then
  echo "== pip: installing requirements-dev.txt (first time: a few minutes)"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -r requirements-dev.txt
  cp requirements-dev.txt .venv/.requirements-installed
fi
.venv/bin/pip install -q --no-deps -e speaker

# The checkout is the collection baremetal.bgplb (ansible.cfg points collections_path here).
mkdir -p .venv/collections/ansible_collections/baremetal
ln -sfn "$PWD" .venv/collections/ansible_collections/baremetal/bgplb

# Podman for the lab: runc and ulimits this machine needs.
bash lab/podman/install.sh

# The real kube-apiserver and etcd for the Kubernetes tests and benchmarks, built from their Go modules (cached in
# /var/cache/bgplb; the first build takes 10-25 minutes on 2 cores).
command -v go >/dev/null || export PATH="$PATH:/usr/local/go/bin"
echo "== kubernetes: kube-apiserver and etcd in $(bash scripts/build-k8s.sh)"
