#!/usr/bin/python
# Copyright: bgplb developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: service
short_description: Manage bgplb services (announced IPs) on a node
version_added: 0.1.0
description:
  - Creates, updates or deletes one service of the bgplb speaker, an IP address the node announces while it can
    serve it. Runs C(bgplbctl apply) / C(bgplbctl delete) on the node; the object lives in
    C(<config_dir>/objects/service/<name>.yaml).
  - With O(state=overridden) and O(objects) it manages all services of the node at once and removes those
    not listed.
author: bgplb developers (@bgplb)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
  - baremetal.bgplb.bgplbctl
  - baremetal.bgplb.bgplbctl.object
  - baremetal.bgplb.objects.service
attributes:
  action_group:
    membership: [baremetal.bgplb.bgplb]
seealso:
  - module: baremetal.bgplb.pool
  - module: baremetal.bgplb.speaker_info
"""

EXAMPLES = r"""
# Before: no /etc/bgplb/objects/service/web.yaml; pool `public` is 198.51.100.0/24
- name: A web service with an address from the pool, announced while port 443 answers
  baremetal.bgplb.service:
    name: web
    pool: public
    health_check:
      type: tcp
      port: 443
# After: /etc/bgplb/objects/service/web.yaml (the address is assigned once and kept)
#   name: web
#   address:
#   - 198.51.100.17
#   pool: public
#   health_check:
#     type: tcp
#     port: 443
#     path: /
#     expected_status: 200
#     command: []
#     interval: 5.0
#     timeout: 2.0
#     rise: 2
#     fall: 3
#   node_selectors: []

- name: A fixed address
  baremetal.bgplb.service:
    name: dns
    address: 198.51.100.53

- name: Exactly the services of the inventory
  baremetal.bgplb.service:
    state: overridden
    objects: "{{ bgplb_services }}"
"""

RETURN = r"""
before:
  description:
    - The service as the speaker stored it before the task, in canonical form (every field with its value or
      default); V(null) if it did not exist.
    - A list of services when O(objects) is used; with O(state=overridden), all services of the node,
      sorted by name.
  returned: when the state writes (not gathered, rendered or parsed)
  type: raw
  sample:
    name: web
    address: [198.51.100.17]
    pool: public
    node_selectors: []
after:
  description:
    - The service as the speaker stores it after the task (in check mode, as it would); V(null) once deleted.
    - A list when O(objects) is used, like RV(before).
  returned: when the state writes (not gathered, rendered or parsed)
  type: raw
  sample:
    name: web
    address: [198.51.100.17]
    pool: public
    health_check:
      type: tcp
      port: 443
      path: /
      expected_status: 200
      command: []
      interval: 5.0
      timeout: 2.0
      rise: 2
      fall: 3
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
  sample: [{"kind": "service", "name": "web", "action": "updated"}]
commands:
  description:
    - What was done (in check mode, what would be done), one line per object created, updated or deleted -
      C(apply <kind> <name>) or C(delete <kind> <name>); empty when nothing changed.
  returned: when the state writes (not gathered, rendered or parsed)
  type: list
  elements: str
  sample: ["apply service example", "delete service old"]
gathered:
  description: With O(state=gathered), the service objects on the node in the shape of O(objects), sorted by name.
  returned: when O(state=gathered)
  type: list
  elements: dict
rendered:
  description: With O(state=rendered), the objects given as the text of a C(bgplbctl apply -f) file.
  returned: when O(state=rendered)
  type: str
parsed:
  description: With O(state=parsed), the service objects of O(running_config) in the shape of O(objects).
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
  description: Services defined inline in C(speaker.yaml), which O(state=overridden) leaves alone.
  returned: when O(state=overridden)
  type: list
  elements: str
  sample: [from-speaker-yaml]
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible_collections.baremetal.bgplb.plugins.module_utils.argspec import argument_spec  # noqa: E402
from ansible_collections.baremetal.bgplb.plugins.module_utils.resource import run_object_module  # noqa: E402

KIND = "service"


def main():
    module = AnsibleModule(**argument_spec(KIND))
    run_object_module(module, KIND)


if __name__ == "__main__":
    main()
