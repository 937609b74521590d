# Copyright: bgplb developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Before/after helpers: redaction and Ansible `diff` dicts built from bgplbctl's canonical objects."""

from __future__ import annotations

from ansible_collections.baremetal.bgplb.plugins.module_utils.object_fields import FIELDS

REDACTED = "********"


def _secrets(options):
    for key, option in options.items():
        if option.get("no_log"):
            yield key
        yield from _secrets(option.get("options", {}))


SECRET_KEYS = frozenset(key for options in FIELDS.values() for key in _secrets(options))  # password, BFD auth_key


def redact(value):
    """A copy of `value` with every secret field replaced by `********` (bgplbctl already does; this makes sure)."""
    if isinstance(value, dict):
        return {k: (REDACTED if k in SECRET_KEYS and v is not None else redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def _set(value):
    """`value` without the sub-options left unset (Ansible fills them with None)."""
    if isinstance(value, dict):
        return {k: _set(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_set(v) for v in value]
    return value


def drop_unset(params, fields):
    """Only the fields the user set (not None, at any depth), so the speaker's defaults apply to the others."""
    return {k: _set(params[k]) for k in fields if params.get(k) is not None}


def merge(current, given):
    """`given` merged into `current` (state merged): mappings key by key, everything else (lists too) replaced."""
    out = dict(current)
    for key, value in given.items():
        old = out.get(key)
        out[key] = merge(old, value) if isinstance(value, dict) and isinstance(old, dict) else value
    return out


def label(change):
    return f"{change['kind']}/{change['name']}"


def object_diff(change):
    """An Ansible diff for one bgplbctl change (`created`, `updated`, `deleted`, `unchanged`)."""
    before, after = redact(change.get("before")), redact(change.get("after"))
    header = label(change)
    after_header = header
    if change["action"] == "updated" and before == after:
        after_header = header + " (password changed)"  # the only field bgplbctl hides
    return {
        "before": before if before is not None else {},
        "after": after if after is not None else {},
        "before_header": header if before is not None else "(absent)",
        "after_header": after_header if after is not None else "(absent)",
    }


def summary(change):
    return {"kind": change["kind"], "name": change["name"], "action": change["action"]}


def by_name(objects):
    return sorted(objects, key=lambda o: o["name"])
