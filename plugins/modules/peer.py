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
  - baremetal.bgplb.objects.peer
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
  returned: when the state writes (not gathered, rendered or parsed)
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
after:
  description:
    - The peer as the speaker stores it after the task (in check mode, as it would); V(null) once deleted.
    - A list when O(objects) is used, like RV(before).
  returned: when the state writes (not gathered, rendered or parsed)
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
diff:
  description:
    - The change as Ansible diff C(before)/C(after) dicts (shown with C(--diff)); a list with O(objects).
  returned: when the state writes (not gathered, rendered or parsed)
  type: raw
changes:
  description: One entry per object bgplbctl looked at, with its action.
  returned: always
  type: list
  elements: dict
  sample: [{"kind": "peer", "name": "core1", "action": "updated"}]
commands:
  description:
    - What was done (in check mode, what would be done), one line per object created, updated or deleted -
      C(apply <kind> <name>) or C(delete <kind> <name>); empty when nothing changed.
  returned: when the state writes (not gathered, rendered or parsed)
  type: list
  elements: str
  sample: ["apply peer example", "delete peer old"]
gathered:
  description: With O(state=gathered), the peer objects on the node in the shape of O(objects), sorted by name.
  returned: when O(state=gathered)
  type: list
  elements: dict
rendered:
  description: With O(state=rendered), the objects given as the text of a C(bgplbctl apply -f) file.
  returned: when O(state=rendered)
  type: str
parsed:
  description: With O(state=parsed), the peer objects of O(running_config) in the shape of O(objects).
  returned: when O(state=parsed)
  type: list
  elements: dict
wait:
  description:
    - With O(wait), how long the module waited (C(seconds)) and the peers whose routes it waited for
      (C(established)) or could not (C(not_established)).
  returned: when O(wait) is true and not in check mode
  type: dict
  sample: {"seconds": 0.52, "established": ["core1"], "not_established": []}
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
