#!/usr/bin/python
# Copyright: bgplb developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: drain
short_description: Drain a bgplb node for maintenance, or bring it back, without breaking its connections
version_added: 0.2.0
description:
  - With O(state=drained) the node's speaker announces its routes with GRACEFUL_SHUTDOWN (RFC 8326; the router role
    gives them LOCAL_PREF 0, so the routers stop sending new flows to the node at once), withdraws them after
    O(gshut_wait) seconds and keeps them withdrawn, also across restarts (C(bgplbctl drain)). With O(wait) the module
    then waits until the node has no live connection on a service IP (hand-back aware, see O(handback)) and the
    routes are withdrawn.
  - With O(state=undrained) the speaker announces normally again (C(bgplbctl undrain)). With O(wait) and hand-back,
    the module waits until the node hands on no flow any more (flows the routers moved to it that belong to other
    nodes).
  - Runs on the node itself. The hand-back routes on the B(other) nodes (where they hand packets to) are set by
    the C(baremetal.bgplb.drain) and C(baremetal.bgplb.undrain) playbooks around this module (see their headers).
  - Like C(kubernetes.core.k8s_drain), running out of O(wait_timeout) does not fail the task; it returns
    RV(timed_out=true) and what is left (RV(connections_left), RV(flows_left)) with a warning.
author: bgplb developers (@bgplb)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
  - baremetal.bgplb.bgplbctl
attributes:
  check_mode:
    support: full
    details: Reads the drain state and reports what would change; changes nothing and waits for nothing.
  diff_mode:
    support: full
    details: The drain state before and after (V(undrained), V(draining), V(drained)).
  platform:
    platforms: posix
  action_group:
    membership: [baremetal.bgplb.bgplb]
options:
  state:
    description:
      - V(drained) takes the node out of service, V(undrained) puts it back.
      - A node already draining or drained reports no change (the speaker keeps its first wait).
    type: str
    choices: [drained, undrained]
    default: drained
  wait:
    description: Wait as described above before returning.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait at most for the connections (or flows) to end.
    type: int
    default: 300
  wait_sleep:
    description: Seconds between two looks at the connections or flows.
    type: int
    default: 2
  gshut_wait:
    description:
      - O(state=drained) only. Seconds the routes stay announced with GRACEFUL_SHUTDOWN before they are withdrawn.
    type: int
    default: 10
  settle:
    description:
      - O(state=undrained) only. Seconds to let the routers move flows to the node before counting the flows it
        hands on.
    type: int
    default: 10
  handback:
    description:
      - Whether to count hand-back connections and flows (C(bgplb-handback conns) and C(flows)) while waiting.
      - V(auto) does when O(handback_command) exists on the node (the speaker role installs it with
        C(bgplb_speaker_handback=true)); V(true) fails when it does not.
    type: str
    choices: [auto, "true", "false"]
    default: auto
  handback_command:
    description: The C(bgplb-handback) command on the node.
    type: path
    default: /usr/local/sbin/bgplb-handback
  handback_config:
    description: The hand-back configuration file the speaker role writes.
    type: path
    default: /etc/bgplb/handback.yaml
seealso:
  - module: baremetal.bgplb.speaker_info
  - module: kubernetes.core.k8s_drain
"""

EXAMPLES = r"""
# before: n3 announces 198.51.100.10/32, has 312 connections
- name: Take n3 out of service, wait until its connections ended
  baremetal.bgplb.drain:
    state: drained
    wait_timeout: 600
  delegate_to: n3
  register: drained
# after: the routes are withdrawn; drained.connections_left == 0 (or drained.timed_out)

- name: Bring it back, wait until the flows the routers move to it no longer need handing on
  baremetal.bgplb.drain:
    state: undrained

- name: Only say whether the node would change (check mode)
  baremetal.bgplb.drain:
    state: drained
  check_mode: true
  diff: true
"""

RETURN = r"""
before:
  description: The drain state before the task (V(undrained), V(draining) or V(drained)).
  returned: always
  type: str
  sample: undrained
after:
  description: The drain state after the task (in check mode, the one it would have).
  returned: always
  type: str
  sample: drained
handback:
  description: Whether hand-back connections and flows were counted.
  returned: always
  type: bool
connections_left:
  description: O(state=drained) with O(wait) and hand-back, live connections on the service IPs at the end.
  returned: when counted
  type: int
  sample: 0
flows_left:
  description: O(state=undrained) with O(wait) and hand-back, flows the node still hands on at the end.
  returned: when counted
  type: int
  sample: 0
timed_out:
  description: Whether O(wait_timeout) ran out before the connections or flows ended.
  returned: always
  type: bool
  sample: false
waited:
  description: Seconds the module waited.
  returned: always
  type: float
  sample: 12.4
"""

import json  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible_collections.baremetal.bgplb.plugins.module_utils.bgplbctl import (  # noqa: E402
    BGPLBCTL_ARGSPEC,
    Bgplbctl,
    BgplbctlError,
)

WITHDRAW_GRACE = 30  # seconds after the graceful-shutdown wait by which the speaker must report "drained"


def drain_state(status):
    drain = status.get("drain")
    return drain["state"] if drain else "undrained"


class Handback:
    """`bgplb-handback --json conns|flows` on the node."""

    def __init__(self, module):
        self.module = module
        self.cmd = [module.params["handback_command"], "--config", module.params["handback_config"], "--json"]

    def count(self, what):
        rc, out, err = self.module.run_command([*self.cmd, what], check_rc=False)
        try:
            value = json.loads(out)
        except ValueError:
            value = None
        if rc != 0 or not isinstance(value, int):
            self.module.fail_json(msg=f"bgplb-handback {what} failed (exit {rc}): {(err or out).strip()}")
        return value


def wait_until_zero(module, handback, what, deadline):
    """Polls until the count is 0 or the deadline passes; returns the last count."""
    while True:
        left = handback.count(what)
        if left == 0 or time.monotonic() >= deadline:
            return left
        time.sleep(max(0.1, min(module.params["wait_sleep"], deadline - time.monotonic())))


def use_handback(module):
    mode, path = module.params["handback"], module.params["handback_command"]
    present = os.path.exists(path)
    if mode == "true" and not present:
        module.fail_json(msg=f"handback=true but {path} does not exist: install the speaker role with "
                             "bgplb_speaker_handback=true, or set handback=auto|false")  # fmt: skip
    return mode == "true" or (mode == "auto" and present)


def run(module, ctl):
    p = module.params
    state = p["state"]
    before = drain_state(ctl.status())
    target = "undrained" if state == "undrained" else ("drained" if before == "drained" else "draining")
    changed = (before == "undrained") != (state == "undrained")
    handback = use_handback(module) and p["wait"]
    result = {"changed": changed, "before": before, "after": target if changed else before, "handback": handback,
              "timed_out": False, "waited": 0.0}  # fmt: skip
    if module._diff:
        result["diff"] = {"before": {"drain": before}, "after": {"drain": result["after"]}}
    if module.check_mode:
        return result
    if changed:
        if state == "drained":
            ctl.run("drain", "--wait", str(p["gshut_wait"]))
        else:
            ctl.run("undrain")
    if not p["wait"]:
        result["after"] = drain_state(ctl.status())
        return result
    start = time.monotonic()
    deadline = start + p["wait_timeout"]
    if state == "drained":
        if handback:
            result["connections_left"] = wait_until_zero(module, Handback(module), "conns", deadline)
            result["timed_out"] = result["connections_left"] > 0
        status = ctl.status()
        limit = max((status.get("drain") or {}).get("until", 0) - time.time(), 0) + WITHDRAW_GRACE
        withdraw_by = time.monotonic() + limit
        while drain_state(status) != "drained":
            if time.monotonic() > withdraw_by:
                module.fail_json(msg=f"the speaker did not withdraw its routes within {limit:.0f} s of the drain",
                                 **result)  # fmt: skip
            time.sleep(0.5)
            status = ctl.status()
    elif handback and changed:
        time.sleep(min(p["settle"], p["wait_timeout"]))
        result["flows_left"] = wait_until_zero(module, Handback(module), "flows", deadline)
        result["timed_out"] = result["flows_left"] > 0
    result["after"] = drain_state(ctl.status())
    result["waited"] = round(time.monotonic() - start, 1)
    if result["timed_out"]:
        left = result.get("connections_left", result.get("flows_left"))
        what = "live connection(s) on the service IPs" if state == "drained" else "flow(s) still handed on"
        module.warn(f"wait_timeout ({p['wait_timeout']} s) ran out with {left} {what}")
    return result


def main():
    spec = dict(BGPLBCTL_ARGSPEC)
    spec.update(
        state={"type": "str", "choices": ["drained", "undrained"], "default": "drained"},
        wait={"type": "bool", "default": True},
        wait_timeout={"type": "int", "default": 300},
        wait_sleep={"type": "int", "default": 2},
        gshut_wait={"type": "int", "default": 10},
        settle={"type": "int", "default": 10},
        handback={"type": "str", "choices": ["auto", "true", "false"], "default": "auto"},
        handback_command={"type": "path", "default": "/usr/local/sbin/bgplb-handback"},
        handback_config={"type": "path", "default": "/etc/bgplb/handback.yaml"},
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    for name in ("wait_timeout", "gshut_wait", "settle"):
        if module.params[name] < 0:
            module.fail_json(msg=f"{name} must be 0 or more seconds, not {module.params[name]}")
    if module.params["wait_sleep"] < 1:
        module.fail_json(msg=f"wait_sleep must be 1 or more seconds, not {module.params['wait_sleep']}")
    try:
        module.exit_json(**run(module, Bgplbctl(module)))
    except BgplbctlError as err:
        module.fail_json(msg=str(err), errors=err.errors, rc=err.code, code=err.kind)


if __name__ == "__main__":
    main()
