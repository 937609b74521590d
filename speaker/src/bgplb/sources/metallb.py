"""MetalLB's resources as bgplb objects (pure): `IPAddressPool`, `BGPAdvertisement`, `Community` (metallb.io/v1beta1),
`BGPPeer` (metallb.io/v1beta2 or v1beta1) become pools, advertisements, communities and peers in bgplb's object form,
checked by bgplb's own parser and cross-object validation. Whatever bgplb cannot do as MetalLB would (an
`L2Advertisement`, a `BFDProfile`, a VRF, namespace-scoped pools, ...) is reported with the manifest and the field,
never dropped. Docs: speaker/docs/metallb.md (the mapping table). Used by `bgplbctl import-metallb`.

    convert(manifests, asn=64512) -> Conversion   # or raises MetalLBError with every message
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bgplb.model import Config, Node, ObjectError, ValidationError, parse_object, validate_config
from bgplb.model.addresses import pool_networks
from bgplb.model.parse import show
from bgplb.model.validate import advertised_peers, advertised_pools

GROUP = "metallb.io"
VERSIONS = {"IPAddressPool": ("v1beta1",), "BGPAdvertisement": ("v1beta1",), "Community": ("v1beta1",),
            "BGPPeer": ("v1beta2", "v1beta1"), "BFDProfile": ("v1beta1",),
            "L2Advertisement": ("v1beta1",)}  # fmt: skip
REFUSED_KINDS = {
    "L2Advertisement": "bgplb announces over BGP only; L2 mode (ARP/NDP answers) is not supported",
    "BFDProfile": "BFD profiles are not converted: give the bgplb peer its `bfd` settings (speaker/docs/bfd.md)",
    "AddressPool": "MetalLB's removed AddressPool kind: convert it to an IPAddressPool and a BGPAdvertisement",
    "ConfigMap": "MetalLB's old ConfigMap configuration is not read: convert it to MetalLB's CRDs first",
}
TOP_LEVEL = {"apiVersion", "kind", "metadata", "spec", "status"}  # `status` is observed state, not configuration
SELECTOR = {"matchLabels": "match_labels", "matchExpressions": "match_expressions"}
EXPRESSION = {"key", "operator", "values"}

# MetalLB field -> bgplb field, copied as they are (bgplb's parser checks them)
POOL_FIELDS = {"addresses": "addresses", "autoAssign": "auto_assign", "avoidBuggyIPs": "avoid_buggy_ips"}
ADVERTISEMENT_FIELDS = {"aggregationLength": "aggregation_length", "aggregationLengthV6": "aggregation_length_v6",
                        "ipAddressPools": "pools", "peers": "peers"}  # fmt: skip
PEER_FIELDS = {"peerAddress": "address", "peerASN": "asn", "sourceAddress": "source_address", "password": "password",
               "ebgpMultiHop": "ebgp_multihop"}  # fmt: skip
PEER_DURATIONS = {"holdTime": "hold_time", "keepaliveTime": "keepalive_time", "connectTime": "connect_time"}
# fields that are refused unless empty (Go's omitempty zero values, as `kubectl get -o yaml` prints them)
POOL_REFUSED = {"serviceAllocation": "bgplb does not restrict a pool to namespaces or services, nor rank pools by "
                                     "priority; pick a pool with the metallb.io/address-pool annotation"}  # fmt: skip
PEER_REFUSED = {
    "vrf": "bgplb peers from the node's main routing table only (no VRFs)",
    "interface": "BGP unnumbered (peering over an interface) is not supported: give peerAddress",
    "bfdProfile": "BFD profiles are not converted: give the bgplb peer its `bfd` settings (speaker/docs/bfd.md)",
}
PEER_HANDLED = {"myASN", "dynamicASN", "peerPort", "routerID", "passwordSecret", "nodeSelectors",
                "enableGracefulRestart", "disableMP"}  # fmt: skip
ADVERTISEMENT_HANDLED = {"localPref", "communities", "ipAddressPoolSelectors", "nodeSelectors"}
PLACEHOLDER_ROUTER_ID = "192.0.2.1"  # validating without a node: never compared, never printed
_DURATION = re.compile(r"([0-9]*\.?[0-9]+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


class MetalLBError(ValidationError):
    """Manifests that cannot be converted; `errors` holds every message, each naming the manifest and the field."""


@dataclass(frozen=True)
class Conversion:
    """The bgplb objects, references first (communities, pools, peers, advertisements), each in document order."""

    documents: tuple[dict[str, Any], ...]  # `{kind: ..., ...}` as `bgplbctl apply -f` takes them (password in clear)
    objects: tuple[Any, ...]  # the same, parsed


def go_duration(value: Any) -> float:
    """A Go / Kubernetes duration (`90s`, `1m30s`, `1.5h`, `500ms`) in seconds."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a duration such as 90s or 1m30s, got {show(value)}")
    text, total = value.lstrip("+"), 0.0
    if text == "0":
        return 0.0
    pos = 0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNIT[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise ValueError(f"{show(value)} is not a duration (a number and a unit, ns to h: 90s, 1m30s)")
    return total


@dataclass
class _Manifest:
    index: int
    kind: str
    name: str
    namespace: str | None
    labels: Any
    spec: dict[str, Any]
    errors: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {where}"

    def report(self, path: str, message: str) -> None:
        self.errors.append(f"{self.label}: {path}: {message}" if path else f"{self.label}: {message}")


def _empty(value: Any) -> bool:
    return value is None or value in ("", False, 0) or value == [] or value == {}


def _flatten(manifests: Iterable[Any]) -> list[Any]:
    """Manifests, with `kind: List` / `<Kind>List` documents (`kubectl get -o yaml`) opened."""
    out = []
    for m in manifests:
        kind = m.get("kind") if isinstance(m, dict) else None
        if isinstance(kind, str) and kind.endswith("List") and isinstance(m.get("items"), list):
            out += _flatten(m["items"])
        else:
            out.append(m)
    return out


class _Converter:
    def __init__(self, node: Node, *, known: bool) -> None:
        self.node, self.asn, self.router_id = node, node.asn, node.router_id if known else None
        self.errors: list[str] = []
        self.secrets: dict[tuple[str | None, str], tuple[_Manifest, dict[str, Any]]] = {}
        self.secrets_used: set[tuple[str | None, str]] = set()
        self.large_aliases: dict[str, str] = {}
        self.out: dict[str, list[tuple[_Manifest, dict[str, Any]]]] = {"community": [], "pool": [], "peer": [],
                                                                       "advertisement": []}  # fmt: skip
        self.disable_mp: dict[str, bool] = {}

    # --- reading a manifest ---------------------------------------------------------------------------------------
    def manifest(self, index: int, doc: Any) -> _Manifest | None:
        where = f"document {index}"
        if not isinstance(doc, dict) or not isinstance(doc.get("kind"), str):
            self.errors.append(f"{where}: expected a Kubernetes manifest (a mapping with apiVersion and kind)")
            return None
        kind, meta = doc["kind"], doc.get("metadata")
        meta = meta if isinstance(meta, dict) else {}
        name = meta.get("name")
        if not isinstance(name, str) or not name:
            self.errors.append(f"{where}: {kind}: metadata.name: is required")
            return None
        namespace = meta.get("namespace") if isinstance(meta.get("namespace"), str) else None
        spec = doc.get("spec", {})
        m = _Manifest(index, kind, name, namespace, meta.get("labels") or {}, spec if isinstance(spec, dict) else {})
        if kind == "Secret" and doc.get("apiVersion") == "v1":
            self.secrets[(namespace, name)] = (m, doc)
            return None
        if kind in REFUSED_KINDS:
            m.report("", f"not converted: {REFUSED_KINDS[kind]}")
        elif kind not in VERSIONS:
            m.report("kind", f"{kind} is not a MetalLB resource bgplb reads (IPAddressPool, BGPAdvertisement, "
                             "Community, BGPPeer)")  # fmt: skip
        elif doc.get("apiVersion") not in [f"{GROUP}/{v}" for v in VERSIONS[kind]]:
            expected = " or ".join(f"{GROUP}/{v}" for v in VERSIONS[kind])
            m.report("apiVersion", f"{show(doc.get('apiVersion'))} is not {expected}")
        else:
            for key in sorted(set(doc) - TOP_LEVEL):
                m.report(key, "unknown field")
            if not isinstance(spec, dict):
                m.report("spec", f"expected a mapping, got {show(spec)}")
            return m
        self.errors += m.errors
        return None

    def fields(
        self, m: _Manifest, copied: dict[str, str], refused: dict[str, str], handled: set[str]
    ) -> dict[str, Any]:
        out: dict[str, Any] = {"name": m.name}
        for key, value in m.spec.items():
            if key in copied:
                if value is not None and value != "":  # "" is Go's unset string
                    out[copied[key]] = value
            elif key in refused:
                if not _empty(value):
                    m.report(f"spec.{key}", f"not supported: {refused[key]}")
            elif key not in handled:
                m.report(f"spec.{key}", "unknown field")
        return out

    def selectors(self, m: _Manifest, key: str) -> list[dict[str, Any]] | None:
        value = m.spec.get(key)
        if value is None:
            return None
        if not isinstance(value, list):
            m.report(f"spec.{key}", f"expected a list of label selectors, got {show(value)}")
            return None
        out = []
        for i, sel in enumerate(value):
            path = f"spec.{key}[{i}]"
            if not isinstance(sel, dict):
                m.report(path, f"expected a label selector, got {show(sel)}")
                continue
            for k in sorted(set(sel) - set(SELECTOR)):
                m.report(f"{path}.{k}", "unknown field")
            exprs = sel.get("matchExpressions") or []
            for j, e in enumerate(exprs if isinstance(exprs, list) else []):
                for k in sorted(set(e) - EXPRESSION) if isinstance(e, dict) else []:
                    m.report(f"{path}.matchExpressions[{j}].{k}", "unknown field")
            out.append({SELECTOR[k]: v for k, v in sel.items() if k in SELECTOR and v is not None})
        return out

    # --- kinds ----------------------------------------------------------------------------------------------------
    def community(self, m: _Manifest) -> None:
        self.fields(m, {}, {}, {"communities"})
        aliases = m.spec.get("communities") or []
        if not isinstance(aliases, list):
            m.report("spec.communities", f"expected a list of {{name, value}}, got {show(aliases)}")
            return
        for i, alias in enumerate(aliases):
            path = f"spec.communities[{i}]"
            if not isinstance(alias, dict):
                m.report(path, f"expected a mapping with name and value, got {show(alias)}")
                continue
            for k in sorted(set(alias) - {"name", "value"}):
                m.report(f"{path}.{k}", "unknown field")
            name, value = alias.get("name"), alias.get("value")
            if isinstance(value, str) and value.startswith("large:"):
                if isinstance(name, str):
                    self.large_aliases[name] = value.removeprefix("large:")
                continue  # bgplb's community objects are standard communities: used by value in advertisements
            self.out["community"].append((m, {"name": name, "value": value}))

    def pool(self, m: _Manifest) -> None:
        obj = self.fields(m, POOL_FIELDS, POOL_REFUSED, set())
        if m.labels:
            obj["labels"] = m.labels
        self.out["pool"].append((m, obj))

    def advertisement(self, m: _Manifest) -> None:
        obj = self.fields(m, ADVERTISEMENT_FIELDS, {}, ADVERTISEMENT_HANDLED)
        if not _empty(m.spec.get("localPref")):  # 0 is MetalLB's "not set" (omitempty)
            obj["local_pref"] = m.spec["localPref"]
        communities = m.spec.get("communities")
        if communities is not None:
            if not isinstance(communities, list):
                m.report("spec.communities", f"expected a list of strings, got {show(communities)}")
            else:
                standard, large = [], []
                for c in communities:
                    if isinstance(c, str) and c in self.large_aliases:
                        large.append(self.large_aliases[c])
                    elif isinstance(c, str) and c.startswith("large:"):
                        large.append(c.removeprefix("large:"))
                    else:
                        standard.append(c)  # a value or a standard alias: bgplb resolves and checks both
                obj.update({k: v for k, v in (("communities", standard), ("large_communities", large)) if v})
        for key, target in (("ipAddressPoolSelectors", "pool_selectors"), ("nodeSelectors", "node_selectors")):
            sel = self.selectors(m, key)
            if sel is not None:
                obj[target] = sel
        self.out["advertisement"].append((m, obj))

    def peer(self, m: _Manifest) -> None:
        spec = m.spec
        obj = self.fields(m, PEER_FIELDS, PEER_REFUSED, PEER_HANDLED | set(PEER_DURATIONS))
        my_asn = spec.get("myASN")
        if my_asn is None:
            m.report("spec.myASN", "is required")
        elif my_asn != self.asn:
            m.report("spec.myASN", f"{show(my_asn)} is not the node's asn {self.asn}: bgplb has one AS per node "
                                   "(node.asn, the inventory's bgplb_node_asn / bgplb_asn)")  # fmt: skip
        dynamic = spec.get("dynamicASN")
        if not _empty(dynamic):
            if not _empty(spec.get("peerASN")):
                m.report("spec.dynamicASN", "peerASN and dynamicASN exclude each other")
            elif dynamic == "internal":
                obj["asn"] = self.asn
            else:
                m.report("spec.dynamicASN", f"{show(dynamic)} is not supported: bgplb needs the neighbor's AS "
                                            "(give peerASN); `internal` is the node's own AS")  # fmt: skip
        if not _empty(spec.get("peerPort")):  # 0: unset, MetalLB's default 179 is bgplb's
            obj["port"] = spec["peerPort"]
        for key, target in PEER_DURATIONS.items():
            if spec.get(key) is None:
                continue
            try:
                secs = go_duration(spec[key])
            except ValueError as err:
                m.report(f"spec.{key}", str(err))
                continue
            if secs != int(secs):
                m.report(f"spec.{key}", f"{show(spec[key])} is not a whole number of seconds")
                continue
            obj[target] = int(secs)
        router_id = spec.get("routerID")
        if not _empty(router_id) and router_id != self.router_id:
            why = f"is not this node's router_id {self.router_id}" if self.router_id else "is set per node in bgplb"
            m.report("spec.routerID", f"{show(router_id)} {why}: the BGP identifier is node.router_id (inventory "
                                      "bgplb_router_id); remove routerID")  # fmt: skip
        self.password_secret(m, obj)
        # MetalLB's default is no graceful restart; bgplb's is on: keep MetalLB's behaviour
        obj["graceful_restart"] = spec.get("enableGracefulRestart") or False
        sel = self.selectors(m, "nodeSelectors")
        if sel is not None:
            obj["node_selectors"] = sel
        self.disable_mp[m.name] = spec.get("disableMP") is True
        self.out["peer"].append((m, obj))

    def password_secret(self, m: _Manifest, obj: dict[str, Any]) -> None:
        ref = m.spec.get("passwordSecret")
        if _empty(ref) or (isinstance(ref, dict) and not ref.get("name")):
            return
        path = "spec.passwordSecret"
        if not isinstance(ref, dict) or set(ref) - {"name", "namespace"}:
            m.report(path, f"expected {{name, namespace}}, got {show(ref)}")
            return
        namespace = ref.get("namespace") or m.namespace
        key = next((k for k in ((namespace, ref["name"]), (None, ref["name"])) if k in self.secrets), None)
        if key is not None:
            self.secrets_used.add(key)
        if not _empty(m.spec.get("password")):
            m.report(path, "password and passwordSecret exclude each other")
            return
        if key is None:
            m.report(path, f"Secret {namespace + '/' if namespace else ''}{ref['name']} is not among the documents: "
                           "add it (kubectl get secret -o yaml) or give password")  # fmt: skip
            return
        secret_m, secret = self.secrets[key]
        string_data, data = secret.get("stringData") or {}, secret.get("data") or {}
        if isinstance(string_data, dict) and isinstance(string_data.get("password"), str):
            obj["password"] = string_data["password"]
        elif isinstance(data, dict) and isinstance(data.get("password"), str):
            try:
                obj["password"] = base64.b64decode(data["password"], validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                secret_m.report("data.password", "is not base64 of UTF-8 text")
        else:
            secret_m.report("data.password", f"is missing: {m.label} takes its password from it")

    # --- the whole ------------------------------------------------------------------------------------------------
    def run(self, manifests: list[Any]) -> Conversion:
        read = [m for i, doc in enumerate(_flatten(manifests)) if (m := self.manifest(i, doc))]
        for kind in ("Community", "IPAddressPool", "BGPPeer", "BGPAdvertisement"):  # aliases before their users
            for m in read:
                if m.kind == kind:
                    getattr(self, {"Community": "community", "IPAddressPool": "pool", "BGPPeer": "peer",
                                   "BGPAdvertisement": "advertisement"}[kind])(m)  # fmt: skip
        for key, (m, _doc) in self.secrets.items():
            if key not in self.secrets_used:
                m.report("", "not converted: only a Secret that a BGPPeer's passwordSecret names is read")
        self.errors += [e for m in [*read, *(s for s, _ in self.secrets.values())] for e in m.errors]
        if self.errors:
            raise MetalLBError(self.errors)
        return self.validate()

    def validate(self) -> Conversion:
        parsed: dict[str, list[Any]] = {kind: [] for kind in self.out}
        origin: dict[str, str] = {}
        for kind, items in self.out.items():
            for m, data in items:
                origin[f"{kind} {data.get('name')}:"] = m.label
                try:
                    parsed[kind].append(parse_object(kind, data))
                except ObjectError as err:
                    self.errors.append(f"{m.label}: {err}")
        if self.errors:
            raise MetalLBError(self.errors)
        config = self.config(parsed)
        if self.multiprotocol(config):
            parsed["peer"] = [parse_object("peer", data) for _, data in self.out["peer"]]
            config = self.config(parsed)
        try:
            validate_config(config)
        except ValidationError as err:
            for e in err.errors:
                label = next((lbl for prefix, lbl in origin.items() if e.startswith(prefix)), None)
                self.errors.append(f"{label}: {e}" if label else e)
        if self.errors:
            raise MetalLBError(self.errors)
        objects = tuple(o for kind in self.out for o in parsed[kind])
        documents = tuple({"kind": kind, **data} for kind, items in self.out.items() for _, data in items)
        return Conversion(documents, objects)

    def config(self, parsed: dict[str, list[Any]]) -> Config:
        return Config(
            node=self.node,
            peers=tuple(parsed["peer"]),
            pools=tuple(parsed["pool"]),
            communities=tuple(parsed["community"]),
            advertisements=tuple(parsed["advertisement"]),
        )

    def multiprotocol(self, config: Config) -> bool:
        """MetalLB (disableMP: false, its default) announces both families over one session; a bgplb peer announces
        its session's family unless `families` says otherwise. A peer that an advertisement sends a pool of the other
        family gets `families: [ipv4, ipv6]` (which needs the node's next hop of that family); True if any did."""
        pools = {p.name: p for p in config.pools}
        changed = False
        for peer, (_, data) in zip(config.peers, self.out["peer"], strict=True):
            if self.disable_mp.get(peer.name) or peer.families:
                continue
            version = 6 if ":" in peer.address else 4
            if any(n.version != version for adv in config.advertisements
                   if peer.name in [p.name for p in advertised_peers(config, adv)]
                   for name in advertised_pools(config, adv) for n in pool_networks(pools[name])):  # fmt: skip
                data["families"] = ["ipv4", "ipv6"]
                changed = True
        return changed


def convert(manifests: Iterable[Any], *, node: Node | None = None, asn: int | None = None) -> Conversion:
    """Convert MetalLB manifests (dicts as read from YAML; `List` documents opened) and validate the result with
    bgplb's rules for `node` (its asn must be each BGPPeer's myASN; a BGPPeer's routerID may repeat its router_id).
    Without a node (converting for the inventory): `asn` alone, the routerID refused, next hops assumed present
    (`bgplbctl apply` on the node checks them). Raises MetalLBError with every message."""
    if node is None:
        if asn is None:
            raise TypeError("convert() needs node or asn")
        node = Node(name="metallb-import", router_id=PLACEHOLDER_ROUTER_ID, asn=asn, ipv4_next_hop="192.0.2.1",
                    ipv6_next_hop="2001:db8::1")  # fmt: skip
        return _Converter(node, known=False).run(list(manifests))
    return _Converter(node, known=True).run(list(manifests))
