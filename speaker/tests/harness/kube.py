"""A real Kubernetes control plane for tests: etcd + kube-apiserver (built by scripts/build-k8s.sh) on loopback.

Authentication is by static bearer tokens (one admin in system:masters, and any users a test asks for), authorization
is RBAC, so a speaker's credentials are exactly as strong as its ClusterRole. There is no kubelet and no
controller-manager: tests create Nodes, Services and EndpointSlices through the API as the real control plane would.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]


def binaries() -> Path:
    """The directory with kube-apiserver and etcd; building them (once, cached) if needed."""
    out = subprocess.run(["bash", str(REPO / "scripts/build-k8s.sh")], check=True, capture_output=True, text=True)
    return Path(out.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ControlPlane:
    """etcd and kube-apiserver in a temp dir. `kubeconfig(user)` writes a kubeconfig for one token user."""

    def __init__(self, users: dict[str, list[str]] | None = None, host: str = "127.0.0.1") -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="bgplb-kube-"))
        self.bin = binaries()
        self.tokens = {"admin": secrets.token_hex(16)}
        self.groups = {"admin": ["system:masters"]}
        for user, groups in (users or {}).items():
            self.tokens[user] = secrets.token_hex(16)
            self.groups[user] = groups
        self.host, self.port = host, free_port()
        self.url = f"https://{host}:{self.port}"
        self.etcd_port, self.etcd_peer = free_port(), free_port()
        self.etcd: subprocess.Popen[bytes] | None = None
        self.apiserver: subprocess.Popen[bytes] | None = None

    # --- processes -------------------------------------------------------------------------------------------------
    def start(self) -> None:
        self.start_etcd()
        self.start_apiserver()

    def start_etcd(self) -> None:
        log = open(self.dir / "etcd.log", "ab")  # noqa: SIM115 (owned by the process)
        client, peer = f"http://127.0.0.1:{self.etcd_port}", f"http://127.0.0.1:{self.etcd_peer}"
        self.etcd = subprocess.Popen(
            [
                str(self.bin / "etcd"),
                "--data-dir",
                str(self.dir / "etcd"),
                "--name",
                "default",
                "--listen-client-urls",
                client,
                "--advertise-client-urls",
                client,
                "--listen-peer-urls",
                peer,
                "--initial-advertise-peer-urls",
                peer,
                "--initial-cluster",
                f"default={peer}",
                "--unsafe-no-fsync",
                "--log-level",
                "warn",
            ],
            stdout=log,
            stderr=log,
            start_new_session=True,
        )

    def start_apiserver(self) -> None:
        sa_key = self.dir / "sa.key"
        if not sa_key.exists():
            subprocess.run(["openssl", "genrsa", "-out", str(sa_key), "2048"], check=True, capture_output=True)
            with open(self.dir / "tokens.csv", "w") as f:
                for user, token in self.tokens.items():
                    f.write(f'{token},{user},{user},"{",".join(self.groups[user])}"\n')
        log = open(self.dir / "apiserver.log", "ab")  # noqa: SIM115
        self.apiserver = subprocess.Popen(
            [
                str(self.bin / "kube-apiserver"),
                f"--etcd-servers=http://127.0.0.1:{self.etcd_port}",
                f"--bind-address={self.host}",
                f"--advertise-address={self.host}",
                f"--secure-port={self.port}",
                f"--cert-dir={self.dir / 'certs'}",
                f"--token-auth-file={self.dir / 'tokens.csv'}",
                "--authorization-mode=RBAC",
                "--service-cluster-ip-range=10.96.0.0/16,fd00:10:96::/112",
                "--service-account-issuer=https://kubernetes.default.svc",
                f"--service-account-key-file={sa_key}",
                f"--service-account-signing-key-file={sa_key}",
                "--enable-priority-and-fairness=false",
                "--max-requests-inflight=2000",
                "--max-mutating-requests-inflight=1000",
                "--endpoint-reconciler-type=none",
                "--profiling=false",
                "--v=1",
            ],
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        self.wait_ready()

    def wait_ready(self, timeout: float = 120) -> None:
        import ssl
        import urllib.request

        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            assert self.apiserver is not None
            if self.apiserver.poll() is not None:
                raise RuntimeError(f"kube-apiserver exited: {self.tail('apiserver.log')}")
            req = urllib.request.Request(
                f"{self.url}/readyz", headers={"Authorization": f"Bearer {self.tokens['admin']}"}
            )
            try:
                with urllib.request.urlopen(req, context=ctx, timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError as err:
                last = str(err)
            time.sleep(0.3)
        raise RuntimeError(f"kube-apiserver not ready after {timeout}s ({last}): {self.tail('apiserver.log')}")

    def tail(self, name: str, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join((self.dir / name).read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop_apiserver(self) -> None:
        _stop(self.apiserver)
        self.apiserver = None

    def close(self) -> None:
        _stop(self.apiserver)
        _stop(self.etcd)
        shutil.rmtree(self.dir, ignore_errors=True)

    # --- clients ---------------------------------------------------------------------------------------------------
    @property
    def ca_file(self) -> Path:
        return self.dir / "certs" / "apiserver.crt"

    def kubeconfig(self, user: str = "admin", path: Path | None = None) -> Path:
        path = path or self.dir / f"kubeconfig-{user}"
        doc = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "test", "cluster": {"server": self.url, "certificate-authority": str(self.ca_file)}}],
            "users": [{"name": user, "user": {"token": self.tokens[user]}}],
            "contexts": [{"name": user, "context": {"cluster": "test", "user": user}}],
            "current-context": user,
        }
        path.write_text(yaml.safe_dump(doc))
        os.chmod(path, 0o600)
        return path

    def client(self, user: str = "admin"):  # -> kubernetes.client.ApiClient
        from kubernetes import config

        return config.new_client_from_config(str(self.kubeconfig(user)))


def _stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@contextlib.contextmanager
def control_plane(users: dict[str, list[str]] | None = None, host: str = "127.0.0.1") -> Iterator[ControlPlane]:
    cp = ControlPlane(users, host)
    try:
        cp.start()
        yield cp
    finally:
        cp.close()
