"""Packaging: the collection artifact, the execution environment's build context (`ansible-builder create`; building
the image itself needs a container registry and is not done here), and the changelog (antsibull-changelog)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
EE_FILES = ("execution-environment.yml", "requirements.yml", "requirements.txt", "bindep.txt")
# antsibull-changelog runs ansible-doc (for the plugins of a release): the venv's, found on PATH
ENV = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".venv" / "collections"),
       "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}  # fmt: skip


def run(*cmd: str | Path, cwd: Path = ROOT) -> str:
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The collection built as a user would (`ansible-galaxy collection build`)."""
    out = tmp_path_factory.mktemp("dist")
    run(BIN / "ansible-galaxy", "collection", "build", "--output-path", out, ROOT)
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text())
    path = out / f"baremetal-bgplb-{galaxy['version']}.tar.gz"
    assert path.is_file()
    return path


def test_galaxy_metadata_has_no_placeholder() -> None:
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text())
    assert galaxy["license"] == ["Apache-2.0"]
    for key in ("repository", "documentation", "homepage", "issues"):
        assert "example" not in str(galaxy.get(key, "")) and "invalid" not in str(galaxy.get(key, ""))
    assert "Apache License" in (ROOT / "LICENSE").read_text().split("\n", 3)[1]
    required = {c["name"] for c in yaml.safe_load((ROOT / "requirements.yml").read_text())["collections"]}
    assert set(galaxy["dependencies"]) <= required


def test_requirements_cover_every_collection_used() -> None:
    """Every collection named by FQCN in playbooks, roles, lab and molecule is in requirements.yml."""
    required = {c["name"] for c in yaml.safe_load((ROOT / "requirements.yml").read_text())["collections"]}
    used: set[str] = set()
    for top in ("playbooks", "roles", "lab", "molecule", "extensions"):
        for path in (ROOT / top).rglob("*.y*ml"):
            for word in path.read_text(errors="replace").replace("|", " ").replace(":", " ").split():
                parts = word.strip("\"'(),[]{}").split(".")
                if len(parts) >= 3 and parts[0] in {"ansible", "community", "containers", "kubernetes"}:
                    used.add(".".join(parts[:2]))
    used -= {"ansible.builtin", "ansible.cfg"}
    assert used, "no FQCN found: the scan is broken"
    assert used <= required, f"used but not in requirements.yml: {sorted(used - required)}"


def test_artifact_content(artifact: Path) -> None:
    with tarfile.open(artifact) as tar:
        names = set(tar.getnames())
    for name in ("LICENSE", "README.md", "meta/runtime.yml", "requirements.txt", "bindep.txt", "CHANGELOG.rst",
                 "changelogs/changelog.yaml", "extensions/monitoring/prometheus/bgplb-alerts.yml",
                 "extensions/monitoring/grafana/bgplb-dashboard.json"):  # fmt: skip
        assert name in names, name
    assert not [n for n in names if n.startswith((".venv", ".git/", "lab/.cache"))]


def test_execution_environment_context(artifact: Path, tmp_path: Path) -> None:
    """`ansible-builder create` on the repository's definition, next to the artifact in dist/ as the header says."""
    for name in EE_FILES:
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "dist").mkdir()
    shutil.copy(artifact, tmp_path / "dist" / artifact.name)
    run(BIN / "ansible-builder", "create", "-f", "execution-environment.yml", "-c", "context", cwd=tmp_path)
    ctx = tmp_path / "context"
    containerfile = (ctx / "Containerfile").read_text()
    for name in ("requirements.yml", "requirements.txt", "bindep.txt"):
        assert (ctx / "_build" / name).read_bytes() == (ROOT / name).read_bytes(), name
    assert "-r requirements.yml" in containerfile
    assert "--user-pip=requirements.txt --user-bindep=bindep.txt" in containerfile
    assert 'ANSIBLE_INSTALL_REFS="ansible-core>=2.19,<2.20 ansible-runner"' in containerfile
    assert (ctx / "_build" / "collection" / artifact.name).is_file()
    galaxy_stage = containerfile.split("FROM base AS galaxy", 1)[1].split("FROM base AS builder", 1)[0]
    assert "/build/collection/baremetal-bgplb-*.tar.gz" in galaxy_stage  # installed before the introspection


def test_introspection_finds_the_collections_needs(artifact: Path, tmp_path: Path) -> None:
    """In the image, ansible-builder reads requirements.txt and bindep.txt from the installed collection."""
    run(BIN / "ansible-galaxy", "collection", "install", "--force", "--offline", "--no-deps", "-p", tmp_path, artifact)
    data = yaml.safe_load(run(BIN / "ansible-builder", "introspect", tmp_path).split("\n", 1)[1])
    python = [line.split("#")[0].strip() for line in data["python"]]
    system = [line.split("#")[0].strip() for line in data["system"]]
    assert "kubernetes>=31" in python
    assert "openssh-clients [platform:rpm]" in system


def test_changelog_lint_is_clean() -> None:
    out = run(BIN / "antsibull-changelog", "lint")
    assert out.strip() == "", out


def test_changelog_has_a_release(tmp_path: Path) -> None:
    changes = yaml.safe_load((ROOT / "changelogs" / "changelog.yaml").read_text())
    assert changes["releases"], "no release in changelogs/changelog.yaml"
    assert (ROOT / "CHANGELOG.rst").is_file()
    # the next release works too: in a copy, with whatever fragments are pending
    work = tmp_path / "c"
    work.mkdir()
    for name in ("galaxy.yml", "changelogs", "meta", "plugins"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, work / name)
    run(BIN / "antsibull-changelog", "release", "--version", "99.0.0", "--date", "2099-01-01", cwd=work)
    released = yaml.safe_load((work / "changelogs" / "changelog.yaml").read_text())["releases"]
    assert "99.0.0" in released and set(changes["releases"]) < set(released)
    assert "99.0.0" in (work / "CHANGELOG.rst").read_text()
