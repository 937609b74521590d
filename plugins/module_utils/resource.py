# Copyright: bgplb developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The logic of the object modules (pool, advertisement, peer, service, community), shared by all five, with the
states of the resource-module collections (cisco.ios, arista.eos):

- `merged`: the options given are merged into the object on the node (fields left out keep their value; mappings
  such as `labels` or `health_check` are merged key by key, lists replaced); a missing object is created.
- `replaced` (alias `present`): the object is replaced as a whole; fields left out take the speaker's defaults.
- `overridden`: authoritative for the kind: apply every object of `objects`, then delete every other object of that
  kind, except the read-only ones defined inline in speaker.yaml (reported in `read_only`). Deletions are tried with
  `--dry-run` before anything is written, so a refused deletion or invalid input leaves everything untouched.
- `deleted` (alias `absent`): delete the named objects; `deleted` without `name`/`objects` deletes every object of
  the kind but the read-only ones (overridden with an empty list).
- `gathered`: the objects on the node (all, or the named ones) in module input shape; nothing written.
- `rendered`: the objects given as the text of a `bgplbctl apply -f` file; the node is not touched.
- `parsed`: `running_config` (an object file, a `bgplbctl apply -f` file or speaker.yaml) to module input.

Every write goes through `bgplbctl apply`/`delete` (`--dry-run` in check mode). `before`/`after` are the canonical
objects as bgplbctl reports them (secrets redacted); `changed` is bgplbctl's own verdict (a password-only change is
an `updated` action even though the redacted dicts are equal); `commands` lists what was (or would be) done.
With `wait`, the module returns once the speaker runs the configuration and every route to an established peer
is sent (module_utils/converge.py).
"""

from __future__ import annotations

import json

from ansible.module_utils.common.yaml import HAS_YAML, yaml_dump, yaml_load
from ansible_collections.baremetal.bgplb.plugins.module_utils.argspec import ALIASES, field_names
from ansible_collections.baremetal.bgplb.plugins.module_utils.bgplbctl import Bgplbctl, BgplbctlError
from ansible_collections.baremetal.bgplb.plugins.module_utils.converge import ConvergeError, converge
from ansible_collections.baremetal.bgplb.plugins.module_utils.diff import (
    by_name,
    drop_unset,
    merge,
    object_diff,
    redact,
    summary,
)

KIND_LISTS = {"peer": "peers", "pool": "pools", "community": "communities", "advertisement": "advertisements",
              "service": "services"}  # fmt: skip


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
        state = ALIASES.get(params["state"], params["state"])
        if state == "parsed":
            return {"changed": False, "parsed": self.parse(params["running_config"])}
        fields = field_names(self.kind)
        listed = params["objects"] is not None
        if listed:
            wanted = [drop_unset(o, fields) for o in params["objects"]]
        else:
            wanted = [drop_unset(params, fields)] if params["name"] is not None else []
        if state == "rendered":
            return {"changed": False, "rendered": self.render(wanted)}
        if self.ctl is None:
            self.ctl = Bgplbctl(self.module)
        if state == "gathered":
            names = {w["name"] for w in wanted}
            found = [o for o in self.ctl.get(self.kind) if not names or o["name"] in names]
            return {"changed": False, "gathered": redact(by_name(found))}
        if state == "overridden" or (state == "deleted" and not wanted):
            result = self.overridden(wanted if state == "overridden" else [])
        elif state == "merged":
            result = self.merged(wanted, listed)
        elif state == "replaced":
            result = self._result(self._apply(wanted), listed)
        else:
            result = self._result(self._delete([w["name"] for w in wanted]), listed)
        return self.finish(result)

    # --- states -----------------------------------------------------------------------------------------------------
    def merged(self, wanted, listed):
        current = {o["name"]: o for o in self.ctl.get(self.kind)}
        return self._result(self._apply([merge(current.get(w["name"], {}), w) for w in wanted]), listed)

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

    def render(self, wanted):
        docs = [{"kind": self.kind, **obj} for obj in wanted]
        return yaml_dump(docs, sort_keys=False, default_flow_style=False) if HAS_YAML else json.dumps(docs, indent=2)

    def parse(self, text):
        """Objects of this kind in `text`: one object (an object file), a list of them or of `{kind: ...}` mappings
        (a `bgplbctl apply -f` file; other kinds are left out), or speaker.yaml (its list of this kind)."""
        try:
            data = yaml_load(text) if HAS_YAML else json.loads(text)
        except Exception as err:  # the YAML/JSON libraries raise their own error types
            self.module.fail_json(msg=f"running_config is not YAML or JSON: {err}")
        if isinstance(data, dict) and (KIND_LISTS[self.kind] in data or "node" in data):
            data = data.get(KIND_LISTS[self.kind]) or []
        items = data if isinstance(data, list) else [data]
        if not all(isinstance(i, dict) and isinstance(i.get("name"), str) for i in items):
            self.module.fail_json(msg=f"running_config holds no {self.kind} objects (mappings with a name)")
        known = set(field_names(self.kind))
        out = []
        for item in items:
            if item.get("kind", self.kind) != self.kind:
                continue
            unknown = sorted(set(item) - known - {"kind"})
            if unknown:
                self.module.fail_json(msg=f"running_config: {self.kind} {item['name']}: {unknown[0]}: unknown field")
            out.append({k: v for k, v in item.items() if k != "kind"})
        return out

    # --- bgplbctl calls ---------------------------------------------------------------------------------------------
    def _apply(self, objects):
        if not objects:
            return []
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
            "commands": [
                f"{'delete' if c['action'] == 'deleted' else 'apply'} {c['kind']} {c['name']}" for c in changed
            ],
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
        params = self.module.params
        if params["wait"] and not self.check:
            if result["reload"] == "refused":
                raise ConvergeError(f"the speaker refused the configuration: {note}", result)
            result["wait"] = converge(self.ctl, params["wait_timeout"], result)
        return result


def run_object_module(module, kind):
    """Run one object module to its end: exit_json with the result, or fail_json with bgplbctl's messages."""
    try:
        result = ObjectResource(module, kind).execute()
    except BgplbctlError as err:
        module.fail_json(msg=str(err), errors=err.errors, rc=err.code)
    except ConvergeError as err:
        module.fail_json(msg=str(err), **err.result)
    module.exit_json(**result)
