# Copyright: bgplb developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Argument specs of the object modules: each object's fields with their basic Ansible types only.

Ranges, formats, required fields and references are checked by the speaker (`bgplbctl apply`), never here, so the
speaker's schema stays the only one.
"""

from __future__ import annotations

import copy

from ansible_collections.baremetal.bgplb.plugins.module_utils.bgplbctl import BGPLBCTL_ARGSPEC

STR = {"type": "str"}
INT = {"type": "int"}
BOOL = {"type": "bool"}
STR_LIST = {"type": "list", "elements": "str"}
SELECTORS = {"type": "list", "elements": "dict"}

FIELDS = {
    "pool": {
        "addresses": STR_LIST,
        "auto_assign": BOOL,
        "avoid_buggy_ips": BOOL,
        "labels": {"type": "dict"},
    },
    "community": {"value": STR},
    "advertisement": {
        "pools": STR_LIST,
        "pool_selectors": SELECTORS,
        "aggregation_length": INT,
        "aggregation_length_v6": INT,
        "local_pref": INT,
        "communities": STR_LIST,
        "large_communities": STR_LIST,
        "peers": STR_LIST,
        "node_selectors": SELECTORS,
    },
    "peer": {
        "address": STR,
        "asn": INT,
        "port": INT,
        "source_address": STR,
        "hold_time": INT,
        "keepalive_time": INT,
        "connect_time": INT,
        "password": {"type": "str", "no_log": True},
        "ebgp_multihop": {"type": "raw"},
        "ttl_security": BOOL,
        "passive": BOOL,
        "graceful_restart": BOOL,
        "restart_time": INT,
        "families": STR_LIST,
        "node_selectors": SELECTORS,
        "bfd": BOOL,
    },
    "service": {
        "address": STR_LIST,
        "pool": STR,
        "health_check": {"type": "dict"},
        "node_selectors": SELECTORS,
    },
}

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
