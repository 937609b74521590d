#!/usr/bin/env bash
# Installs the lab's podman configuration (lab/podman/containers.conf) to /etc/containers/containers.conf.
# Idempotent: the file is only rewritten when it differs. Run as root.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dest=/etc/containers/containers.conf

install -d -m 0755 /etc/containers
if ! cmp -s "$here/containers.conf" "$dest"; then
  echo "== podman: installing $dest"
  install -m 0644 "$here/containers.conf" "$dest"
fi

# Storage: the packaged default (/usr/share/containers/storage.conf, driver "overlay") works on this machine kind
# (native overlay on ext4, d_type supported), so no /etc/containers/storage.conf is written. Check it and fail loudly
# if the graph driver is not usable, rather than silently falling back to vfs (slow, many GB per image).
if command -v podman >/dev/null; then
  driver="$(podman info --format '{{.Store.GraphDriverName}}' 2>/dev/null || true)"
  runtime="$(podman info --format '{{.Host.OCIRuntime.Name}}' 2>/dev/null || true)"
  if [ "$driver" != "overlay" ]; then
    echo "!! podman storage driver is '${driver:-unknown}', expected overlay (see /etc/containers/storage.conf)" >&2
    exit 1
  fi
  if [ "$runtime" != "runc" ]; then
    echo "!! podman OCI runtime is '${runtime:-unknown}', expected runc" >&2
    exit 1
  fi
fi
