"""The speaker's wheelhouse lock (speaker/requirements*.lock) against a real wheelhouse build: the builder downloads
exactly the locked wheels (pip --require-hashes, from PyPI), the wheelhouse pins every wheel it holds with its hash,
the speaker installs from it offline with --require-hashes, a wheel that differs from the lock fails the build, and
the lock generator, fed the wheelhouse, gives the lock's versions and hashes back."""

from __future__ import annotations

import hashlib
import json
import platform
import re
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
BUILDER = ROOT / "roles/speaker/files/bgplb_wheelhouse.py"
LOCKS = {"": ROOT / "speaker/requirements.lock", "kubernetes": ROOT / "speaker/requirements-kubernetes.lock"}
PIN = re.compile(r"^([a-z0-9-]+(?:\[[a-z0-9,-]+\])?)==(\S+)")
HASH = re.compile(r"--hash=sha256:([0-9a-f]{64})")


def local_target() -> str:
    """This interpreter as a wheelhouse target (the role's probe computes the same on a node)."""
    libc, ver = platform.libc_ver()
    assert libc == "glibc", "the wheelhouse needs glibc"
    return f"cp{sys.version_info[0]}{sys.version_info[1]}-{platform.machine()}-glibc{ver}"


def parse(text: str) -> dict[str, tuple[str, set[str]]]:
    """{name: (version, hashes)} of a requirements file with `\\` continuations."""
    pins: dict[str, tuple[str, set[str]]] = {}
    for entry in re.sub(r"\\\n", " ", text).splitlines():
        match = PIN.match(entry)
        if match:
            name = match[1].split("[")[0]
            pins[name] = (match[2], set(HASH.findall(entry)))
    return pins


def builder(*args: str | Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, str(BUILDER), "--source", str(ROOT / "speaker"), *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)


def build(cache: Path, lock: Path, extra: str) -> Path:
    proc = builder("--cache", cache, "--target", local_target(), "--lock", lock, *([f"--extra={extra}"] * bool(extra)))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["locked"] and out["changed"]
    return Path(out["targets"][local_target()]["dir"])


@pytest.fixture(scope="module", params=sorted(LOCKS))
def wheelhouse(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    return request.param, build(tmp_path_factory.mktemp("cache"), LOCKS[request.param], request.param)


def test_lock_names_every_dependency_and_the_lab_target() -> None:
    pyproject = (ROOT / "speaker/pyproject.toml").read_text()
    for extra, lock in LOCKS.items():
        text = lock.read_text()
        pins = parse(text)
        assert pins and all(len(v[1]) >= 1 for v in pins.values()), lock
        assert "bgplb" not in pins
        assert {"pyyaml", "prometheus-client"} <= set(pins), lock
        if extra:
            assert "kubernetes" in pins
        assert local_target() in text.splitlines()[1], f"{lock} has no hashes for {local_target()} (the lab's nodes)"
    assert '"PyYAML>=6"' in pyproject and "kubernetes>=" in pyproject


def test_wheelhouse_holds_exactly_the_locked_wheels(wheelhouse: tuple[str, Path]) -> None:
    extra, folder = wheelhouse
    locked = parse(LOCKS[extra].read_text())
    pinned = parse((folder / "requirements.txt").read_text())
    wheels = sorted(folder.glob("*.whl"))
    assert len(wheels) == len(pinned) == len(locked) + 1  # + the speaker's own wheel
    for name, (version, hashes) in pinned.items():
        (digest,) = hashes
        if name == "bgplb":
            continue
        assert locked[name][0] == version, name
        assert digest in locked[name][1], f"{name}: the wheelhouse's wheel is not one the lock names"
    line = next(x for x in (folder / "requirements.txt").read_text().splitlines() if x.startswith("bgplb"))
    assert line.startswith(f"bgplb[{extra}]==" if extra else "bgplb==")
    for wheel in wheels:
        name = re.sub(r"[-_.]+", "-", wheel.name.split("-")[0]).lower()
        assert hashlib.sha256(wheel.read_bytes()).hexdigest() in pinned[name][1], wheel.name


def test_speaker_installs_offline_with_hashes_required(wheelhouse: tuple[str, Path], tmp_path: Path) -> None:
    extra, folder = wheelhouse
    venv.create(tmp_path / "venv", with_pip=True)
    pip = [str(tmp_path / "venv/bin/python"), "-m", "pip", "--disable-pip-version-check"]
    cmd = [*pip, "install", "--no-index", "--find-links", str(folder), "--require-hashes",
           "-r", str(folder / "requirements.txt")]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={"PATH": "/usr/bin:/bin"}, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ctl = subprocess.run([str(tmp_path / "venv/bin/bgplbctl"), "--help"], capture_output=True, text=True, check=False)
    assert ctl.returncode == 0 and "apply" in ctl.stdout
    module = "kubernetes" if extra else "yaml"
    imported = subprocess.run([str(tmp_path / "venv/bin/python"), "-c", f"import {module}"], check=False)
    assert imported.returncode == 0, module


def test_a_wheel_that_differs_from_the_lock_fails_the_build(tmp_path: Path) -> None:
    text = LOCKS[""].read_text()
    lock = tmp_path / "requirements.lock"
    pyyaml = re.compile(r"pyyaml==(\S+) \\\n(?:\s+--hash=sha256:[0-9a-f]{64}(?: \\)?\n)+")
    assert pyyaml.search(text), "the lock's pyyaml entry is not where this test looks"
    lock.write_text(pyyaml.sub(lambda m: f"pyyaml=={m[1]} \\\n    --hash=sha256:{'0' * 64}\n", text))
    assert "pyyaml" in lock.read_text() and "0" * 64 in lock.read_text()
    proc = builder("--cache", tmp_path / "cache", "--target", local_target(), "--lock", lock)
    assert proc.returncode != 0
    assert "pyyaml" in proc.stderr.lower() and "HASHES" in proc.stderr
    assert "scripts/lock-wheelhouse.sh" in proc.stderr
    assert not list((tmp_path / "cache").rglob(".complete")), "a failed build must not leave a wheelhouse"


def test_generator_from_the_wheelhouse_gives_the_lock_back(wheelhouse: tuple[str, Path], tmp_path: Path) -> None:
    extra, folder = wheelhouse
    out = tmp_path / "generated.lock"
    proc = builder("--write-lock", out, "--target", local_target(), "--pip-arg=--no-index",
                   f"--pip-arg=--find-links={folder}", *([f"--extra={extra}"] * bool(extra)))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    generated, locked = parse(out.read_text()), parse(LOCKS[extra].read_text())
    assert set(generated) == set(locked)
    for name, (version, hashes) in generated.items():
        assert version == locked[name][0] and hashes <= locked[name][1], name
