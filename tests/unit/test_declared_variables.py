"""Every bgplb_* variable the playbooks read is declared (issue 12 #2): in docs/inventory.md, in a role's
meta/argument_specs.yml, or by the playbooks themselves (play or task vars, register, set_fact)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
NAME = re.compile(r"\bbgplb_[a-z0-9_]+\b")


def _defined_in_playbooks(node, out):
    if isinstance(node, dict):
        for key in ("vars", "ansible.builtin.set_fact", "set_fact"):
            if isinstance(node.get(key), dict):
                out.update(k for k in node[key] if isinstance(k, str))
        if isinstance(node.get("register"), str):
            out.add(node["register"])
        for value in node.values():
            _defined_in_playbooks(value, out)
    elif isinstance(node, list):
        for value in node:
            _defined_in_playbooks(value, out)


def test_playbook_variables_are_declared():
    files = sorted((ROOT / "playbooks").rglob("*.yml"))
    used, defined = set(), set()
    for f in files:
        text = f.read_text()
        used |= set(NAME.findall(re.sub(r"(?m)^\s*#.*$", "", text)))
        _defined_in_playbooks(yaml.safe_load(text), defined)
    declared = set(NAME.findall((ROOT / "docs" / "inventory.md").read_text()))
    for spec in ROOT.glob("roles/*/meta/argument_specs.yml"):
        for entry in yaml.safe_load(spec.read_text())["argument_specs"].values():
            declared |= set(entry.get("options", {}))
    filters = {"bgplb_bgp_hosts", "bgplb_handback_hosts", "bgplb_pool_cidrs", "bgplb_prefix_rules", "bgplb_ip_version"}
    private = {v for v in used if "__" in v}
    missing = sorted(used - defined - declared - filters - private)
    assert missing == [], f"read by playbooks/ but declared nowhere: {missing}"
