"""The config directory: atomic writes, all-or-nothing applies, lenient loading, fingerprints, redaction."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from bgplb import model, store
from bgplb.store import Store

NODE = {"name": "n1", "router_id": "10.0.0.1", "asn": 64512}
POOL = {"name": "public", "addresses": ["198.51.100.0/24"]}
PEER = {"name": "r1", "address": "10.0.0.254", "asn": 65000, "password": "md5-s3cret"}


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def root(tmp_path) -> Path:
    (tmp_path / "speaker.yaml").write_text(yaml.safe_dump({"node": NODE}))
    return tmp_path


@pytest.fixture
def st(root) -> Store:
    return Store(root)


def test_apply_writes_one_canonical_file_per_object(st, root):
    (change,) = st.apply([("pool", {"name": "public", "addresses": ["198.51.100.10 - 198.51.100.20"]})])
    assert (change.kind, change.name, change.action, change.before) == ("pool", "public", "created", None)
    path = root / "objects" / "pool" / "public.yaml"
    assert yaml.safe_load(path.read_text()) == {
        "name": "public",
        "addresses": ["198.51.100.10-198.51.100.20"],
        "auto_assign": True,
        "avoid_buggy_ips": False,
        "labels": {},
    }
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["public.yaml"]  # no temp file left behind
    assert st.get("pool", "public") == [model.parse_object("pool", change.after)]


def test_apply_unchanged_and_updated(st, root):
    st.apply([("pool", POOL)])
    path = root / "objects" / "pool" / "public.yaml"
    stat = path.stat()
    (change,) = st.apply([("pool", POOL)])
    assert change.action == "unchanged"
    assert path.stat().st_mtime_ns == stat.st_mtime_ns and path.stat().st_ino == stat.st_ino  # not rewritten
    (change,) = st.apply([("pool", {**POOL, "avoid_buggy_ips": True})])
    assert change.action == "updated"
    assert (change.before["avoid_buggy_ips"], change.after["avoid_buggy_ips"]) == (False, True)
    assert st.get("pool", "public")[0].avoid_buggy_ips is True


def test_dry_run_reports_but_writes_nothing(st, root):
    before = snapshot(root)
    changes = st.apply([("pool", POOL), ("service", {"name": "web", "pool": "public"})], dry_run=True)
    assert [(c.kind, c.action) for c in changes] == [("pool", "created"), ("service", "created")]
    assert changes[1].after["address"][0].startswith("198.51.100.")
    assert snapshot(root) == before


BAD_APPLIES = [
    ([("pool", {"name": "public", "addresses": ["198.51.100.300"]})],
     "pool public: addresses[0]: 198.51.100.300 is not an IP"),
    ([("pool", {"name": "other", "addresses": ["198.51.100.128/25"]})],
     "pool other: addresses overlap pool public (198.51.100.0/24 and 198.51.100.128/25)"),
    ([("pool", {"name": "fine", "addresses": ["203.0.113.0/24"]}), ("service", {"name": "s", "address": "192.0.2.1"})],
     "service s: address[0]: 192.0.2.1 is outside every pool"),
    ([("service", {"name": "web", "address": "198.51.100.99"})],
     "service web: address[0]: 198.51.100.99 is already used by service old"),
    ([("peer", {**PEER, "asn": 64512}), ("advertisement", {"name": "a", "local_pref": 5}),
      ("peer", {"name": "x", "address": "10.0.0.9", "asn": 65009})],
     "advertisement a: local_pref: only for iBGP peers, peer x is eBGP (asn 65009 != node asn 64512)"),
    ([("widget", {"name": "w"})], "unknown kind 'widget' (known: peer, pool, community, advertisement, service)"),
]  # fmt: skip


@pytest.mark.parametrize(("documents", "message"), BAD_APPLIES, ids=[m[:40] for _, m in BAD_APPLIES])
def test_invalid_apply_leaves_every_file_untouched(st, root, documents, message):
    st.apply([("pool", POOL), ("service", {"name": "old", "address": "198.51.100.99"})])
    before = snapshot(root)
    with pytest.raises(model.ValidationError) as err:
        st.apply(documents)
    assert message in err.value.errors
    assert snapshot(root) == before


def test_a_failed_rename_keeps_the_old_file_and_no_temp_file(st, root, monkeypatch):
    st.apply([("pool", POOL)])
    before = snapshot(root)

    def broken(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(store.os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        st.apply([("pool", {**POOL, "avoid_buggy_ips": True})])
    assert snapshot(root) == before


def test_write_atomic_replaces_whole_file(tmp_path):
    path = tmp_path / "a" / "b.yaml"
    store.write_atomic(path, "one\n")
    store.write_atomic(path, "two\n", mode=0o644)
    assert path.read_text() == "two\n"
    assert path.stat().st_mode & 0o777 == 0o644
    assert os.listdir(path.parent) == ["b.yaml"]


def test_delete(st, root):
    st.apply([("pool", POOL), ("pool", {"name": "spare", "addresses": ["203.0.113.0/24"]})])
    change = st.delete("pool", "spare", dry_run=True)
    assert change.action == "deleted" and (root / "objects" / "pool" / "spare.yaml").exists()
    change = st.delete("pool", "spare")
    assert (change.action, change.after, change.before["name"]) == ("deleted", None, "spare")
    assert not (root / "objects" / "pool" / "spare.yaml").exists()
    assert [p.name for p in st.get("pool")] == ["public"]
    assert st.delete("pool", "spare").action == "unchanged"


def test_delete_of_a_referenced_object_is_refused(st, root):
    st.apply([("pool", POOL), ("service", {"name": "web", "pool": "public"}), ("advertisement", {"name": "a",
              "pools": ["public"]})])  # fmt: skip
    before = snapshot(root)
    with pytest.raises(model.ValidationError) as err:
        st.delete("pool", "public")
    assert "service web: pool: no pool named public" in err.value.errors
    assert "advertisement a: pools[0]: no pool named public" in err.value.errors
    assert snapshot(root) == before


def test_get(st):
    st.apply([("pool", POOL), ("pool", {"name": "b", "addresses": ["203.0.113.0/24"]})])
    assert sorted(p.name for p in st.get("pool")) == ["b", "public"]
    assert [p.name for p in st.get("pool", "b")] == ["b"]
    assert st.get("pool", "nope") == []
    assert st.get("peer") == []
    with pytest.raises(model.ValidationError, match="unknown kind 'pools'"):
        st.get("pools")


def test_load_reports_a_bad_hand_dropped_file_and_lenient_keeps_the_others(st, root):
    st.apply([("pool", POOL), ("pool", {"name": "b", "addresses": ["203.0.113.0/24"]})])
    bad = root / "objects" / "pool" / "broken.yaml"
    bad.write_text("name: broken\naddresses: [10.0.0.300]\n")
    with pytest.raises(model.ValidationError) as err:
        st.load()
    assert err.value.errors == [f"{bad}: pool broken: addresses[0]: 10.0.0.300 is not an IP"]
    config, errors = st.load_lenient()
    assert sorted(p.name for p in config.pools) == ["b", "public"]
    assert errors == err.value.errors


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("x.yaml", "name: y\naddresses: [10.0.0.0/8]\n", "pool y: name does not match its file name x.yaml"),
        ("x.yaml", "name: x\naddresses: [10.0.0.0/8\n", "not valid YAML"),
        ("x.yaml", "- just a list\n", "pool: expected a mapping, got list"),
        ("x.yaml", "", "pool: expected a mapping, got null"),
    ],
)
def test_lenient_load_skips_each_kind_of_bad_file(st, root, name, text, message):
    st.apply([("pool", POOL)])
    (root / "objects" / "pool" / name).write_text(text)
    config, errors = st.load_lenient()
    assert [p.name for p in config.pools] == ["public"]
    assert len(errors) == 1 and errors[0].startswith(str(root / "objects" / "pool" / name)) and message in errors[0]


def test_lenient_load_still_refuses_an_inconsistent_config(st, root):
    st.apply([("pool", POOL)])
    (root / "objects" / "pool" / "dup.yaml").write_text("name: dup\naddresses: [198.51.100.0/25]\n")
    with pytest.raises(model.ValidationError, match="addresses overlap pool"):
        st.load_lenient()


def test_fingerprint_changes_iff_content_changes(st, root):
    st.apply([("pool", POOL)])
    fp = st.fingerprint()
    assert st.fingerprint() == fp
    st.apply([("pool", POOL)])  # unchanged: not rewritten
    assert st.fingerprint() == fp
    st.apply([("pool", {**POOL, "avoid_buggy_ips": True})])
    fp2 = st.fingerprint()
    assert fp2 != fp
    st.apply([("community", {"name": "c", "value": "1:1"})])
    fp3 = st.fingerprint()
    assert fp3 != fp2 and len(fp3) == len(fp2) + 1
    st.delete("community", "c")
    assert st.fingerprint() != fp3
    (root / "objects" / "pool" / "z.yaml").write_text("name: z\naddresses: [10.0.0.0/8]\n")
    assert len(st.fingerprint()) == len(fp2) + 1


def test_passwords_are_stored_but_redacted_everywhere_else(st, root):
    (change,) = st.apply([("peer", PEER)])
    assert change.after["password"] == model.REDACTED
    on_disk = yaml.safe_load((root / "objects" / "peer" / "r1.yaml").read_text())
    assert on_disk["password"] == "md5-s3cret"  # the daemon needs it
    (peer,) = st.get("peer", "r1")
    assert peer.password == "md5-s3cret"
    assert model.to_dict(peer)["password"] == model.REDACTED
    assert "md5-s3cret" not in yaml.safe_dump(model.to_dict(peer)) + repr(peer)
    (change,) = st.apply([("peer", {**PEER, "password": "rotated"})])
    assert change.action == "updated"
    assert "md5-s3cret" not in repr(change) and "rotated" not in repr(change)


INLINE = {
    "node": NODE,
    "pools": [{"name": "inline", "addresses": ["192.0.2.0/24"]}],
    "communities": [{"name": "c", "value": "65000:1"}],
}


def test_inline_objects_are_loaded_and_read_only(tmp_path):
    (tmp_path / "speaker.yaml").write_text(yaml.safe_dump(INLINE))
    st = Store(tmp_path)
    assert [p.name for p in st.get("pool")] == ["inline"]
    before = snapshot(tmp_path)
    with pytest.raises(model.ValidationError) as err:
        st.apply([("pool", {"name": "inline", "addresses": ["192.0.2.0/25"]})])
    assert err.value.errors == ["pool inline: defined in speaker.yaml; edit that file instead"]
    with pytest.raises(model.ValidationError, match=r"^community c: defined in speaker.yaml; edit that file instead$"):
        st.delete("community", "c")
    assert snapshot(tmp_path) == before
    # objects in files may refer to inline ones
    (change,) = st.apply([("service", {"name": "s", "pool": "inline"})])
    assert change.after["address"][0].startswith("192.0.2.")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "speaker.yaml: missing (it must define at least `node`)"),
        ("pools: []\n", "speaker.yaml: must be a mapping with a `node` entry"),
        (yaml.safe_dump({"node": NODE, "routers": []}), "speaker.yaml: routers: unknown field"),
        (yaml.safe_dump({"node": {**NODE, "asn": 0}}), "speaker.yaml: node: asn: expected an integer from 1 to"),
        (yaml.safe_dump({"node": NODE, "pools": {"a": 1}}), "speaker.yaml: pools: expected a list"),
        (yaml.safe_dump({"node": NODE, "pools": [{"name": "p"}]}), "speaker.yaml: pool p: addresses: is required"),
        ("node: [\n", "speaker.yaml: not valid YAML"),
    ],
)
def test_bad_speaker_file(tmp_path, text, message):
    if text is not None:
        (tmp_path / "speaker.yaml").write_text(text)
    with pytest.raises(model.ValidationError) as err:
        Store(tmp_path).load()
    assert len(err.value.errors) == 1
    assert err.value.errors[0].startswith(str(tmp_path / message.split(":")[0]))
    assert message in err.value.errors[0]


def test_yaml_errors_do_not_quote_file_lines(tmp_path):
    """A YAML error near the password must not print the password line back (logs, bgplbctl output)."""
    (tmp_path / "speaker.yaml").write_text(yaml.safe_dump({"node": NODE}))
    folder = tmp_path / "objects" / "peer"
    folder.mkdir(parents=True)
    (folder / "r1.yaml").write_text('name: r1\naddress: 10.0.0.1\nasn: 65000\npassword: "md5-s3cret\n')
    _, errors = Store(tmp_path).load_lenient()
    assert len(errors) == 1 and "not valid YAML" in errors[0] and "(line 5, column 1)" in errors[0]
    assert "md5-s3cret" not in errors[0]


def test_change_of_a_field_that_does_not_touch_the_session_is_written(st, root):
    """Peer.bfd compares equal for the session, but it is still a change of the stored object."""
    st.apply([("peer", PEER)])
    (change,) = st.apply([("peer", {**PEER, "bfd": True})])
    assert change.action == "updated"
    stored = yaml.safe_load((root / "objects" / "peer" / "r1.yaml").read_text())["bfd"]
    assert stored["receive_interval"] == 300 and stored["detect_multiplier"] == 3


def test_bfd_auth_key_is_redacted_and_round_trips(st, root):
    """`get` shows the BFD key as the placeholder; applying that placeholder back keeps the stored key."""
    bfd = {"transmit_interval": 100, "auth_type": "keyed-sha1", "auth_key": "s3cret"}
    st.apply([("peer", {**PEER, "bfd": bfd})])
    shown = model.to_dict(st.load().by_name("peer")["r1"])
    assert shown["bfd"]["auth_key"] == model.REDACTED and "s3cret" not in str(shown)
    st.apply([("peer", {**PEER, "bfd": {**bfd, "auth_key": model.REDACTED, "transmit_interval": 200}})])
    kept = st.load().by_name("peer")["r1"].bfd
    assert (kept.auth_key, kept.transmit_interval) == ("s3cret", 200)


def test_redacted_password_from_get_keeps_the_stored_one(st, root):
    st.apply([("peer", PEER)])
    shown = model.to_dict(st.get("peer", "r1")[0])  # what `bgplbctl get` prints
    assert shown["password"] == model.REDACTED
    (change,) = st.apply([("peer", {**shown, "hold_time": 30})])
    assert change.action == "updated"
    stored = yaml.safe_load((root / "objects" / "peer" / "r1.yaml").read_text())
    assert stored["password"] == PEER["password"] and stored["hold_time"] == 30


def test_redacted_password_for_a_new_peer_is_refused(st, root):
    before = snapshot(root)
    with pytest.raises(model.ValidationError, match="placeholder"):
        st.apply([("peer", {**PEER, "password": model.REDACTED})])
    assert snapshot(root) == before
