#!/usr/bin/env python3
"""Build (or reuse) the wheelhouse of the bgplb speaker on the Ansible control node.

The wheelhouse holds the speaker's own wheel (pure Python, built from the collection's `speaker/` source) and the
wheels of its dependencies, downloaded for the *node's* interpreter and platform (not the control node's), so that
`pip install --no-index --find-links` works on nodes without internet access.

Layout: <cache>/<version>-<source hash>/<target>/*.whl, where <target> is `cp311-x86_64-glibc2.36`. A directory is
complete once its `.complete` file (the digest of its wheels) exists; it is built in a temporary directory first and
renamed, so an interrupted build is never mistaken for a finished one. The source hash covers pyproject.toml and
everything under src/, so a code change without a version bump still gives a new wheelhouse.

Prints one JSON object: {"changed", "version", "source_hash", "targets": {target: {"dir", "digest", "wheels"}}}.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SOURCE_FILES = ("pyproject.toml", "setup.cfg", "setup.py", "MANIFEST.in")
IGNORED_PARTS = {"__pycache__", "build", "dist"}
COMPLETE = ".complete"


def source_files(source: Path) -> list[Path]:
    files = [source / name for name in SOURCE_FILES if (source / name).is_file()]
    for path in sorted((source / "src").rglob("*")):
        rel = path.relative_to(source)
        if not path.is_file() or path.suffix in (".pyc", ".pyo"):
            continue
        if IGNORED_PARTS & set(rel.parts) or any(p.endswith(".egg-info") for p in rel.parts):
            continue
        files.append(path)
    return files


def source_hash(source: Path) -> str:
    digest = hashlib.sha256()
    for path in source_files(source):
        digest.update(str(path.relative_to(source)).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def project_version(source: Path) -> str:
    text = (source / "pyproject.toml").read_text()
    match = re.search(r'^version\s*=\s*"([^"]+)"', text, re.MULTILINE)
    if not match:
        raise SystemExit(f"{source}/pyproject.toml: no static `version`")
    return match.group(1)


def wheels_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for wheel in sorted(folder.glob("*.whl")):
        digest.update(wheel.name.encode() + b"\0")
        digest.update(hashlib.sha256(wheel.read_bytes()).digest())
    return digest.hexdigest()


def run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    if proc.returncode:
        sys.stderr.write(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout}")
        raise SystemExit(proc.returncode)


def parse_target(text: str) -> dict[str, str]:
    """`cp311-x86_64-glibc2.36` -> python 3.11, machine x86_64, glibc 2.36."""
    match = re.fullmatch(r"cp(\d)(\d+)-([A-Za-z0-9_]+)-glibc(\d+)\.(\d+)", text)
    if not match:
        raise SystemExit(f"bad target {text!r} (expected like cp311-x86_64-glibc2.36)")
    major, minor, machine, gmajor, gminor = match.groups()
    return {"major": major, "minor": minor, "machine": machine, "glibc": (int(gmajor), int(gminor))}


def platforms(machine: str, glibc: tuple[int, int]) -> list[str]:
    """Every manylinux tag a node with this glibc accepts (pip does not expand manylinux_2_X by itself)."""
    if glibc[0] != 2 or glibc[1] < 17:
        raise SystemExit(f"glibc {glibc[0]}.{glibc[1]} is older than manylinux2014 (2.17)")
    tags = [f"manylinux_2_{m}_{machine}" for m in range(glibc[1], 16, -1)]
    tags.append(f"manylinux2014_{machine}")
    if machine in ("x86_64", "i686"):
        tags += [f"manylinux2010_{machine}", f"manylinux1_{machine}"]
    return tags


def build_speaker(pip: list[str], source: Path, out: Path, pip_args: list[str]) -> Path:
    """The speaker's own wheel, built from a copy of the source so nothing is written into the collection."""
    with tempfile.TemporaryDirectory(prefix="bgplb-src-") as tmp:
        copy = Path(tmp) / "speaker"
        copy.mkdir()
        for path in source_files(source):
            dest = copy / path.relative_to(source)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest)
        run([*pip, "wheel", "--no-deps", "--wheel-dir", str(out), *pip_args, str(copy)])
    wheels = sorted(out.glob("bgplb-*.whl"))
    if len(wheels) != 1:
        raise SystemExit(f"expected one bgplb wheel in {out}, found {[w.name for w in wheels]}")
    return wheels[0]


def build_target(
    pip: list[str], speaker_wheel: Path, target: str, dest: Path, pip_args: list[str], extras: list[str]
) -> None:
    info = parse_target(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target}.", dir=dest.parent))
    try:
        shutil.copy2(speaker_wheel, tmp / speaker_wheel.name)
        cmd = [*pip, "download", "--only-binary=:all:", "--dest", str(tmp),
               "--python-version", f"{info['major']}.{info['minor']}", "--implementation", "cp",
               "--abi", f"cp{info['major']}{info['minor']}"]  # fmt: skip
        for tag in platforms(info["machine"], info["glibc"]):
            cmd += ["--platform", tag]
        wanted = str(tmp / speaker_wheel.name) + (f"[{','.join(extras)}]" if extras else "")
        run([*cmd, *pip_args, wanted])
        (tmp / COMPLETE).write_text(wheels_digest(tmp) + "\n")
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", required=True, type=Path, help="the speaker source (holds pyproject.toml)")
    p.add_argument("--cache", required=True, type=Path, help="wheelhouse cache root")
    p.add_argument("--target", action="append", default=[], help="cpXY-<machine>-glibcA.B (repeatable)")
    p.add_argument("--pip-arg", action="append", default=[], help="extra pip argument (repeatable)")
    p.add_argument("--extra", action="append", default=[], help="an extra of the speaker package (kubernetes)")
    p.add_argument("--check", action="store_true", help="report what would be built, build nothing")
    args = p.parse_args()

    source = args.source.resolve()
    version = project_version(source)
    shash = source_hash(source)
    extras = sorted(set(args.extra))
    build_dir = args.cache.expanduser() / "-".join([version, shash[:16], *extras])
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    changed = False
    result: dict[str, dict[str, object]] = {}
    speaker_wheel: Path | None = None
    for target in sorted(set(args.target)):
        parse_target(target)
        dest = build_dir / target
        if not (dest / COMPLETE).is_file():
            changed = True
            if args.check:
                result[target] = {"dir": str(dest), "digest": None, "wheels": []}
                continue
            build_dir.mkdir(parents=True, exist_ok=True)
            if speaker_wheel is None:
                speaker_dir = build_dir / "_speaker"
                shutil.rmtree(speaker_dir, ignore_errors=True)
                speaker_wheel = build_speaker(pip, source, speaker_dir, args.pip_arg)
            build_target(pip, speaker_wheel, target, dest, args.pip_arg, extras)
        result[target] = {
            "dir": str(dest),
            "digest": (dest / COMPLETE).read_text().strip(),
            "wheels": sorted(w.name for w in dest.glob("*.whl")),
        }
    print(json.dumps({"changed": changed, "version": version, "source_hash": shash, "targets": result}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
