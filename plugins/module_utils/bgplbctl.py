# Copyright: bgplb developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Running the node-side `bgplbctl` with JSON in and out.

The modules never validate objects themselves: they hand what the user set to `bgplbctl`, which is the one place
the schema lives, and report its answer. They read only bgplbctl's typed `--json` fields (speaker/docs/bgplbctl.md):
on failure `{"ok": false, "code": CODE, "errors": [...]}` with CODE one of ERROR_CODES; after `apply`/`delete`
`reload`, one of RELOAD_STATES or null. The English messages are shown to the user, never parsed.
"""

from __future__ import annotations

import json
import os

EXIT_FAILURE = 1
EXIT_INVALID = 2
EXIT_UNREACHABLE = 3

# bgplbctl --json `code` of a failure, and `reload` after a write (the same tuples as bgplb.ctl)
ERROR_CODES = ("invalid", "read_only", "in_use", "unreachable", "busy", "not_found", "failed")
RELOAD_STATES = ("applied", "deferred", "refused")

NOT_FOUND = "bgplbctl not found at {0}: install the speaker with the baremetal.bgplb.speaker role"

BGPLBCTL_ARGSPEC = {
    "bgplbctl": {"type": "str", "default": "bgplbctl"},
    "config_dir": {"type": "path", "default": "/etc/bgplb"},
    "socket": {"type": "path", "default": "/run/bgplb/api.sock"},
}


class BgplbctlError(Exception):
    """bgplbctl refused or failed; `errors` are its own messages (they name the object and the field), `code` its
    exit code and `kind` its typed `code` (one of ERROR_CODES; `failed` when it printed no JSON)."""

    def __init__(self, errors, code=EXIT_FAILURE, kind="failed"):
        self.errors = list(errors)
        self.code = code
        self.kind = kind if kind in ERROR_CODES else "failed"
        super().__init__("; ".join(self.errors))

    @property
    def invalid(self):
        return self.kind in ("invalid", "read_only", "in_use")

    @property
    def read_only(self):
        return self.kind == "read_only"

    @property
    def unreachable(self):
        return self.kind == "unreachable"


def find_bgplbctl(module, name):
    """The full path of bgplbctl: `name` itself if it is a path, else looked up in PATH."""
    if os.sep in name:
        if os.path.isfile(name) and os.access(name, os.X_OK):
            return name
        raise BgplbctlError([NOT_FOUND.format(name)])
    path = module.get_bin_path(name)
    if not path:
        raise BgplbctlError([NOT_FOUND.format(name + " (searched PATH)")])
    return path


class Bgplbctl:
    """One bgplbctl binary with the module's `config_dir` and `socket`."""

    def __init__(self, module):
        self.module = module
        self.path = find_bgplbctl(module, module.params["bgplbctl"])

    def run(self, *args, data=None):
        """Run `bgplbctl --json ARGS`, feed `data` as JSON on stdin; return the parsed result or raise."""
        params = self.module.params
        cmd = [self.path, "--config-dir", params["config_dir"], "--socket", params["socket"], "--json", *args]
        stdin = None if data is None else json.dumps(data)
        rc, out, err = self.module.run_command(cmd, data=stdin, check_rc=False)
        try:
            result = json.loads(out)
        except ValueError:
            detail = (err or out or "").strip() or "no output"
            raise BgplbctlError([f"bgplbctl {args[0]} failed (exit {rc}): {detail}"], rc or EXIT_FAILURE) from None
        if rc != 0 or not isinstance(result, dict) or not result.get("ok"):
            errors = result.get("errors") if isinstance(result, dict) else None
            kind = result.get("code") if isinstance(result, dict) else None
            raise BgplbctlError(errors or [f"bgplbctl {args[0]} failed (exit {rc})"], rc or EXIT_FAILURE, kind)
        return result

    def apply(self, kind, objects, dry_run=False):
        docs = [{"kind": kind, **obj} for obj in objects]
        return self.run("apply", "-f", "-", *(["--dry-run"] if dry_run else []), data=docs)

    def delete(self, kind, name, dry_run=False):
        return self.run("delete", kind, name, *(["--dry-run"] if dry_run else []))

    def get(self, kind):
        return self.run("get", kind)["items"]

    def status(self):
        return self.run("status")

    def routes(self):
        return self.run("routes")["peers"]

    def validate(self):
        return self.run("validate")
