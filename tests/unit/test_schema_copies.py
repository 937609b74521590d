"""Every copy of the object schema agrees with its one declaration (speaker/src/bgplb/model/objects.py): the
generated files are current, the modules' documentation (fragments merged, as ansible-doc shows it) matches their
argument specs option by option, and the speaker role's argument specs copy the peer fields with their types."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"
KINDS = ["pool", "advertisement", "peer", "service", "community"]
sys.path.insert(0, str(ROOT / ".venv" / "collections"))

from ansible_collections.baremetal.bgplb.plugins.module_utils.argspec import argument_spec  # noqa: E402

from bgplb.model.objects import Peer  # noqa: E402


def test_generated_copies_are_current():
    done = subprocess.run([str(BIN / "python"), str(ROOT / "scripts/generate-schema.py"), "--check"],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def compare(doc: dict, spec: dict, path: str) -> list[str]:
    """Differences between documented options and an argument spec, recursively (type, elements, choices,
    required, default, sub-options)."""
    out = [f"{path}{k}: documented, not in the spec" for k in doc.keys() - spec.keys()]
    out += [f"{path}{k}: in the spec, not documented" for k in spec.keys() - doc.keys()]
    for key in doc.keys() & spec.keys():
        d, s = doc[key], spec[key]
        for attr, fallback in (("type", "str"), ("elements", None), ("choices", None), ("required", False),
                               ("default", None)):  # fmt: skip
            if d.get(attr, fallback) != s.get(attr, fallback):
                out.append(f"{path}{key}.{attr}: documented {d.get(attr)!r}, spec {s.get(attr)!r}")
        out += compare(d.get("suboptions", {}), s.get("options", {}), f"{path}{key}.")
    return out


def test_module_documentation_matches_the_argument_specs():
    env = {"ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".venv" / "collections"), "PATH": f"{BIN}:/usr/bin:/bin",
           "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}  # fmt: skip
    done = subprocess.run([str(BIN / "ansible-doc"), "--json", *(f"baremetal.bgplb.{k}" for k in KINDS)],
                          capture_output=True, text=True, env=env, timeout=120, check=True)  # fmt: skip
    docs = json.loads(done.stdout)
    problems = []
    for kind in KINDS:
        options = docs[f"baremetal.bgplb.{kind}"]["doc"]["options"]
        problems += compare(options, argument_spec(kind)["argument_spec"], f"{kind}: ")
        assert options["objects"]["suboptions"].keys() == options.keys() - {
            "objects", "state", "bgplbctl", "config_dir", "socket", "wait", "wait_timeout", "running_config"
        }, kind  # fmt: skip
    assert problems == []


def role_option(f: dataclasses.Field) -> dict:
    """What a role option copying a peer field must say: the field's Ansible type (`raw` for `bfd`, which the role
    writes into speaker.yaml where `true` also means BFD with the defaults) and choices; sub-options not copied."""
    ansible = f.metadata["kind"].ansible
    kind = "raw" if f.name == "bfd" else ansible["type"]
    return {k: v for k, v in (("type", kind), ("elements", ansible.get("elements")),
                              ("choices", ansible.get("choices"))) if v is not None}  # fmt: skip


def test_speaker_role_copies_the_peer_fields():
    specs = yaml.safe_load((ROOT / "roles/speaker/meta/argument_specs.yml").read_text())
    options = specs["argument_specs"]["main"]["options"]
    fields = {f.name: f for f in dataclasses.fields(Peer)}
    for var, names in (("bgplb_speaker_peers", set(fields)),
                       ("bgplb_speaker_peer_defaults", set(fields) - {"name", "address", "asn"})):  # fmt: skip
        copy = options[var]["options"]
        assert set(copy) == names, var
        for name, option in copy.items():
            got = {k: option[k] for k in ("type", "elements", "choices") if k in option}
            assert got == role_option(fields[name]), f"{var}.{name}"
            assert bool(option.get("no_log")) == (not fields[name].repr), f"{var}.{name}: no_log"
