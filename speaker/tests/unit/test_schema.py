"""The JSON Schema derived from the field declarations: valid JSON Schema, accepts what the parser accepts (and the
canonical form it writes), refuses what the parser refuses field by field."""

from __future__ import annotations

import jsonschema
import pytest
from test_model import BAD_OBJECTS, GOOD

from bgplb import model
from bgplb.model.schema import json_schema

SCHEMA = json_schema()
jsonschema.Draft202012Validator.check_schema(SCHEMA)
CLASS = {kind: cls.__name__ for kind, cls in model.objects.KIND_CLASSES.items()}
# refused by the parser only through rules across fields or values JSON Schema does not model
BEYOND_SCHEMA = ("is not a CIDR", "is not an IP", "needs at least one", "a third of", "at least 3 seconds",
                 "is required for", "not exceed", "zone id", "wider than", "of one family", "family as", "80 bytes",
                 "a large community", "at most one IPv4", "give an address", "NUL", "is not a valid name",
                 "is not a request path", "auth_type and auth_key", "0 sends no keepalives", "not with ebgp",
                 "ttl_security", "is not an IP address", "is not an IPv4", "longer than", "not a community",
                 "needs at least one CIDR", "keepalive", "1 to 20 bytes", "...")  # fmt: skip


def validator(kind: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({"$defs": SCHEMA["$defs"], "$ref": f"#/$defs/{CLASS[kind]}"})


@pytest.mark.parametrize(("kind", "data"), GOOD, ids=[f"{k}-{d['name']}" for k, d in GOOD])
def test_good_objects_and_their_canonical_form_validate(kind, data):
    v = validator(kind)
    assert list(v.iter_errors(data)) == []
    assert list(v.iter_errors(model.to_dict(model.parse_object(kind, data), redact=False))) == []


@pytest.mark.parametrize(("kind", "data", "message"), [b for b in BAD_OBJECTS if b[0] in CLASS])
def test_bad_objects_fail_the_schema_unless_the_rule_is_beyond_it(kind, data, message):
    errors = list(validator(kind).iter_errors(data))
    if not any(text in message for text in BEYOND_SCHEMA):
        assert errors, f"schema accepts {data!r}, the parser says {message!r}"


def test_speaker_yaml_root_and_secrets():
    root = jsonschema.Draft202012Validator(SCHEMA)
    good = {"node": {"name": "n1", "router_id": "10.0.0.1", "asn": 64512}, "pools": [GOOD[3][1]]}
    assert list(root.iter_errors(good)) == []
    assert list(root.iter_errors({"pools": []}))  # node is required
    assert list(root.iter_errors({**good, "colour": 1}))
    peer = SCHEMA["$defs"]["Peer"]["properties"]
    assert peer["password"]["writeOnly"] and SCHEMA["$defs"]["Bfd"]["properties"]["auth_key"]["writeOnly"]
    assert peer["hold_time"] == {"type": "integer", "minimum": 0, "maximum": 65535, "default": 90,
                                 "description": "proposed hold time; 0 (no keepalives) or at least 3"}  # fmt: skip
    assert SCHEMA["$defs"]["Peer"]["required"] == ["name", "address", "asn"]
