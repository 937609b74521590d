"""A full disk during `bgplbctl apply` (a small tmpfs, filled to every level that makes a write fail): a clear error,
exit 1, nothing half-written (no temp or pending file left), the previous state intact and valid."""

from __future__ import annotations

import subprocess

import yaml

from bgplb import ctl
from bgplb.store import Store

from .conftest import NODE

PAGE = 4096


def snapshot(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def free_bytes(path) -> int:
    out = subprocess.run(["df", "-B1", "--output=avail", str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[-1])


def test_full_disk_during_apply(tmp_path, capsys):
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", str(disk)], check=True)
    try:
        root = disk / "etc"
        root.mkdir()
        (root / "speaker.yaml").write_text(yaml.safe_dump({"node": NODE}))
        store = Store(root)
        store.apply([("pool", {"name": "old", "addresses": ["198.51.100.0/24"]})])
        store.apply([("service", {"name": "kept", "pool": "old"})])
        docs = [{"kind": "pool", "name": "new", "addresses": ["203.0.113.0/24"]}]
        docs += [{"kind": "service", "name": f"n{i}", "pool": "new"} for i in range(4)]
        docs.append({"kind": "service", "name": "kept", "pool": "old", "health_check": {"type": "tcp", "port": 80}})
        source = tmp_path / "batch.yaml"  # outside the full disk
        source.write_text(yaml.safe_dump(docs))
        filler = disk / "filler"
        failures = 0
        for pages in range(0, 12):  # free space from none to enough, page by page
            filler.unlink(missing_ok=True)
            before = snapshot(root)
            free = free_bytes(disk)
            with open(filler, "wb") as f:
                f.write(b"\0" * max(free - pages * PAGE, 0))
            code = ctl.main(["--config-dir", str(root), "--socket", str(tmp_path / "none"), "apply", "-f", str(source)])
            err = capsys.readouterr().err
            if code == 0:
                break
            failures += 1
            assert code == 1, err
            assert err.startswith("bgplbctl: ") and "No space left on device" in err, err
            assert snapshot(root) == before, f"{pages} free pages: something was written or left behind"
            config = Store(root).load()
            assert {p.name for p in config.pools} == {"old"}
            assert [s.health_check for s in config.services] == [None]
        else:
            raise AssertionError("the apply never succeeded")
        assert failures >= 3, failures  # ENOSPC hit at several points: files, journal
        filler.unlink()
        config = Store(root).load()
        assert {p.name for p in config.pools} == {"old", "new"} and len(config.services) == 5
        assert not [p for p in root.rglob("*") if p.name.startswith(".")]  # no temp, pending or journal file
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=True)
