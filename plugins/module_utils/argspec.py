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

# the resource-module states (cisco.ios, arista.eos); present and absent are aliases of replaced and deleted
STATES = ["merged", "replaced", "overridden", "deleted", "gathered", "rendered", "parsed", "present", "absent"]
ALIASES = {"present": "replaced", "absent": "deleted"}
NEEDS_OBJECTS = ["merged", "replaced", "rendered", "present", "absent"]  # name or objects


def field_names(kind):
    return ["name", *FIELDS[kind]]


def argument_spec(kind):
    """Keyword arguments for AnsibleModule: the object's fields, `state`, `objects` (the same fields),
    `running_config` (for parsed), `wait`/`wait_timeout` and the bgplbctl options."""
    fields = copy.deepcopy(FIELDS[kind])
    objects = {"name": {"type": "str", "required": True}, **copy.deepcopy(fields)}
    spec = {
        "name": {"type": "str"},
        **fields,
        "state": {"type": "str", "choices": STATES, "default": "present"},
        "objects": {"type": "list", "elements": "dict", "options": objects},
        "running_config": {"type": "str"},
        "wait": {"type": "bool", "default": False},
        "wait_timeout": {"type": "int", "default": 120},
        **copy.deepcopy(BGPLBCTL_ARGSPEC),
    }
    return {
        "argument_spec": spec,
        "required_if": [
            ["state", "overridden", ["objects"]],
            ["state", "parsed", ["running_config"]],
            *(["state", state, ["name", "objects"], True] for state in NEEDS_OBJECTS),
        ],
        "mutually_exclusive": [["objects", f] for f in field_names(kind)]
        + [["running_config", "name"], ["running_config", "objects"]],
        "supports_check_mode": True,
    }
