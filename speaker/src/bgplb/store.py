"""The config directory: `speaker.yaml` (the node, and optionally objects inline) and one file per object in
`objects/<kind>/<name>.yaml`, written atomically (temp file, fsync, rename) and only after the whole resulting
configuration validated. Objects defined inline in speaker.yaml are read-only for `bgplbctl`."""

from __future__ import annotations

import dataclasses
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bgplb import model
from bgplb.model.addresses import assign

SPEAKER_FILE = "speaker.yaml"
OBJECTS_DIR = "objects"


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


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.load(path.read_text(), Loader=_Loader)
    except yaml.YAMLError as err:
        raise model.ValidationError([f"{path}: not valid YAML: {yaml_problem(err)}"]) from None


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


class Store:
    def __init__(self, root: Path, speaker_file: str = SPEAKER_FILE) -> None:
        self.root = Path(root)
        self.speaker_file = speaker_file
        # Parsed object files by (path, inode, mtime, size): a reload re-reads only files that changed.
        self._parsed: dict[Path, tuple[tuple[int, int, int], Any]] = {}

    # --- reading ---------------------------------------------------------------------------------------------------
    def _speaker(self) -> tuple[model.Node, dict[str, list[Any]]]:
        path = self.root / self.speaker_file
        if not path.exists():
            raise model.ValidationError([f"{path}: missing (it must define at least `node`)"])
        data = _read_yaml(path)
        if not isinstance(data, dict) or "node" not in data:
            raise model.ValidationError([f"{path}: must be a mapping with a `node` entry"])
        unknown = sorted(set(data) - {"node", *model.KIND_FIELDS.values()})
        if unknown:
            raise model.ValidationError([f"{path}: {unknown[0]}: unknown field"])
        errors: list[str] = []
        try:
            node = model.parse_node(data["node"])
        except model.ObjectError as err:
            raise model.ValidationError([f"{path}: {err}"]) from None
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
        return node, inline

    def _object_files(self) -> list[tuple[str, Path]]:
        out = []
        for kind in model.KINDS:
            folder = self.root / OBJECTS_DIR / kind
            if folder.is_dir():
                out += [(kind, p) for p in sorted(folder.glob("*.yaml"))]
        return out

    def _read_object(self, kind: str, path: Path) -> Any:
        st = path.stat()
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        cached = self._parsed.get(path)
        if cached and cached[0] == key:
            return cached[1]
        obj = model.parse_object(kind, _read_yaml(path))
        if obj.name != path.stem:
            raise model.ObjectError(f"{kind} {obj.name}: name does not match its file name {path.name}")
        self._parsed[path] = (key, obj)
        return obj

    def _load(self, lenient: bool) -> tuple[model.Config, list[str]]:
        node, inline = self._speaker()
        objects = {kind: list(inline.get(kind, [])) for kind in model.KINDS}
        errors: list[str] = []
        files = self._object_files()
        for kind, path in files:
            try:
                objects[kind].append(self._read_object(kind, path))
            except (model.ObjectError, model.ValidationError) as err:
                errors.append(f"{path}: {err}")
            except FileNotFoundError:
                continue  # deleted while we read
        live = {path for _, path in files}
        for gone in [p for p in self._parsed if p not in live]:
            del self._parsed[gone]
        if errors and not lenient:
            raise model.ValidationError(errors)
        config = model.Config(node, **{model.KIND_FIELDS[k]: tuple(v) for k, v in objects.items()})
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
        """Create or update objects. Everything is validated together first; on any error nothing is written."""
        config = self.load()
        _, inline = self._speaker()
        inline_names = {(k, o.name) for k, objs in inline.items() for o in objs}
        current = {kind: dict(config.by_name(kind)) for kind in model.KINDS}
        errors: list[str] = []
        wanted: list[tuple[str, Any]] = []
        for kind, data in documents:
            try:
                obj = model.parse_object(kind, data)
            except model.ObjectError as err:
                errors.append(str(err))
                continue
            if (kind, obj.name) in inline_names:
                errors.append(f"{kind} {obj.name}: defined in {self.speaker_file}; edit that file instead")
                continue
            if kind == "peer" and obj.password == model.REDACTED:
                # The placeholder `get` prints: keep the stored password, so get -> edit -> apply round-trips.
                old = current["peer"].get(obj.name)
                if old is None or old.password is None:
                    errors.append(f"peer {obj.name}: password: {model.REDACTED} is the placeholder `bgplbctl get` "
                                  "prints; give the password itself")  # fmt: skip
                    continue
                obj = dataclasses.replace(obj, password=old.password)
            wanted.append((kind, obj))
            current[kind][obj.name] = obj
        if errors:
            raise model.ValidationError(errors)
        taken = {a for s in current["service"].values() for a in s.address}
        for i, (kind, obj) in enumerate(wanted):
            if kind == "service" and obj.pool and not obj.address:
                obj = self._with_address(config, current, obj, taken)
                wanted[i] = (kind, obj)
                current[kind][obj.name] = obj
        new = dataclasses.replace(config, **{model.KIND_FIELDS[k]: tuple(v.values()) for k, v in current.items()})
        model.validate_config(new)
        changes = []
        written: set[Path] = set()
        for kind, obj in wanted:
            old = config.by_name(kind).get(obj.name)
            # Compare every field: dataclass equality skips those that do not touch the session (Peer.bfd, ...).
            same = old is not None and model.to_dict(old, redact=False) == model.to_dict(obj, redact=False)
            action = "created" if old is None else ("unchanged" if same else "updated")
            changes.append(Change(kind, obj.name, action, _view(old), _view(obj)))
            if action != "unchanged" and not dry_run:
                path = self._path(kind, obj.name)
                text = yaml.dump(model.to_dict(obj, redact=False), Dumper=_Dumper, sort_keys=False)
                write_atomic(path, text, durable_rename=False)
                written.add(path.parent)
        for directory in written:
            sync_dir(directory)
        return changes

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
        """Remove one object; refused (nothing written) if others still refer to it."""
        config = self.load()
        if kind not in model.KINDS:
            raise model.ValidationError([f"unknown kind {kind!r} (known: {', '.join(model.KINDS)})"])
        old = config.by_name(kind).get(name)
        if old is None:
            return Change(kind, name, "unchanged", None, None)
        path = self._path(kind, name)
        if not path.exists():
            raise model.ValidationError([f"{kind} {name}: defined in {self.speaker_file}; edit that file instead"])
        remaining = tuple(o for o in getattr(config, model.KIND_FIELDS[kind]) if o.name != name)
        model.validate_config(dataclasses.replace(config, **{model.KIND_FIELDS[kind]: remaining}))
        if not dry_run:
            path.unlink()
        return Change(kind, name, "deleted", _view(old), None)


def _view(obj: Any) -> dict[str, Any] | None:
    return None if obj is None else model.to_dict(obj)
