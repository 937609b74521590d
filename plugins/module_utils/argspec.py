# Copyright: bgplb developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Argument specs of the object modules: each object's fields from the speaker's schema, `state`, `objects` and the
bgplbctl options.

The fields come from `object_fields.FIELDS`, generated from the speaker's declarations (bgplb.model.objects) by
scripts/generate-schema.py, with a test that it is current. Generated, not imported: the modules run on managed
nodes and are sent there without the speaker package, which the controller may not even have installed. The specs
carry the Ansible types, choices, `no_log` and typed sub-options (selectors, `health_check`, `bfd`); ranges,
formats, a kind's required fields and references are checked by the speaker (`bgplbctl apply`), never here.
"""

from __future__ import annotations

import copy

from ansible_collections.baremetal.bgplb.plugins.module_utils.bgplbctl import BGPLBCTL_ARGSPEC
from ansible_collections.baremetal.bgplb.plugins.module_utils.object_fields import FIELDS

__all__ = ["FIELDS", "argument_spec", "field_names"]

STATES = ["present", "absent", "overridden"]


def field_names(kind):
    return ["name", *FIELDS[kind]]


def argument_spec(kind):
    """Keyword arguments for AnsibleModule: the object's fields, `state`, `objects` (the same fields) and the
    bgplbctl options."""
    fields = copy.deepcopy(FIELDS[kind])
    objects = {"name": {"type": "str", "required": True}, **copy.deepcopy(fields)}
    spec = {
        "name": {"type": "str"},
        **fields,
        "state": {"type": "str", "choices": STATES, "default": "present"},
        "objects": {"type": "list", "elements": "dict", "options": objects},
        **copy.deepcopy(BGPLBCTL_ARGSPEC),
    }
    return {
        "argument_spec": spec,
        "required_one_of": [["name", "objects"]],
        "required_if": [["state", "overridden", ["objects"]]],
        "mutually_exclusive": [["objects", f] for f in field_names(kind)],
        "supports_check_mode": True,
    }
