"""The config directory: `speaker.yaml` (the node, and optionally objects inline) and one file per object in
`objects/<kind>/<name>.yaml`, written atomically (temp file, fsync, rename) and only after the whole resulting
configuration validated. Objects defined inline in speaker.yaml are read-only for `bgplbctl`.

Writers (`apply`, `delete`) hold an exclusive `flock` on the config directory itself from load to the last rename,
so of two concurrent conflicting applies exactly one wins; readers hold it shared (a directory opened read-only can
be locked: the daemon's view of it is read-only), so they never see half of an apply. An apply of several files is
committed by a journal: every new file is first written complete and synced beside its target, then the list of
renames is written atomically to `.bgplb-journal.json` (the commit point), then the renames are done and the journal
removed. A writer killed after the commit point leaves the journal; the next reader uses the pending files and the
next writer finishes the renames. Killed before it, only pending files are left, which are ignored and removed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bgplb import model
from bgplb.model.addresses import assign
from bgplb.model.kubernetes import KubernetesSettings, parse_kubernetes

SPEAKER_FILE = "speaker.yaml"
OBJECTS_DIR = "objects"
JOURNAL_FILE = ".bgplb-journal.json"
PENDING = ".pending"  # suffix of the files an apply writes before its commit point


@dataclass(frozen=True)
class Change:
    kind: str
    name: str
    action: str  # created, updated, unchanged, deleted
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def yaml_problem(err: yaml.YAMLError) -> str:
    """A YAML error without the source line PyYAML quotes (it may be a peer's password)."""
    if isinstance(err, yaml.MarkedYAMLError):
        mark = err.problem_mark or err.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        return ": ".join(filter(None, [err.context, err.problem])) + where
    return str(err)


# libyaml's loader when PyYAML has it (3-5x faster on big directories); same safe subset either way.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def parse_yaml(data: bytes, source: str, *, many: bool = False) -> Any:
    """YAML (or JSON) from bytes; anything unusable (not UTF-8, a 5,000-digit integer, nesting deeper than Python
    recurses) is a ValidationError naming `source`, never another exception."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise model.ValidationError([f"{source}: not UTF-8 text (byte {err.start})"]) from None
    try:
        if many:
            return [d for d in yaml.load_all(text, Loader=_Loader) if d is not None]
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as err:
        raise model.ValidationError([f"{source}: not valid YAML: {yaml_problem(err)}"]) from None
    except RecursionError:
        raise model.ValidationError([f"{source}: nested too deeply"]) from None
    except (ValueError, TypeError, OverflowError) as err:  # e.g. an integer of more than 4,300 digits
        raise model.ValidationError([f"{source}: unusable value: {str(err)[:200]}"]) from None


def _read_yaml(path: Path, real: Path | None = None) -> Any:
    """The YAML of `real` (default `path`), errors naming `path`; a directory or unreadable file is an error too."""
    try:
        data = (real or path).read_bytes()
    except FileNotFoundError:
        raise
    except IsADirectoryError:
        raise model.ValidationError([f"{path}: is a directory, not an object file"]) from None
    except OSError as err:
        raise model.ValidationError([f"{path}: cannot read: {err.strerror or err}"]) from None
    return parse_yaml(data, str(path))


def sync_dir(path: Path) -> None:
    """Make renames in `path` durable."""
    dir_fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_atomic(path: Path, text: str, mode: int = 0o600, *, durable_rename: bool = True) -> None:
    """Write `text` to a temp file beside `path`, fsync it and rename it over `path`. With `durable_rename` the
    directory is synced too; a caller writing many files passes False and calls `sync_dir` once at the end."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if durable_rename:
        sync_dir(path.parent)


class ReadOnlyError(model.ValidationError):
    """A change to an object defined inline in speaker.yaml, which bgplbctl may not write (bgplbctl code read_only)."""


class InUseError(model.ValidationError):
    """A deletion refused because other objects still refer to the object (bgplbctl code in_use)."""


class Store:
    def __init__(self, root: Path, speaker_file: str = SPEAKER_FILE) -> None:
        self.root = Path(root)
        self.speaker_file = speaker_file
        # Parsed object files by (path, inode, mtime, size): a reload re-reads only files that changed.
        self._parsed: dict[Path, tuple[tuple[int, int, int], Any]] = {}
        self._lock_depth = 0
        self._pending: dict[Path, Path] = {}  # target -> committed pending file, while a journal is unfinished

    # --- locking and the journal -----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self, exclusive: bool) -> Iterator[None]:
        """flock on the config directory (no lock file to create: works where the directory is read-only); nested
        use is a no-op."""
        if self._lock_depth:
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
            return
        try:
            fd: int | None = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        except FileNotFoundError:
            fd = None  # no directory: loading reports the missing speaker.yaml
        try:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            self._lock_depth = 1
            yield
        finally:
            self._lock_depth = 0
            if fd is not None:
                os.close(fd)  # releases the lock

    def _read_journal(self) -> list[tuple[Path, Path]]:
        """The committed renames (pending file, target) of an unfinished apply; [] if none."""
        try:
            data = json.loads((self.root / JOURNAL_FILE).read_bytes())
        except FileNotFoundError:
            return []
        except ValueError:
            return []  # never half-written (atomic), so this is damage: the apply it describes did not commit
        out = []
        objects = (self.root / OBJECTS_DIR).resolve()
        for item in data.get("renames", []) if isinstance(data, dict) else []:
            src, dst = (Path(self.root, x) for x in item)
            # only files under objects/ (a damaged journal must not rename anything else)
            if objects in src.resolve().parents and objects in dst.resolve().parents:
                out.append((src, dst))
        return out

    def _recover(self) -> None:
        """Under the exclusive lock: finish a committed apply (renames) and remove pending files of uncommitted ones."""
        journal = self._read_journal()
        for src, dst in journal:
            if src.exists():
                os.replace(src, dst)
        for folder in {dst.parent for _, dst in journal}:
            sync_dir(folder)
        (self.root / JOURNAL_FILE).unlink(missing_ok=True)
        for kind in model.KINDS:
            folder = self.root / OBJECTS_DIR / kind
            if folder.is_dir():
                for stale in folder.glob(f".*{PENDING}"):
                    stale.unlink(missing_ok=True)

    # --- reading ---------------------------------------------------------------------------------------------------
    def _speaker(self) -> tuple[model.Node, dict[str, list[Any]], KubernetesSettings | None]:
        path = self.root / self.speaker_file
        if not path.exists():
            raise model.ValidationError([f"{path}: missing (it must define at least `node`)"])
        data = _read_yaml(path)
        if not isinstance(data, dict) or "node" not in data:
            raise model.ValidationError([f"{path}: must be a mapping with a `node` entry"])
        unknown = sorted(set(data) - {"node", "kubernetes", *model.KIND_FIELDS.values()})
        if unknown:
            raise model.ValidationError([f"{path}: {unknown[0]}: unknown field"])
        errors: list[str] = []
        try:
            node = model.parse_node(data["node"])
        except model.ObjectError as err:
            raise model.ValidationError([f"{path}: {err}"]) from None
        kube = None
        if "kubernetes" in data:
            try:
                kube = parse_kubernetes(data["kubernetes"])
            except model.ObjectError as err:
                errors.append(f"{path}: {err}")
        inline: dict[str, list[Any]] = {}
        for kind, attr in model.KIND_FIELDS.items():
            items = data.get(attr) or []
            if not isinstance(items, list):
                errors.append(f"{path}: {attr}: expected a list")
                continue
            for item in items:
                try:
                    inline.setdefault(kind, []).append(model.parse_object(kind, item))
                except model.ObjectError as err:
                    errors.append(f"{path}: {err}")
        if errors:
            raise model.ValidationError(errors)
        return node, inline, kube

    def _object_files(self) -> list[tuple[str, Path]]:
        out = []
        for kind in model.KINDS:
            folder = self.root / OBJECTS_DIR / kind
            if folder.is_dir():
                out += [(kind, p) for p in sorted(folder.glob("*.yaml"))]
        return out

    def _read_object(self, kind: str, path: Path) -> Any:
        real = self._pending.get(path, path)
        st = real.stat()
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        cached = self._parsed.get(path)
        if cached and cached[0] == key:
            return cached[1]
        obj = model.parse_object(kind, _read_yaml(path, real))
        if obj.name != path.stem:
            raise model.ObjectError(f"{kind} {obj.name}: name does not match its file name {path.name}")
        self._parsed[path] = (key, obj)
        return obj

    def _load(self, lenient: bool) -> tuple[model.Config, list[str]]:
        with self._locked(exclusive=False):
            # a committed but unfinished apply (its writer was killed): read its pending files in place of the old
            self._pending = {dst: src for src, dst in self._read_journal() if src.exists()}
            try:
                return self._load_locked(lenient)
            finally:
                self._pending = {}

    def _load_locked(self, lenient: bool) -> tuple[model.Config, list[str]]:
        node, inline, kube = self._speaker()
        objects = {kind: list(inline.get(kind, [])) for kind in model.KINDS}
        errors: list[str] = []
        files = sorted(set(self._object_files()) | {(p.parent.name, p) for p in self._pending})
        for kind, path in files:
            try:
                objects[kind].append(self._read_object(kind, path))
            except model.ValidationError as err:
                errors += err.errors
            except model.ObjectError as err:
                errors.append(f"{path}: {err}")
            except FileNotFoundError:
                continue  # deleted while we read
        live = {path for _, path in files}
        for gone in [p for p in self._parsed if p not in live]:
            del self._parsed[gone]
        if errors and not lenient:
            raise model.ValidationError(errors)
        config = model.Config(node, **{model.KIND_FIELDS[k]: tuple(v) for k, v in objects.items()}, kubernetes=kube)
        model.validate_config(config)
        return config, errors

    def load(self) -> model.Config:
        """The whole configuration; ValidationError listing every problem with its file."""
        return self._load(lenient=False)[0]

    def load_lenient(self) -> tuple[model.Config, list[str]]:
        """Like `load`, but object files that are invalid on their own are skipped and reported.

        A configuration that is inconsistent across objects (which `bgplbctl` never writes, so someone edited files
        by hand) still raises: the daemon then keeps running what it had.
        """
        return self._load(lenient=True)

    def fingerprint(self) -> tuple[tuple[str, int, int], ...]:
        """Changes whenever a file is added, removed or rewritten."""
        paths = [self.root / self.speaker_file] + [p for _, p in self._object_files()]
        out = []
        for p in paths:
            try:
                st = p.stat()
            except FileNotFoundError:
                continue
            out.append((str(p), st.st_mtime_ns, st.st_size))
        return tuple(out)

    def get(self, kind: str, name: str | None = None) -> list[Any]:
        if kind not in model.KINDS:
            raise model.ValidationError([f"unknown kind {kind!r} (known: {', '.join(model.KINDS)})"])
        objects = list(self.load().by_name(kind).values())
        return [o for o in objects if name is None or o.name == name]

    # --- writing ---------------------------------------------------------------------------------------------------
    def _path(self, kind: str, name: str) -> Path:
        return self.root / OBJECTS_DIR / kind / f"{name}.yaml"

    def apply(self, documents: list[tuple[str, Any]], *, dry_run: bool = False) -> list[Change]:
        """Create or update objects. Everything is validated together first; on any error nothing is written. Holds
        the directory's exclusive lock throughout, and commits several files all at once (see the module doc)."""
        with self._locked(exclusive=True):
            self._recover()
            return self._apply(documents, dry_run)

    def _apply(self, documents: list[tuple[str, Any]], dry_run: bool) -> list[Change]:
        config = self.load()
        _, inline, _ = self._speaker()
        inline_names = {(k, o.name) for k, objs in inline.items() for o in objs}
        current: dict[str, dict[str, Any]] = {kind: dict(config.by_name(kind)) for kind in model.KINDS}
        errors: list[str] = []
        read_only: list[str] = []
        wanted: list[tuple[str, Any]] = []
        for kind, data in documents:
            try:
                obj = model.parse_object(kind, data)
            except model.ObjectError as err:
                errors.append(str(err))
                continue
            if (kind, obj.name) in inline_names:
                read_only.append(f"{kind} {obj.name}: defined in {self.speaker_file}; edit that file instead")
                continue
            if kind == "peer" and obj.password == model.REDACTED:
                # The placeholder `get` prints: keep the stored password, so get -> edit -> apply round-trips.
                old = current["peer"].get(obj.name)
                if old is None or old.password is None:
                    errors.append(f"peer {obj.name}: password: {model.REDACTED} is the placeholder `bgplbctl get` "
                                  "prints; give the password itself")  # fmt: skip
                    continue
                obj = dataclasses.replace(obj, password=old.password)
            if kind == "peer" and obj.bfd is not None and obj.bfd.auth_key == model.REDACTED:
                old = current["peer"].get(obj.name)
                if old is None or old.bfd is None or old.bfd.auth_key is None:
                    errors.append(f"peer {obj.name}: bfd.auth_key: {model.REDACTED} is the placeholder `bgplbctl get` "
                                  "prints; give the key itself")  # fmt: skip
                    continue
                obj = dataclasses.replace(obj, bfd=dataclasses.replace(obj.bfd, auth_key=old.bfd.auth_key))
            wanted.append((kind, obj))
            current[kind][obj.name] = obj
        if errors or read_only:
            raise (model.ValidationError if errors else ReadOnlyError)(errors + read_only)
        taken = {a for s in current["service"].values() for a in s.address}
        for i, (kind, obj) in enumerate(wanted):
            if kind == "service" and obj.pool and not obj.address:
                obj = self._with_address(config, current, obj, taken)
                wanted[i] = (kind, obj)
                current[kind][obj.name] = obj
        fields: dict[str, Any] = {model.KIND_FIELDS[k]: tuple(v.values()) for k, v in current.items()}
        new = dataclasses.replace(config, **fields)
        model.validate_config(new)
        changes = []
        files: dict[Path, str] = {}
        for kind, obj in wanted:
            old = config.by_name(kind).get(obj.name)
            # Compare every field: dataclass equality skips those that do not touch the session (Peer.bfd, ...).
            same = old is not None and model.to_dict(old, redact=False) == model.to_dict(obj, redact=False)
            action = "created" if old is None else ("unchanged" if same else "updated")
            changes.append(Change(kind, obj.name, action, _view(old), _view(obj)))
            if action != "unchanged":
                files[self._path(kind, obj.name)] = yaml.dump(
                    model.to_dict(obj, redact=False), Dumper=_Dumper, sort_keys=False
                )
        if files and not dry_run:
            self._commit(files)
        return changes

    def _commit(self, files: dict[Path, str]) -> None:
        """Write `files` all or nothing. One file: temp file and rename. Several: pending files, then the journal
        (the commit point), then the renames. On an error before the commit point (a full disk) nothing changed."""
        if len(files) == 1:
            ((path, text),) = files.items()
            write_atomic(path, text)
            return
        renames: list[tuple[Path, Path]] = []
        try:
            for path, text in files.items():
                path.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=PENDING)
                renames.append((Path(tmp), path))
                with os.fdopen(fd, "w") as f:
                    f.write(text)
                    f.flush()
                    os.fsync(f.fileno())
                os.chmod(tmp, 0o600)
            for folder in {p.parent for p in files}:
                sync_dir(folder)
            journal = {"renames": [[str(s.relative_to(self.root)), str(d.relative_to(self.root))] for s, d in renames]}
            write_atomic(self.root / JOURNAL_FILE, json.dumps(journal))
        except BaseException:
            for pending, _ in renames:
                pending.unlink(missing_ok=True)
            raise
        self._recover()

    def _with_address(self, config: model.Config, current: dict[str, dict[str, Any]], svc: Any, taken: set[str]) -> Any:
        """A pool service keeps the address it was given before; a new one gets the pool's best free address."""
        old = config.by_name("service").get(svc.name)
        if old is not None and old.pool == svc.pool and old.address:
            return dataclasses.replace(svc, address=old.address)
        pool = current["pool"].get(svc.pool)
        if pool is None or not pool.auto_assign:
            return svc  # validation reports the unknown pool, or that the pool only gives addresses on request
        address = assign(pool, svc.name, taken)
        if address is None:
            raise model.ValidationError([f"service {svc.name}: pool: pool {svc.pool} has no free address"])
        taken.add(address)
        return dataclasses.replace(svc, address=(address,))

    def delete(self, kind: str, name: str, *, dry_run: bool = False) -> Change:
        """Remove one object; refused (nothing written) if others still refer to it. Under the exclusive lock."""
        with self._locked(exclusive=True):
            self._recover()
            return self._delete(kind, name, dry_run)

    def _delete(self, kind: str, name: str, dry_run: bool) -> Change:
        config = self.load()
        if kind not in model.KINDS:
            raise model.ValidationError([f"unknown kind {kind!r} (known: {', '.join(model.KINDS)})"])
        old = config.by_name(kind).get(name)
        if old is None:
            return Change(kind, name, "unchanged", None, None)
        path = self._path(kind, name)
        if not path.exists():
            raise ReadOnlyError([f"{kind} {name}: defined in {self.speaker_file}; edit that file instead"])
        remaining = tuple(o for o in getattr(config, model.KIND_FIELDS[kind]) if o.name != name)
        try:
            rest: dict[str, Any] = {model.KIND_FIELDS[kind]: remaining}
            model.validate_config(dataclasses.replace(config, **rest))
        except model.ValidationError as err:  # the directory was valid: what breaks is a reference to this object
            raise InUseError(err.errors) from None
        if not dry_run:
            path.unlink()
            sync_dir(path.parent)
        return Change(kind, name, "deleted", _view(old), None)


def _view(obj: Any) -> dict[str, Any] | None:
    return None if obj is None else model.to_dict(obj)
