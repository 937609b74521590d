# Copyright: bgplb developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Options shared by every module that runs bgplbctl on the node."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  bgplbctl:
    description:
      - The C(bgplbctl) command on the node, a path or a name looked up in E(PATH).
      - The baremetal.bgplb.speaker role installs it; if it is missing the module fails and says so.
    type: str
    default: bgplbctl
  config_dir:
    description:
      - The speaker's configuration directory (C(speaker.yaml) and C(objects/<kind>/<name>.yaml)).
    type: path
    default: /etc/bgplb
  socket:
    description:
      - The local API socket of the running speaker, used to make it reload after a write (and by
        M(baremetal.bgplb.speaker_info) to read its state).
    type: path
    default: /run/bgplb/api.sock
requirements:
  - C(bgplbctl) from the bgplb speaker package on the managed node.
"""

    # The states and the object-file layout, shared by the object modules (pool, advertisement, peer, ...).
    OBJECT = r"""
options:
  state:
    description:
      - V(present) creates or updates the object O(name) from the options given. The object is replaced as a whole
        (like C(bgplbctl apply)); options left out take the speaker's defaults, they do not keep an earlier value.
      - V(absent) deletes it. Deleting an object that other objects still refer to is refused by the speaker.
      - V(overridden) is the authoritative mode. O(objects) is the complete list of objects of this kind on the node;
        each is created or updated, and every other object of this kind is deleted, except those defined inline in
        C(speaker.yaml), which are read-only for the collection and reported in RV(read_only).
        Every deletion is checked with a dry run first; if one is refused, or an object is invalid, nothing is
        written.
      - With O(objects) and V(present) or V(absent), the listed objects are created or deleted and the others are
        left alone.
    type: str
    choices: [present, absent, overridden]
    default: present
notes:
  - Objects are validated by the speaker (C(bgplbctl apply)), not by the module; an invalid object fails the task
    with the speaker's message, which names the object and the field, and nothing is written.
  - The speaker does not need to run. Its files are written anyway, and RV(reload) is V(deferred) then.
  - Objects defined inline in C(speaker.yaml) are read-only; changing or deleting one by name fails with the
    speaker's message.
  - Supports check mode (computed by C(bgplbctl apply --dry-run)) and diff mode.
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: posix
"""
