"""The object model of bgplb: the one schema (objects), parsing with field-level errors, cross-object validation."""

from bgplb.kinds import KINDS
from bgplb.model.objects import (
    KIND_FIELDS,
    Advertisement,
    Community,
    Config,
    Expression,
    HealthCheck,
    Node,
    Peer,
    Pool,
    Selector,
    Service,
)
from bgplb.model.parse import ObjectError, parse_node, parse_object
from bgplb.model.serialize import REDACTED, kind_of, to_dict
from bgplb.model.validate import ValidationError, peers_for_node, validate_config

__all__ = [
    "KINDS",
    "KIND_FIELDS",
    "REDACTED",
    "Advertisement",
    "Community",
    "Config",
    "Expression",
    "HealthCheck",
    "Node",
    "ObjectError",
    "Peer",
    "Pool",
    "Selector",
    "Service",
    "ValidationError",
    "kind_of",
    "parse_node",
    "parse_object",
    "peers_for_node",
    "to_dict",
    "validate_config",
]
