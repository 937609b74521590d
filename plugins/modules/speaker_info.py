#!/usr/bin/python
# Copyright: bgplb developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: speaker_info
short_description: Sessions, advertised routes, drain state and config errors of the bgplb speaker on a node
version_added: 0.1.0
description:
  - Asks the running bgplb speaker on the node, with C(bgplbctl --json status) and C(bgplbctl --json routes), for
    its BGP sessions (state, uptime, prefixes sent), the routes it advertises to each peer, its drain state and the
    configuration errors it met when it last loaded its objects.
  - Read-only. When the speaker does not answer on O(socket) the module does not fail; it returns
    RV(running=false) and the errors C(bgplbctl validate) finds in O(config_dir).
author: bgplb developers (@bgplb)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
  - baremetal.bgplb.bgplbctl
attributes:
  check_mode:
    support: full
    details: Reads only; runs the same in check mode.
  diff_mode:
    support: none
  platform:
    platforms: posix
  action_group:
    membership: [baremetal.bgplb.bgplb]
seealso:
  - module: baremetal.bgplb.peer
  - module: baremetal.bgplb.service
"""

EXAMPLES = r"""
- name: Read the speaker's state
  baremetal.bgplb.speaker_info:
  register: bgplb

- name: Every session is up and has sent its routes
  ansible.builtin.assert:
    that:
      - bgplb.running
      - bgplb.sessions | rejectattr('established') | list | length == 0
      - bgplb.sessions | map(attribute='pending') | flatten | length == 0
      - bgplb.config_errors | length == 0
    fail_msg: "{{ bgplb.sessions | rejectattr('established') | map(attribute='name') | list }} not established"

- name: Wait until the node is drained
  baremetal.bgplb.speaker_info:
  register: bgplb
  until: bgplb.drain and bgplb.drain.state == 'drained'
  retries: 30
  delay: 2

- name: Show what core1 receives from this node
  ansible.builtin.debug:
    msg: "{{ bgplb.routes.core1 | map(attribute='prefix') | list }}"
"""

RETURN = r"""
running:
  description: Whether the speaker answered on O(socket).
  returned: always
  type: bool
  sample: true
msg:
  description: Why the speaker could not be reached.
  returned: when RV(running) is false
  type: str
  sample: "cannot reach the speaker at /run/bgplb/api.sock: No such file or directory"
node:
  description: The node name of the running speaker.
  returned: always
  type: str
  sample: n1
sessions:
  description: One entry per configured peer.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Peer name.
      type: str
    address:
      description: Peer address.
      type: str
    asn:
      description: Peer AS number.
      type: int
    state:
      description: BGP FSM state (C(Idle), C(Connect), C(Active), C(OpenSent), C(OpenConfirm), C(Established)).
      type: str
    established:
      description: Whether RV(sessions[].state) is C(Established).
      type: bool
    uptime:
      description: Seconds since the session was established; V(null) when it is not.
      type: float
    prefixes_sent:
      description: Prefixes currently sent to the peer.
      type: int
    prefixes_desired:
      description: Prefixes the planner wants the peer to have.
      type: int
    established_count:
      description: How often the session was established since the speaker started.
      type: int
    last_error:
      description: The last reason the session went down, if any.
      type: str
    advertised:
      description: Prefixes sent to this peer.
      type: list
      elements: str
    pending:
      description: Prefixes planned for this peer but not sent yet (the session is down or busy).
      type: list
      elements: str
  sample:
    - {"name": "core1", "address": "10.0.0.254", "asn": 65000, "state": "Established", "established": true,
       "uptime": 3600.5, "prefixes_sent": 1, "prefixes_desired": 1, "established_count": 1, "last_error": null,
       "advertised": ["198.51.100.17/32"], "pending": []}
routes:
  description:
    - Routes per peer name, as C(bgplbctl routes) gives them, with C(prefix), C(sent), C(local_pref), C(med),
      C(communities) and C(large_communities).
  returned: always
  type: dict
  sample: {"core1": [{"prefix": "198.51.100.17/32", "sent": true, "local_pref": null, "med": null,
                      "communities": ["65000:100"], "large_communities": []}]}
drain:
  description:
    - The drain state (C(state) V(draining) or V(drained), C(since), C(until)); V(null) when the node is not
      drained.
  returned: always
  type: dict
  sample: {"state": "draining", "since": 1700000000.0, "until": 1700000030.0}
draining:
  description: Whether a drain is in progress or done.
  returned: always
  type: bool
  sample: false
config_errors:
  description:
    - Problems in the configuration directory. From the running speaker, the object files it skipped at its last
      load; with the speaker down, what C(bgplbctl validate) reports.
  returned: always
  type: list
  elements: str
  sample: ["/etc/bgplb/objects/pool/bad.yaml: pool bad: addresses[0]: 10.0.0.0/33 is not a CIDR"]
services:
  description: Health of each service on this node (V(true) healthy, V(false) failing, V(null) not checked yet).
  returned: always
  type: dict
  sample: {"web": true}
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible_collections.baremetal.bgplb.plugins.module_utils.bgplbctl import BGPLBCTL_ARGSPEC  # noqa: E402
from ansible_collections.baremetal.bgplb.plugins.module_utils.info import run_info_module  # noqa: E402


def main():
    module = AnsibleModule(argument_spec=dict(BGPLBCTL_ARGSPEC), supports_check_mode=True)
    run_info_module(module)


if __name__ == "__main__":
    main()
