#!/usr/bin/env bash
# Builds the bgplb lab's container images locally, from a debootstrap rootfs (no registry):
#   localhost/bgplb-base:bookworm    Debian bookworm minbase, systemd as PID 1, python3 + venv + packaging (Ansible
#                                    target; ansible.builtin.pip needs packaging)
#   localhost/bgplb-frr:bookworm     base + frr, frr-pythontools            (routers)
#   localhost/bgplb-node:bookworm    = base                                 (speaker nodes; Ansible installs the speaker)
#   localhost/bgplb-client:bookworm  = base                                 (traffic client: curl, python3)
# Idempotent: an image is rebuilt only when it is missing or its label bgplb.build-hash differs from the hash of the
# build inputs (this script + Containerfiles). --force rebuilds everything (the downloaded-packages tarball is kept).
# Run as root. See lab/images/README.md for the podman run flags these images need.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
force=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "usage: $0 [--force]" >&2; exit 2 ;;
  esac
done

SUITE=bookworm
MIRROR=http://deb.debian.org/debian
CACHE=/var/cache/bgplb-lab
INCLUDE=systemd,systemd-sysv,dbus,python3,python3-venv,python3-packaging,python3-apt,iproute2,iputils-ping,curl,ca-certificates,nftables,conntrack,procps,sudo,less,netbase,tcpdump
BASE=localhost/bgplb-base:$SUITE
FRR=localhost/bgplb-frr:$SUITE
NODE=localhost/bgplb-node:$SUITE
CLIENT=localhost/bgplb-client:$SUITE
# Units that cannot work (or are pointless) in a container; masked so `systemctl is-system-running` says "running".
MASK=(
  systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket systemd-udev-trigger.service
  systemd-udev-settle.service systemd-networkd-wait-online.service systemd-remount-fs.service
  systemd-modules-load.service systemd-sysusers.service systemd-firstboot.service systemd-hwdb-update.service
  getty@.service serial-getty@.service console-getty.service getty.target getty-static.service
  sys-kernel-debug.mount sys-kernel-tracing.mount sys-kernel-config.mount sys-fs-fuse-connections.mount
  dev-hugepages.mount dev-mqueue.mount proc-sys-fs-binfmt_misc.automount proc-sys-fs-binfmt_misc.mount
  systemd-binfmt.service systemd-pstore.service systemd-repart.service apt-daily.timer apt-daily-upgrade.timer
  e2scrub_all.timer e2scrub_reap.service fstrim.timer
)

die() { echo "!! $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root"
for tool in podman debootstrap tar sha256sum; do command -v "$tool" >/dev/null || die "$tool not found"; done

# One hash over every build input; every image carries it as label bgplb.build-hash.
HASH="$(cat "$here/build.sh" "$here"/Containerfile.* | sha256sum | cut -c1-16)"

label_of() { podman image inspect --format '{{ index .Labels "bgplb.build-hash" }}' "$1" 2>/dev/null || true; }
up_to_date() { [ "$force" = 0 ] && [ "$(label_of "$1")" = "$HASH" ]; }

build_base() {
  if up_to_date "$BASE"; then echo "== $BASE is up to date ($HASH)"; return; fi
  mkdir -p "$CACHE"
  # The .debs, downloaded once per package list; debootstrap --unpack-tarball installs from it offline.
  local debs="$CACHE/debs-$SUITE-minbase-$(echo "$INCLUDE" | sha256sum | cut -c1-12).tgz"
  if [ ! -s "$debs" ]; then
    echo "== downloading packages for the base rootfs (debootstrap --make-tarball)"
    rm -f "$debs.tmp"
    debootstrap --variant=minbase --include="$INCLUDE" --make-tarball="$debs.tmp" \
      "$SUITE" "$(mktemp -d "$CACHE/dl.XXXXXX")" "$MIRROR" >"$CACHE/debootstrap-download.log" 2>&1 \
      || { tail -30 "$CACHE/debootstrap-download.log" >&2; die "debootstrap --make-tarball failed"; }
    mv "$debs.tmp" "$debs"
    rm -rf "$CACHE"/dl.*
  fi

  echo "== building base rootfs (debootstrap, a few minutes)"
  local root; root="$(mktemp -d "$CACHE/rootfs.XXXXXX")"
  # shellcheck disable=SC2064
  trap "umount -R '$root/proc' '$root/sys' '$root/dev/pts' 2>/dev/null || true; rm -rf --one-file-system '$root'" EXIT
  debootstrap --variant=minbase --include="$INCLUDE" --unpack-tarball="$debs" \
    "$SUITE" "$root" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 \
    || { tail -30 "$CACHE/debootstrap.log" >&2; die "debootstrap failed (log: $CACHE/debootstrap.log)"; }

  echo "== configuring base rootfs"
  cat >"$root/etc/apt/sources.list" <<SOURCES
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb http://deb.debian.org/debian-security $SUITE-security main
SOURCES
  # Keep future apt installs small (docs, man pages), like the official slim images.
  cat >"$root/etc/dpkg/dpkg.cfg.d/bgplb-nodoc" <<'NODOC'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
NODOC
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >"$root/etc/apt/apt.conf.d/90bgplb"
  local unit
  for unit in "${MASK[@]}"; do ln -sfn /dev/null "$root/etc/systemd/system/$unit"; done
  # The lab runs with a writable /proc/sys (routers set net.* sysctls, which are per network namespace). Mask the
  # packaged sysctl.d files that set host-wide kernel.*/fs.* keys, so systemd-sysctl in a container can't change the host.
  local f
  for f in "$root"/usr/lib/sysctl.d/*.conf; do ln -sfn /dev/null "$root/etc/sysctl.d/$(basename "$f")"; done
  # Journal to memory only: no persistent logs piling up in a lab container.
  mkdir -p "$root/etc/systemd/journald.conf.d"
  printf '[Journal]\nStorage=volatile\n' >"$root/etc/systemd/journald.conf.d/bgplb.conf"
  # Empty machine-id: systemd makes a fresh one per container.
  : >"$root/etc/machine-id"; rm -f "$root/var/lib/dbus/machine-id"
  echo localhost >"$root/etc/hostname"
  # Ansible connects as root through podman exec; sudo is there for roles that use become.
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
    "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/log/*.log \
    "$root"/var/log/apt/* "$root"/tmp/* "$root"/var/tmp/*
  find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +

  echo "== importing $BASE"
  local tarball="$CACHE/rootfs-$SUITE.tar"
  tar --numeric-owner --xattrs --xattrs-include='*' -C "$root" -cf "$tarball" .
  podman import --quiet \
    --change 'CMD=["/sbin/init"]' --change 'STOPSIGNAL=SIGRTMIN+3' \
    --change "LABEL=bgplb.build-hash=$HASH" --change 'ENV=container=podman' \
    --message "bgplb lab base ($SUITE minbase, systemd)" \
    "$tarball" "$BASE" >/dev/null
  rm -f "$tarball"
  rm -rf --one-file-system "$root"; trap - EXIT
  base_rebuilt=1
}

build_frr() {
  if up_to_date "$FRR"; then echo "== $FRR is up to date ($HASH)"; return; fi
  echo "== building $FRR (apt-get install frr, a minute or two)"
  podman build --pull=never --layers=false --network=host --label "bgplb.build-hash=$HASH" \
    -f "$here/Containerfile.frr" -t "$FRR" "$here" >"$CACHE/build-frr.log" 2>&1 \
    || { tail -30 "$CACHE/build-frr.log" >&2; die "podman build of $FRR failed (log: $CACHE/build-frr.log)"; }
}

tag_of_base() {
  if up_to_date "$1" && [ "$(podman image inspect --format '{{.Id}}' "$1")" = "$(podman image inspect --format '{{.Id}}' "$BASE")" ]; then
    echo "== $1 is up to date ($HASH)"; return
  fi
  echo "== tagging $1 (= base)"
  podman tag "$BASE" "$1"
}

# Image ids before the build: the ones a rebuild leaves untagged are removed at the end.
old_ids="$(for i in "$BASE" "$FRR"; do podman image inspect --format '{{.Id}}' "$i" 2>/dev/null || true; done)"
mkdir -p "$CACHE"
base_rebuilt=0
t0=$SECONDS
build_base
# A rebuilt base invalidates everything built on it.
if [ "$base_rebuilt" = 1 ]; then force=1; fi
build_frr
tag_of_base "$NODE"
tag_of_base "$CLIENT"
for id in $old_ids; do
  if [ -z "$(podman image inspect --format '{{join .RepoTags " "}}' "$id" 2>/dev/null)" ]; then
    podman rmi "$id" >/dev/null 2>&1 || true   # still used by a container: leave it
  fi
done
echo "== images ready in $((SECONDS - t0))s: $BASE $FRR $NODE $CLIENT (build hash $HASH)"
