# Copyright: bgplb developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Fact gathering for speaker_info: `bgplbctl --json status` and `routes`, read-only."""

from __future__ import annotations

from ansible_collections.baremetal.bgplb.plugins.module_utils.bgplbctl import Bgplbctl, BgplbctlError

SESSION_FIELDS = ("name", "address", "asn", "state", "uptime", "prefixes_sent", "prefixes_desired",
                  "established_count", "last_error")  # fmt: skip


def session(peer, routes):
    out = {k: peer.get(k) for k in SESSION_FIELDS}
    out["established"] = peer.get("state") == "Established"
    out["advertised"] = [r["prefix"] for r in routes.get(peer.get("name"), []) if r.get("sent")]
    out["pending"] = [r["prefix"] for r in routes.get(peer.get("name"), []) if not r.get("sent")]
    return out


def gather(ctl):
    """The speaker's state; `running: false` (not a failure) when it does not answer on its socket."""
    try:
        status = ctl.status()
        routes = ctl.routes()
    except BgplbctlError as err:
        if not err.unreachable:
            raise
        return {"running": False, "msg": str(err), "config_errors": offline_errors(ctl), "sessions": [],
                "routes": {}, "drain": None, "draining": False, "node": None, "services": {}}  # fmt: skip
    drain = status.get("drain")
    return {
        "running": True,
        "node": status.get("node"),
        "sessions": [session(p, routes) for p in status.get("peers", [])],
        "routes": routes,
        "drain": drain,
        "draining": bool(drain),
        "config_errors": status.get("config_errors", []),
        "services": status.get("services", {}),
    }


def offline_errors(ctl):
    """With the speaker down, what `bgplbctl validate` finds wrong in the config directory."""
    try:
        ctl.validate()
    except BgplbctlError as err:
        return err.errors
    return []


def run_info_module(module):
    try:
        facts = gather(Bgplbctl(module))
    except BgplbctlError as err:
        module.fail_json(msg=str(err), errors=err.errors, rc=err.code)
    module.exit_json(changed=False, **facts)
