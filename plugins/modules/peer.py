#!/usr/bin/python
# Copyright: bgplb developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: peer
short_description: Manage bgplb BGP peers (routers) on a node
version_added: 0.1.0
description:
  - Creates, updates or deletes one BGP peer of the bgplb speaker (a router it opens a session with; MetalLB's
    BGPPeer). Runs C(bgplbctl apply) / C(bgplbctl delete) on the node; the object lives in
    C(<config_dir>/objects/peer/<name>.yaml), mode 0600 because of the password.
  - A change to a field that does not affect the session (such as O(node_selectors)) never resets it; the speaker
    compares old and new settings on reload.
  - With O(state=overridden) and O(objects) it manages all peers of the node at once and removes those
    not listed.
author: bgplb developers (@bgplb)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
  - baremetal.bgplb.bgplbctl
  - baremetal.bgplb.bgplbctl.object
options:
  name:
    description:
      - Name of the peer (letters, digits, C(-), C(_), C(.); at most 63).
      - Required unless O(objects) is given.
    type: str
  address: &address
    description:
      - IP address of the router. Required by the speaker.
    type: str
  asn: &asn
    description:
      - The router's AS number. Required by the speaker.
    type: int
  port: &port
    description:
      - TCP port of the router. Speaker default V(179).
    type: int
  source_address: &source_address
    description:
      - Local address the session uses (same family as O(address)).
    type: str
  hold_time: &hold_time
    description:
      - BGP hold time in seconds (V(0) or at least V(3)). Speaker default V(90).
    type: int
  keepalive_time: &keepalive_time
    description:
      - Keepalive interval in seconds, at most a third of O(hold_time). Default a third of the hold time.
    type: int
  connect_time: &connect_time
    description:
      - Seconds between connection attempts. Speaker default V(5).
    type: int
  password: &password
    description:
      - TCP MD5 (RFC 2385) key of the session. Never shown in RV(before), RV(after), the diff or logs; the speaker
        stores it in the object file (mode 0600) and C(bgplbctl get) prints it as V(********).
      - Changing only the password still reports a change (RV(diff) then says C(password changed)).
    type: str
  ebgp_multihop: &ebgp_multihop
    description:
      - V(false), V(true) or a TTL from V(2) to V(255) for eBGP routers that are not directly connected. Speaker
        default V(false).
    type: raw
  ttl_security: &ttl_security
    description:
      - GTSM (RFC 5082) for a directly connected eBGP router - send with TTL 255 and accept only segments that
        arrive with 255. The router must do the same (FRR C(ttl-security hops 1)). Not with O(ebgp_multihop);
        ignored on iBGP sessions. Speaker default V(false); the speaker role sets it from C(bgplb_ttl_security).
    type: bool
  passive: &passive
    description:
      - Only accept the router's connection, never connect out. Speaker default V(false).
    type: bool
  graceful_restart: &graceful_restart
    description:
      - Announce graceful restart (RFC 4724) so the router keeps our routes while the speaker restarts. Speaker
        default V(true).
    type: bool
  restart_time: &restart_time
    description:
      - Restart time announced with graceful restart, in seconds. Speaker default V(120).
    type: int
  families: &families
    description:
      - Address families of the session, V(ipv4) and/or V(ipv6). Default the family of O(address).
    type: list
    elements: str
  node_selectors: &node_selectors
    description:
      - Kubernetes-style label selectors (C(match_labels), C(match_expressions) with C(key), C(operator) In, NotIn,
        Exists or DoesNotExist, C(values)); only nodes whose labels match open this session.
    type: list
    elements: dict
  bfd: &bfd
    description:
      - Ask for BFD on this session. Speaker default V(false).
    type: bool
  objects:
    description:
      - A list of peers, each with the same fields as the top-level options (O(name) required).
      - Mutually exclusive with O(name) and the other object options.
      - Required with O(state=overridden), where it is the complete list of peers of the node.
    type: list
    elements: dict
    suboptions:
      name:
        description: Name of the peer.
        type: str
        required: true
      address: *address
      asn: *asn
      port: *port
      source_address: *source_address
      hold_time: *hold_time
      keepalive_time: *keepalive_time
      connect_time: *connect_time
      password: *password
      ebgp_multihop: *ebgp_multihop
      ttl_security: *ttl_security
      passive: *passive
      graceful_restart: *graceful_restart
      restart_time: *restart_time
      families: *families
      node_selectors: *node_selectors
      bfd: *bfd
attributes:
  action_group:
    membership: [baremetal.bgplb.bgplb]
seealso:
  - module: baremetal.bgplb.advertisement
  - module: baremetal.bgplb.speaker_info
"""

EXAMPLES = r"""
# Before: no /etc/bgplb/objects/peer/core1.yaml
- name: Peer with a core router, MD5-protected
  baremetal.bgplb.peer:
    name: core1
    address: 10.0.0.254
    asn: 65000
    password: "{{ vault_bgp_password }}"
    hold_time: 30
# After: /etc/bgplb/objects/peer/core1.yaml (mode 0600; the module shows the password as ********)
#   name: core1
#   address: 10.0.0.254
#   asn: 65000
#   port: 179
#   hold_time: 30
#   connect_time: 5
#   password: <the key>
#   ebgp_multihop: false
#   ttl_security: false
#   passive: false
#   graceful_restart: true
#   restart_time: 120
#   families: []
#   node_selectors: []
#   bfd: false

- name: One peer per router of the inventory, the others removed
  baremetal.bgplb.peer:
    state: overridden
    objects: "{{ groups['bgplb_routers'] | map('extract', hostvars) | map(attribute='bgplb_peer') | list }}"

- name: Remove the peer (refused while an advertisement names it)
  baremetal.bgplb.peer:
    name: core1
    state: absent
"""

RETURN = r"""
before:
  description:
    - The peer as the speaker stored it before the task, in canonical form (every field with its value or
      default); V(null) if it did not exist.
    - A list of peers when O(objects) is used; with O(state=overridden), all peers of the node,
      sorted by name.
  returned: always
  type: raw
  sample:
    name: core1
    address: 10.0.0.254
    asn: 65000
    port: 179
    hold_time: 90
    connect_time: 5
    password: '********'
    ebgp_multihop: false
    ttl_security: false
    passive: false
    graceful_restart: true
    restart_time: 120
    families: []
    node_selectors: []
    bfd: false
after:
  description:
    - The peer as the speaker stores it after the task (in check mode, as it would); V(null) once deleted.
    - A list when O(objects) is used, like RV(before).
  returned: always
  type: raw
  sample:
    name: core1
    address: 10.0.0.254
    asn: 65000
    port: 179
    hold_time: 30
    connect_time: 5
    password: '********'
    ebgp_multihop: false
    ttl_security: false
    passive: false
    graceful_restart: true
    restart_time: 120
    families: []
    node_selectors: []
    bfd: false
diff:
  description:
    - The change as Ansible diff C(before)/C(after) dicts (shown with C(--diff)); a list with O(objects).
  returned: always
  type: raw
changes:
  description: One entry per object bgplbctl looked at, with its action.
  returned: always
  type: list
  elements: dict
  sample: [{"kind": "peer", "name": "core1", "action": "updated"}]
reload:
  description:
    - What became of the speaker reload after a write. V(null) when nothing was written (no change, check mode);
      V(applied); V(deferred) when the speaker is not running or too busy to confirm (the files take effect when
      it gets to them);
      V(refused) when the running speaker kept its old configuration (a warning carries its reason).
  returned: always
  type: str
  sample: deferred
speaker:
  description: bgplbctl's note about the reload, as text.
  returned: always
  type: str
  sample: "speaker not running: written, it takes effect when the speaker starts"
read_only:
  description: Peers defined inline in C(speaker.yaml), which O(state=overridden) leaves alone.
  returned: when O(state=overridden)
  type: list
  elements: str
  sample: [from-speaker-yaml]
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible_collections.baremetal.bgplb.plugins.module_utils.argspec import argument_spec  # noqa: E402
from ansible_collections.baremetal.bgplb.plugins.module_utils.resource import run_object_module  # noqa: E402

KIND = "peer"


def main():
    module = AnsibleModule(**argument_spec(KIND))
    run_object_module(module, KIND)


if __name__ == "__main__":
    main()
