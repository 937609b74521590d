#!/usr/bin/python
# Copyright: bgplb developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: pool
short_description: Manage bgplb address pools on a node
version_added: 0.1.0
description:
  - Creates, updates or deletes one address pool of the bgplb speaker (the range service IPs are taken from), by
    running C(bgplbctl apply) / C(bgplbctl delete) on the node. The object is written to
    C(<config_dir>/objects/pool/<name>.yaml) and the running speaker reloads it without resetting any session.
  - With O(state=overridden) and O(objects) it manages all pools of the node at once and removes those not
    listed.
  - Field names follow MetalLB's IPAddressPool in snake_case.
author: bgplb developers (@bgplb)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
  - baremetal.bgplb.bgplbctl
  - baremetal.bgplb.bgplbctl.object
  - baremetal.bgplb.objects.pool
attributes:
  action_group:
    membership: [baremetal.bgplb.bgplb]
seealso:
  - module: baremetal.bgplb.advertisement
  - module: baremetal.bgplb.service
"""

EXAMPLES = r"""
# Before: no /etc/bgplb/objects/pool/public.yaml
- name: A pool of public service addresses
  baremetal.bgplb.pool:
    name: public
    addresses:
      - 198.51.100.0/24
      - 2001:db8:100::/120
    avoid_buggy_ips: true
# After: /etc/bgplb/objects/pool/public.yaml
#   name: public
#   addresses:
#   - 198.51.100.0/24
#   - 2001:db8:100::/120
#   auto_assign: true
#   avoid_buggy_ips: true
#   labels: {}

# Before: objects/pool/public.yaml as above, objects/pool/old.yaml, and a pool `mgmt` inline in speaker.yaml
- name: Exactly the pools of the inventory (authoritative)
  baremetal.bgplb.pool:
    state: overridden
    objects: "{{ bgplb_pools }}"
  vars:
    bgplb_pools:
      - name: public
        addresses: [198.51.100.0/24, 2001:db8:100::/120]
        avoid_buggy_ips: true
      - name: internal
        addresses: [10.200.0.0/24]
        auto_assign: false
# After: objects/pool/public.yaml unchanged, objects/pool/internal.yaml created, objects/pool/old.yaml deleted;
#   `mgmt` (speaker.yaml) left alone and returned in read_only

- name: Remove a pool (refused by the speaker while a service or advertisement still uses it)
  baremetal.bgplb.pool:
    name: internal
    state: absent
# After: objects/pool/internal.yaml deleted

- name: Point the modules at a bgplbctl outside PATH, for all bgplb modules of a play
  module_defaults:
    group/baremetal.bgplb.bgplb:
      bgplbctl: /opt/bgplb/bin/bgplbctl
  baremetal.bgplb.pool:
    name: public
    addresses: [198.51.100.0/24]
"""

RETURN = r"""
before:
  description:
    - The pool as the speaker stored it before the task, in canonical form (every field with its value or
      default); V(null) if it did not exist.
    - A list of pools when O(objects) is used; with O(state=overridden), all pools of the node,
      sorted by name.
  returned: when the state writes (not gathered, rendered or parsed)
  type: raw
  sample:
    name: public
    addresses: [198.51.100.0/24]
    auto_assign: true
    avoid_buggy_ips: false
    labels: {}
after:
  description:
    - The pool as the speaker stores it after the task (in check mode, as it would); V(null) once deleted.
    - A list when O(objects) is used, like RV(before).
  returned: when the state writes (not gathered, rendered or parsed)
  type: raw
  sample:
    name: public
    addresses: [198.51.100.0/24, "2001:db8:100::/120"]
    auto_assign: true
    avoid_buggy_ips: true
    labels: {}
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
  sample: [{"kind": "pool", "name": "public", "action": "updated"}]
commands:
  description:
    - What was done (in check mode, what would be done), one line per object created, updated or deleted -
      C(apply <kind> <name>) or C(delete <kind> <name>); empty when nothing changed.
  returned: when the state writes (not gathered, rendered or parsed)
  type: list
  elements: str
  sample: ["apply pool example", "delete pool old"]
gathered:
  description: With O(state=gathered), the pool objects on the node in the shape of O(objects), sorted by name.
  returned: when O(state=gathered)
  type: list
  elements: dict
rendered:
  description: With O(state=rendered), the objects given as the text of a C(bgplbctl apply -f) file.
  returned: when O(state=rendered)
  type: str
parsed:
  description: With O(state=parsed), the pool objects of O(running_config) in the shape of O(objects).
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
  description: Pools defined inline in C(speaker.yaml), which O(state=overridden) leaves alone.
  returned: when O(state=overridden)
  type: list
  elements: str
  sample: [mgmt]
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible_collections.baremetal.bgplb.plugins.module_utils.argspec import argument_spec  # noqa: E402
from ansible_collections.baremetal.bgplb.plugins.module_utils.resource import run_object_module  # noqa: E402

KIND = "pool"


def main():
    module = AnsibleModule(**argument_spec(KIND))
    run_object_module(module, KIND)


if __name__ == "__main__":
    main()
