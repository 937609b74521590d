"""Run the collection's modules for real with ansible-playbook against bgplbctl and a temporary config dir."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"
BGPLBCTL = BIN / "bgplbctl"
NODE = {"name": "n1", "router_id": "10.0.0.1", "asn": 64512}
SPEAKER_YAML = {
    "node": NODE,
    "pools": [{"name": "mgmt", "addresses": ["192.0.2.0/24"]}],  # inline: read-only for the modules
}


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def env() -> dict[str, str]:
    return {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_LOCALHOST_WARNING": "false",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false", "ANSIBLE_NOCOLOR": "1", "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_DEPRECATION_WARNINGS": "false"}  # fmt: skip


def playbook(path: Path, *extra: str, timeout: float = 240) -> subprocess.CompletedProcess:
    cmd = [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local",
           "-e", f"ansible_python_interpreter={BIN / 'python'}", *extra, str(path)]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, env=env(), timeout=timeout, cwd=ROOT)


class Node:
    """A config dir (speaker.yaml with an inline pool) and a way to run one module task against it."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.dir = tmp / "etc"
        self.dir.mkdir()
        (self.dir / "speaker.yaml").write_text(yaml.safe_dump(SPEAKER_YAML, sort_keys=False))
        self.socket = tmp / "api.sock"
        self.steps = 0

    @property
    def defaults(self) -> dict[str, str]:
        return {"bgplbctl": str(BGPLBCTL), "config_dir": str(self.dir), "socket": str(self.socket)}

    def files(self) -> dict[str, bytes]:
        return snapshot(self.dir)

    def read(self, kind: str, name: str) -> dict:
        return yaml.safe_load((self.dir / "objects" / kind / f"{name}.yaml").read_text())

    def run(self, module: str, args: dict, *flags: str) -> tuple[dict, str]:
        """One task of `baremetal.bgplb.<module>`; returns its registered result and ansible-playbook's output."""
        self.steps += 1
        out = self.tmp / f"result{self.steps}.json"
        play = [{
            "name": "Module under test", "hosts": "localhost", "gather_facts": False,
            "module_defaults": {"group/baremetal.bgplb.bgplb": self.defaults},
            "tasks": [
                {"name": "Step", f"baremetal.bgplb.{module}": args, "register": "result", "ignore_errors": True},
                {"name": "Save", "ansible.builtin.copy": {"content": "{{ result | to_json }}", "dest": str(out)},
                 "check_mode": False, "diff": False},
            ],
        }]  # fmt: skip
        path = self.tmp / f"play{self.steps}.yml"
        path.write_text(yaml.safe_dump(play, sort_keys=False))
        proc = playbook(path, *flags)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return json.loads(out.read_text()), proc.stdout + proc.stderr
