"""The modules' argument handling and main() wiring, with AnsibleModule itself and the real bgplbctl."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
import yaml
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args
from ansible_collections.baremetal.bgplb.plugins.module_utils.argspec import argument_spec

KINDS = ["pool", "advertisement", "peer", "service", "community"]
BGPLBCTL = Path(__file__).resolve().parents[4] / ".venv" / "bin" / "bgplbctl"


def module_for(kind, args):
    with patch_module_args(args):
        return AnsibleModule(**argument_spec(kind))


def failure(kind, args, capsys):
    with pytest.raises(SystemExit):
        module_for(kind, args)
    return json.loads(capsys.readouterr().out)


def test_unset_options_are_none_so_the_speaker_defaults_apply():
    module = module_for("pool", {"name": "p", "addresses": "10.0.0.0/24"})
    assert module.params["addresses"] == ["10.0.0.0/24"]
    assert module.params["auto_assign"] is None and module.params["state"] == "present"


def test_name_or_objects_is_required(capsys):
    assert "state is present but any of the following are missing: name, objects" in failure("pool", {}, capsys)["msg"]


def test_overridden_needs_objects(capsys):
    assert "state is overridden but all of the following are missing: objects" in failure(
        "pool", {"name": "p", "state": "overridden"}, capsys)["msg"]  # fmt: skip


def test_objects_exclude_top_level_fields(capsys):
    out = failure("pool", {"objects": [{"name": "p"}], "addresses": ["10.0.0.0/24"]}, capsys)
    assert "mutually exclusive: objects|addresses" in out["msg"]


def test_objects_need_names(capsys):
    out = failure("pool", {"objects": [{"addresses": ["10.0.0.0/24"]}]}, capsys)
    assert "missing required arguments: name found in objects" in out["msg"]


def test_basic_types_only(capsys):
    assert "asn" in failure("peer", {"name": "r", "asn": "many"}, capsys)["msg"]
    # ranges are the speaker's business: an out-of-range ASN passes Ansible
    assert module_for("peer", {"name": "r", "asn": 0}).params["asn"] == 0


def test_peer_passwords_are_no_log_top_level_and_in_objects():
    module = module_for("peer", {"name": "r", "password": "top-s3cret"})
    assert "top-s3cret" in module.no_log_values
    module = module_for("peer", {"objects": [{"name": "r", "password": "list-s3cret"}]})
    assert "list-s3cret" in module.no_log_values


@pytest.fixture
def config_dir(tmp_path):
    (tmp_path / "speaker.yaml").write_text(yaml.safe_dump({"node": {"name": "n1", "router_id": "10.0.0.1",
                                                                      "asn": 64512}}))  # fmt: skip
    return tmp_path


def run_main(kind, args, capsys):
    mod = importlib.import_module(f"ansible_collections.baremetal.bgplb.plugins.modules.{kind}")
    with patch_module_args(args), pytest.raises(SystemExit):
        mod.main()
    return json.loads(capsys.readouterr().out)


@pytest.mark.needs(files=(BGPLBCTL,))
def test_main_runs_bgplbctl(config_dir, capsys):
    common = {"bgplbctl": str(BGPLBCTL), "config_dir": str(config_dir), "socket": str(config_dir / "none.sock")}
    out = run_main("peer", {"name": "r1", "address": "10.0.0.254", "asn": 65000, "password": "pw-s3cret", **common},
                   capsys)  # fmt: skip
    assert out["changed"] and out["after"]["password"] == "********" and out["reload"] == "deferred"
    assert "pw-s3cret" not in json.dumps(out)
    assert "pw-s3cret" in (config_dir / "objects/peer/r1.yaml").read_text()
    out = run_main("peer", {"name": "r1", "address": "10.0.0.254", "asn": 65000, "password": "pw-s3cret", **common},
                   capsys)  # fmt: skip
    assert out["changed"] is False


def test_main_without_bgplbctl_fails_cleanly(config_dir, capsys):
    out = run_main("pool", {"name": "p", "bgplbctl": str(config_dir / "bin/bgplbctl")}, capsys)
    assert out["failed"] and out["msg"] == (
        f"bgplbctl not found at {config_dir}/bin/bgplbctl: install the speaker with the baremetal.bgplb.speaker role"
    )


@pytest.mark.needs(files=(BGPLBCTL,))
def test_speaker_info_without_speaker(config_dir, capsys):
    out = run_main("speaker_info", {"bgplbctl": str(BGPLBCTL), "config_dir": str(config_dir),
                                    "socket": str(config_dir / "none.sock")}, capsys)  # fmt: skip
    assert out["running"] is False and out["changed"] is False and out["config_errors"] == []
    assert "cannot reach the speaker" in out["msg"]
