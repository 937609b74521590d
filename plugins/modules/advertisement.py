#!/usr/bin/python
# Copyright: bgplb developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: advertisement
short_description: Manage bgplb BGP advertisements on a node
version_added: 0.1.0
description:
  - Creates, updates or deletes one advertisement of the bgplb speaker, which says how the addresses of which
    pools are announced to which peers (MetalLB's BGPAdvertisement). Runs C(bgplbctl apply) / C(bgplbctl delete)
    on the node; the object lives in C(<config_dir>/objects/advertisement/<name>.yaml).
  - With O(state=overridden) and O(objects) it manages all advertisements of the node at once and removes those
    not listed.
author: bgplb developers (@bgplb)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
  - baremetal.bgplb.bgplbctl
  - baremetal.bgplb.bgplbctl.object
  - baremetal.bgplb.objects.advertisement
attributes:
  action_group:
    membership: [baremetal.bgplb.bgplb]
seealso:
  - module: baremetal.bgplb.pool
  - module: baremetal.bgplb.peer
  - module: baremetal.bgplb.community
"""

EXAMPLES = r"""
# Before: no /etc/bgplb/objects/advertisement/public.yaml
- name: Announce the public pool as /32 and /128 with a community
  baremetal.bgplb.advertisement:
    name: public
    pools: [public]
    communities: ["65000:100"]
# After: /etc/bgplb/objects/advertisement/public.yaml
#   name: public
#   pools:
#   - public
#   pool_selectors: []
#   aggregation_length: 32
#   aggregation_length_v6: 128
#   communities:
#   - '65000:100'
#   large_communities: []
#   peers: []
#   node_selectors: []

# Before: as above
- name: Aggregate to a /24 towards the core routers only
  baremetal.bgplb.advertisement:
    name: public
    pools: [public]
    aggregation_length: 24
    peers: [core1, core2]
# After: aggregation_length: 24, peers: [core1, core2], communities: [] (options left out take the defaults)

- name: Exactly the advertisements of the inventory
  baremetal.bgplb.advertisement:
    state: overridden
    objects: "{{ bgplb_advertisements }}"
"""

RETURN = r"""
before:
  description:
    - The advertisement as the speaker stored it before the task, in canonical form (every field with its value or
      default); V(null) if it did not exist.
    - A list of advertisements when O(objects) is used; with O(state=overridden), all advertisements of the node,
      sorted by name.
  returned: when the state writes (not gathered, rendered or parsed)
  type: raw
  sample:
    name: public
    pools: [public]
    pool_selectors: []
    aggregation_length: 32
    aggregation_length_v6: 128
    communities: ['65000:100']
    large_communities: []
    peers: []
    node_selectors: []
after:
  description:
    - The advertisement as the speaker stores it after the task (in check mode, as it would); V(null) once deleted.
    - A list when O(objects) is used, like RV(before).
  returned: when the state writes (not gathered, rendered or parsed)
  type: raw
  sample:
    name: public
    pools: [public]
    pool_selectors: []
    aggregation_length: 24
    aggregation_length_v6: 128
    communities: []
    large_communities: []
    peers: [core1, core2]
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
  sample: [{"kind": "advertisement", "name": "public", "action": "updated"}]
commands:
  description:
    - What was done (in check mode, what would be done), one line per object created, updated or deleted -
      C(apply <kind> <name>) or C(delete <kind> <name>); empty when nothing changed.
  returned: when the state writes (not gathered, rendered or parsed)
  type: list
  elements: str
  sample: ["apply advertisement example", "delete advertisement old"]
gathered:
  description: With O(state=gathered), the advertisement objects on the node in the shape of O(objects), sorted by name.
  returned: when O(state=gathered)
  type: list
  elements: dict
rendered:
  description: With O(state=rendered), the objects given as the text of a C(bgplbctl apply -f) file.
  returned: when O(state=rendered)
  type: str
parsed:
  description: With O(state=parsed), the advertisement objects of O(running_config) in the shape of O(objects).
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
  description: Advertisements defined inline in C(speaker.yaml), which O(state=overridden) leaves alone.
  returned: when O(state=overridden)
  type: list
  elements: str
  sample: [from-speaker-yaml]
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible_collections.baremetal.bgplb.plugins.module_utils.argspec import argument_spec  # noqa: E402
from ansible_collections.baremetal.bgplb.plugins.module_utils.resource import run_object_module  # noqa: E402

KIND = "advertisement"


def main():
    module = AnsibleModule(**argument_spec(KIND))
    run_object_module(module, KIND)


if __name__ == "__main__":
    main()
