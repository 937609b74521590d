#!/usr/bin/env python3
"""Build (or reuse) the wheelhouse of the bgplb speaker on the Ansible control node.

The wheelhouse holds the speaker's own wheel (pure Python, built from the collection's `speaker/` source) and the
wheels of its dependencies, downloaded for the *node's* interpreter and platform (not the control node's), so that
`pip install --no-index --find-links` works on nodes without internet access.

With `--lock FILE` (speaker/requirements*.lock, pinned versions with sha256 hashes) the dependencies are downloaded
with `pip --require-hashes`: every rollout gets the same bytes, and a wheel that differs from the lock fails the build.
Each wheelhouse holds `requirements.txt`, every wheel in it pinned with its hash, which the node installs with
`pip install --require-hashes --no-index --find-links`. `--write-lock FILE` resolves the dependencies afresh for the
given targets and writes such a lock (scripts/lock-wheelhouse.sh).

Layout: <cache>/<version>-<source hash>/<target>/*.whl, where <target> is `cp311-x86_64-glibc2.36`. A directory is
complete once its `.complete` file (the digest of its wheels) exists; it is built in a temporary directory first and
renamed, so an interrupted build is never mistaken for a finished one. The source hash covers pyproject.toml and
everything under src/, so a code change without a version bump still gives a new wheelhouse; the lock's digest is
part of the name too.

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
import tomllib
from pathlib import Path

SOURCE_FILES = ("pyproject.toml", "setup.cfg", "setup.py", "MANIFEST.in")
IGNORED_PARTS = {"__pycache__", "build", "dist"}
COMPLETE = ".complete"
REQUIREMENTS = "requirements.txt"
# name-version-(build-)python-abi-platform.whl (PEP 427); names normalised as PEP 503 says
WHEEL_NAME = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)(-\d[^-]*)?-[^-]+-[^-]+-[^-]+\.whl$")


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


def run(cmd: list[str], hint: str = "") -> None:
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    if proc.returncode:
        sys.stderr.write(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout}")
        if hint:
            sys.stderr.write(f"{hint}\n")
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


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def wheel_pins(folder: Path) -> dict[str, tuple[str, str]]:
    """{normalised name: (version, sha256)} of the wheels in a folder."""
    pins: dict[str, tuple[str, str]] = {}
    for wheel in sorted(folder.glob("*.whl")):
        match = WHEEL_NAME.match(wheel.name)
        if not match:
            raise SystemExit(f"{wheel}: not a wheel file name")
        pins[normalise(match["name"])] = (match["version"], sha256(wheel))
    return pins


def download_cmd(pip: list[str], target: str, dest: Path) -> list[str]:
    """`pip download` of wheels for the node's interpreter and platform."""
    info = parse_target(target)
    cmd = [*pip, "download", "--only-binary=:all:", "--dest", str(dest),
           "--python-version", f"{info['major']}.{info['minor']}", "--implementation", "cp",
           "--abi", f"cp{info['major']}{info['minor']}"]  # fmt: skip
    for tag in platforms(info["machine"], info["glibc"]):
        cmd += ["--platform", tag]
    return cmd


def requirement(name: str, extras: list[str]) -> str:
    return name + (f"[{','.join(extras)}]" if extras else "")


def write_requirements(folder: Path, extras: list[str]) -> None:
    """requirements.txt: every wheel of the folder pinned with its hash (the node installs with --require-hashes)."""
    lines = [f"# the wheels of this wheelhouse: pip install --require-hashes --no-index --find-links {folder.name}"]
    for name, (version, digest) in sorted(wheel_pins(folder).items()):
        wanted = requirement(name, extras) if name == "bgplb" else name
        lines.append(f"{wanted}=={version} --hash=sha256:{digest}")
    (folder / REQUIREMENTS).write_text("\n".join(lines) + "\n")


def build_target(
    pip: list[str], speaker_wheel: Path, target: str, dest: Path, pip_args: list[str], extras: list[str],
    lock: Path | None,
) -> None:  # fmt: skip
    tmp = Path(tempfile.mkdtemp(prefix=f".{target}.", dir=dest.parent))
    try:
        shutil.copy2(speaker_wheel, tmp / speaker_wheel.name)
        cmd = download_cmd(pip, target, tmp)
        if lock is None:
            run([*cmd, *pip_args, requirement(str(tmp / speaker_wheel.name), extras)])
        else:
            hint = (f"the wheels for {target} differ from {lock} or it lacks them: regenerate it with "
                    f"scripts/lock-wheelhouse.sh --target {target} (or set bgplb_speaker_wheelhouse_lock)")  # fmt: skip
            run([*cmd, *pip_args, "--no-deps", "--require-hashes", "-r", str(lock)], hint)
        write_requirements(tmp, extras)
        if lock is not None:  # the lock must hold every dependency: resolve the wheelhouse offline, hashes required
            with tempfile.TemporaryDirectory(prefix="bgplb-check-") as check:
                run([*download_cmd(pip, target, Path(check)), "--no-index", "--find-links", str(tmp),
                     "--require-hashes", "-r", str(tmp / REQUIREMENTS)],
                    f"{lock} does not hold every dependency of bgplb{extras or ''}: regenerate it")  # fmt: skip
        (tmp / COMPLETE).write_text(wheels_digest(tmp) + "\n")
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def project_requirements(source: Path, extras: list[str]) -> list[str]:
    """The speaker's dependencies (and those of its extras) as pyproject.toml declares them."""
    project = tomllib.loads((source / "pyproject.toml").read_text())["project"]
    wanted = list(project.get("dependencies", []))
    for extra in extras:
        if extra not in project.get("optional-dependencies", {}):
            raise SystemExit(f"{source}/pyproject.toml: no extra {extra!r}")
        wanted += project["optional-dependencies"][extra]
    return wanted


def resolve(pip: list[str], wanted: list[str], target: str, pip_args: list[str]) -> dict:
    """The dependencies pip picks today for one target: {name: (version, sha256)}."""
    with tempfile.TemporaryDirectory(prefix="bgplb-lock-") as tmp:
        run([*download_cmd(pip, target, Path(tmp)), *pip_args, *wanted])
        return wheel_pins(Path(tmp))


def write_lock(path: Path, pins: dict[str, dict[str, set[str]]], targets: list[str], extras: list[str]) -> str:
    """The lock file's text: one `name==version` per dependency with every target's hash."""
    lines = [
        f"# bgplb{'[' + ','.join(extras) + ']' if extras else ''}: the dependencies of the speaker, pinned with the "
        "sha256 of their wheels.",
        f"# Generated by scripts/lock-wheelhouse.sh for {' '.join(targets)}; do not edit.",
    ]
    for name in sorted(pins):
        (version, hashes), = pins[name].items()  # fmt: skip
        lines.append(f"{name}=={version} \\")
        lines += [f"    --hash=sha256:{h} \\" for h in sorted(hashes)]
        lines[-1] = lines[-1].removesuffix(" \\")
    text = "\n".join(lines) + "\n"
    path.write_text(text)
    return text


def lock_main(args: argparse.Namespace, pip: list[str], source: Path, extras: list[str]) -> int:
    """--write-lock: resolve for every target, merge the hashes; --check compares with the file instead."""
    pins: dict[str, dict[str, set[str]]] = {}
    targets = sorted(set(args.target))
    wanted = project_requirements(source, extras)
    for target in targets:
        for name, (version, digest) in resolve(pip, wanted, target, args.pip_arg).items():
            pins.setdefault(name, {}).setdefault(version, set()).add(digest)
    split = {name: sorted(v) for name, v in pins.items() if len(v) > 1}
    if split:
        raise SystemExit(f"the targets resolve to different versions {split}: lock them separately")
    path = args.write_lock
    old = path.read_text() if path.is_file() else ""
    with tempfile.TemporaryDirectory() as tmp:
        new = write_lock(Path(tmp) / path.name, pins, targets, extras)
    if args.check:
        print(json.dumps({"lock": str(path), "up_to_date": new == old}))
        return 0 if new == old else 1
    if new != old:
        path.write_text(new)
    print(json.dumps({"lock": str(path), "changed": new != old, "packages": len(pins)}))
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", required=True, type=Path, help="the speaker source (holds pyproject.toml)")
    p.add_argument("--cache", type=Path, help="wheelhouse cache root (building)")
    p.add_argument("--target", action="append", default=[], help="cpXY-<machine>-glibcA.B (repeatable)")
    p.add_argument("--pip-arg", action="append", default=[], help="extra pip argument (repeatable)")
    p.add_argument("--extra", action="append", default=[], help="an extra of the speaker package (kubernetes)")
    p.add_argument("--lock", type=Path, help="download the dependencies pinned by this lock, hashes checked")
    p.add_argument("--write-lock", type=Path, help="resolve the dependencies for the targets and write this lock")
    p.add_argument("--check", action="store_true", help="report what would be built (or if the lock is current)")
    args = p.parse_args()

    source = args.source.resolve()
    extras = sorted(set(args.extra))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    for target in args.target:
        parse_target(target)
    if args.write_lock:
        return lock_main(args, pip, source, extras)
    if args.cache is None:
        p.error("--cache is needed to build a wheelhouse")
    lock = args.lock.resolve() if args.lock else None
    if lock is not None and not lock.is_file():
        raise SystemExit(f"{lock}: no such lock file (bgplb_speaker_wheelhouse_lock)")
    version = project_version(source)
    shash = source_hash(source)
    key = [version, shash[:16], *extras] + ([f"lock{sha256(lock)[:12]}"] if lock else [])
    build_dir = args.cache.expanduser() / "-".join(key)
    changed = False
    result: dict[str, dict[str, object]] = {}
    speaker_wheel: Path | None = None
    for target in sorted(set(args.target)):
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
            build_target(pip, speaker_wheel, target, dest, args.pip_arg, extras, lock)
        result[target] = {
            "dir": str(dest),
            "digest": (dest / COMPLETE).read_text().strip(),
            "wheels": sorted(w.name for w in dest.glob("*.whl")),
        }
    print(json.dumps({"changed": changed, "version": version, "source_hash": shash, "locked": lock is not None,
                      "targets": result}))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
