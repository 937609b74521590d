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
      - The states of the resource-module collections (cisco.ios, arista.eos).
      - V(merged) merges the options given into the object O(name) (or each of O(objects)) on the node. Fields left
        out keep their current value; mappings (C(labels), C(health_check), C(bfd)) are merged key by key, lists
        are replaced. A missing object is created.
      - V(replaced) replaces the object as a whole (like C(bgplbctl apply)); fields left out take the speaker's
        defaults, they do not keep an earlier value.
      - V(overridden) is the authoritative mode. O(objects) is the complete list of objects of this kind on the node;
        each is created or replaced, and every other object of this kind is deleted, except those defined inline in
        C(speaker.yaml), which are read-only for the collection and reported in RV(read_only).
        Every deletion is checked with a dry run first; if one is refused, or an object is invalid, nothing is
        written.
      - V(deleted) deletes the objects named by O(name) or O(objects); without either, every object of this kind
        except the read-only ones. Deleting an object that other objects still refer to is refused by the speaker.
      - V(gathered) returns the objects on the node (all of this kind, or those named) in RV(gathered), in the shape
        of O(objects); secrets as V(********), which applied back keep the stored value. Nothing is written.
      - V(rendered) returns in RV(rendered) the objects given as the text of a C(bgplbctl apply -f) file, without
        reading or writing anything on the node (no C(bgplbctl) needed).
      - V(parsed) reads O(running_config) and returns its objects of this kind in RV(parsed), in the shape of
        O(objects); the node is not touched.
      - V(present) is the earlier name of V(replaced) and V(absent) of V(deleted) with O(name) or O(objects); both
        keep that meaning.
    type: str
    choices: [merged, replaced, overridden, deleted, gathered, rendered, parsed, present, absent]
    default: present
  running_config:
    description:
      - With O(state=parsed), the text to read, in YAML or JSON - an object file (one mapping), a
        C(bgplbctl apply -f) file (a list of mappings with C(kind); other kinds are left out) or a C(speaker.yaml)
        (its list of this kind).
      - Mutually exclusive with O(name) and O(objects).
    type: str
  wait:
    description:
      - After the change (and also when nothing changed), wait until the running speaker has the configuration and
        every route it plans for an established peer has been sent (C(bgplbctl status --json) and
        C(bgplbctl routes --json)). Peers whose session is not established are listed in RV(wait), not waited for.
      - Fails when the speaker refuses the configuration, or at O(wait_timeout) (a speaker that is not running
        never converges). Not in check mode.
    type: bool
    default: false
  wait_timeout:
    description: Seconds O(wait) waits at most.
    type: int
    default: 120
notes:
  - Objects are validated by the speaker (C(bgplbctl apply)), not by the module; an invalid object fails the task
    with the speaker's message, which names the object and the field, and nothing is written.
  - The speaker does not need to run. Its files are written anyway, and RV(reload) is V(deferred) then.
  - Objects defined inline in C(speaker.yaml) are read-only; changing or deleting one by name fails with the
    speaker's message.
  - Supports check mode (computed by C(bgplbctl apply --dry-run)) and diff mode. C(changed) is true only when
    an object was (or in check mode would be) created, updated or deleted.
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: posix
"""
