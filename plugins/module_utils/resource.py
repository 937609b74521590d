# Copyright: bgplb developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The logic of the object modules (pool, advertisement, peer, service, community), shared by all five.

- `state: present`: `bgplbctl apply` the object made of the options the user set (the object is replaced as a
  whole: options left out take the speaker's defaults). In check mode `apply --dry-run` computes the same result
  and writes nothing.
- `state: absent`: `bgplbctl delete` (`--dry-run` in check mode).
- `state: overridden`: authoritative for the kind: apply every object of `objects`, then delete every other object
  of that kind, except the read-only ones defined inline in speaker.yaml (reported in `read_only`). Deletions are
  tried with `--dry-run` before anything is written, so a refused deletion (still referenced) or invalid input
  leaves the configuration untouched.

`before`/`after` are the canonical objects as bgplbctl reports them (passwords redacted); `changed` is bgplbctl's
own verdict (a password-only change is an `updated` action even though the redacted dicts are equal).
"""

from __future__ import annotations

from ansible_collections.baremetal.bgplb.plugins.module_utils.argspec import field_names
from ansible_collections.baremetal.bgplb.plugins.module_utils.bgplbctl import Bgplbctl, BgplbctlError
from ansible_collections.baremetal.bgplb.plugins.module_utils.diff import (
    by_name,
    drop_unset,
    object_diff,
    redact,
    summary,
)


class ObjectResource:
    def __init__(self, module, kind, ctl=None):
        self.module = module
        self.kind = kind
        self.ctl = ctl
        self.check = module.check_mode
        self.notes = []
        self.reloads = []

    # --- entry point ------------------------------------------------------------------------------------------------
    def execute(self):
        params = self.module.params
        if self.ctl is None:
            self.ctl = Bgplbctl(self.module)
        fields = field_names(self.kind)
        listed = params["objects"] is not None
        wanted = [drop_unset(o, fields) for o in params["objects"]] if listed else [drop_unset(params, fields)]
        state = params["state"]
        if state == "overridden":
            result = self.overridden(wanted)
        elif state == "present":
            result = self.present(wanted, listed)
        else:
            result = self.absent([w["name"] for w in wanted], listed)
        return self.finish(result)

    # --- states -----------------------------------------------------------------------------------------------------
    def present(self, wanted, listed):
        changes = self._apply(wanted)
        return self._result(changes, listed)

    def absent(self, names, listed):
        changes = self._delete(names)
        return self._result(changes, listed)

    def overridden(self, wanted):
        current = self.ctl.get(self.kind)
        keep = {w.get("name") for w in wanted}
        extra = [o["name"] for o in current if o["name"] not in keep]
        removable, read_only = [], []
        for name in extra:  # every deletion checked before anything is written
            try:
                self.ctl.delete(self.kind, name, dry_run=True)
                removable.append(name)
            except BgplbctlError as err:
                if not err.read_only:  # defined inline in speaker.yaml: left alone, reported
                    raise
                read_only.append(name)
        changes = self._apply(wanted) if wanted else []
        changes += self._delete(removable, checked=True)
        after = {o["name"]: o for o in current}
        for c in changes:
            if c["action"] == "deleted":
                after.pop(c["name"], None)
            else:
                after[c["name"]] = c["after"]
        if any(c["action"] != "unchanged" for c in changes) and not self.check:
            after = {o["name"]: o for o in self.ctl.get(self.kind)}  # as stored
        result = self._result(changes, listed=True)
        result.update(before=by_name(current), after=by_name(after.values()), read_only=read_only)
        return result

    # --- bgplbctl calls ---------------------------------------------------------------------------------------------
    def _apply(self, objects):
        result = self.ctl.apply(self.kind, objects, dry_run=self.check)
        self.notes.append(result.get("speaker"))
        self.reloads.append(result.get("reload"))
        return result["changes"]

    def _delete(self, names, checked=False):
        if len(names) > 1 and not checked and not self.check:
            for name in names:  # refused deletions fail before the first one is written
                self.ctl.delete(self.kind, name, dry_run=True)
        changes = []
        for name in names:
            result = self.ctl.delete(self.kind, name, dry_run=self.check)
            self.notes.append(result.get("speaker"))
            self.reloads.append(result.get("reload"))
            changes += result["changes"]
        return changes

    # --- result -----------------------------------------------------------------------------------------------------
    def _result(self, changes, listed):
        changed = [c for c in changes if c["action"] != "unchanged"]
        if listed:
            before = [c["before"] for c in changes if c["before"] is not None]
            after = [c["after"] for c in changes if c["after"] is not None]
            diff = [object_diff(c) for c in changed]
        else:
            (change,) = changes
            before, after, diff = change["before"], change["after"], object_diff(change)
        return {
            "changed": bool(changed),
            "before": before,
            "after": after,
            "diff": diff,
            "changes": [summary(c) for c in changes],
        }

    def finish(self, result):
        notes = [n for n in self.notes if n]
        note = notes[-1] if notes else None
        reloads = [r for r in self.reloads if r]
        result["speaker"] = note
        result["reload"] = reloads[-1] if reloads else None  # bgplbctl's typed field, never its message
        if result["reload"] == "refused":
            self.module.warn(note)
        for key in ("before", "after"):
            result[key] = redact(result[key])
        return result


def run_object_module(module, kind):
    """Run one object module to its end: exit_json with the result, or fail_json with bgplbctl's messages."""
    try:
        result = ObjectResource(module, kind).execute()
    except BgplbctlError as err:
        module.fail_json(msg=str(err), errors=err.errors, rc=err.code)
    module.exit_json(**result)
