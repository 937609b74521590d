"""Address allocation for Kubernetes LoadBalancer Services (pure): from the pools and every Service's spec and
status, what to write into which `status.loadBalancer.ingress`, and which Events to raise.

The state is the Services' status itself: a new allocator (after a failover or restart) rebuilds everything from it
and never changes an address a Service already holds, unless the Service's own request changed. Rules:
- requested addresses: annotation `metallb.io/loadBalancerIPs` (comma separated, one per family), else
  `spec.loadBalancerIP`; they must lie in a pool (in the annotated one, if any) and be free or shareable;
- `metallb.io/address-pool`: take from that pool only (also one with `auto_assign: false`); otherwise the pools with
  `auto_assign` in configuration order;
- `metallb.io/allow-shared-ip`: Services with the same key share an address when their ports (protocol, port) do not
  overlap and their `externalTrafficPolicy` is the same; an address already shared under the key is preferred;
- families: the requested addresses' families, else `ipFamilyPolicy`/`ipFamilies` (SingleStack: the first family;
  PreferDualStack: every family that a pool can serve, at least one; RequireDualStack: all of them or none);
- an address claimed by two Services (edited by hand, or an old allocator's race) stays with the older Service; the
  newer one loses it and is allocated anew, with an Event saying why.
The `metallb.universe.tf/` prefix is accepted for every annotation. Addresses are picked by rendezvous hashing of
`<namespace>/<name>` (`bgplb.model.addresses.assign`), so the same inputs give the same answer on every node.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bgplb.model import Pool
from bgplb.model.addresses import assign, pool_networks
from bgplb.sources.kube.announce import served
from bgplb.sources.kube.objects import Key, ServiceView

FAMILIES = ("IPv4", "IPv6")


@dataclass(frozen=True)
class Decision:
    """Write `ingress` (None: leave the status alone) and raise an Event (`warning`: type Warning)."""

    key: Key
    uid: str
    resource_version: str
    ingress: tuple[str, ...] | None
    reason: str
    message: str
    warning: bool = False


class Refused(ValueError):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def family_of(address: str) -> str:
    return "IPv6" if ipaddress.ip_address(address).version == 6 else "IPv4"


def _pool_family(pool: Pool, family: str) -> Pool | None:
    entries = tuple(a for a in pool.addresses if (":" in a) == (family == "IPv6"))
    return dataclasses.replace(pool, addresses=entries) if entries else None


def _requested(svc: ServiceView) -> tuple[str, ...]:
    text = svc.annotation("loadBalancerIPs")
    items = [x.strip() for x in text.split(",") if x.strip()] if text else []
    if not items and svc.load_balancer_ip:
        items = [svc.load_balancer_ip]
    for item in items:
        try:
            ipaddress.ip_address(item)
        except ValueError:
            raise Refused("InvalidAnnotation", f"requested address {item!r} is not an IP address") from None
    if len({family_of(i) for i in items}) != len(items):
        raise Refused("InvalidAnnotation", f"at most one requested address per family, got {', '.join(items)}")
    return tuple(str(ipaddress.ip_address(i)) for i in items)


def _families(svc: ServiceView) -> tuple[tuple[str, ...], bool]:
    """The families to allocate in order, and whether all of them are required."""
    families = tuple(f for f in svc.ip_families if f in FAMILIES) or ("IPv4",)
    if svc.ip_family_policy in ("PreferDualStack", "RequireDualStack"):
        return tuple(dict.fromkeys(families + FAMILIES)), svc.ip_family_policy == "RequireDualStack"
    return families[:1], True


def _sharing_key(svc: ServiceView) -> str | None:
    return svc.annotation("allow-shared-ip") or None


def compatible(a: ServiceView, b: ServiceView) -> bool:
    """Whether two Services may share an address."""
    key = _sharing_key(a)
    return (
        key is not None
        and key == _sharing_key(b)
        and a.traffic_policy == b.traffic_policy
        and not set(a.ports) & set(b.ports)
    )


class Allocator:
    """One allocation pass over a consistent snapshot. `taken` maps an address to the Services holding it."""

    def __init__(self, pools: Sequence[Pool]) -> None:
        self.pools = list(pools)
        self.networks = {p.name: pool_networks(p) for p in self.pools}  # parsed once per pass, not per address
        self.holders: dict[str, list[ServiceView]] = {}

    def in_pool(self, pool: Pool, address: str) -> bool:
        ip = ipaddress.ip_address(address)
        return any(ip in net for net in self.networks[pool.name])

    def pool_of(self, address: str) -> Pool | None:
        return next((p for p in self.pools if self.in_pool(p, address)), None)

    def _free_for(self, svc: ServiceView, address: str) -> ServiceView | None:
        """None if `svc` may use `address`, else a holder it conflicts with."""
        return next((h for h in self.holders.get(address, ()) if h.key != svc.key and not compatible(h, svc)), None)

    def _hold(self, svc: ServiceView, addresses: Iterable[str]) -> None:
        for a in addresses:
            self.holders.setdefault(a, []).append(svc)

    def keeps(self, svc: ServiceView) -> str | None:
        """None if the Service's current addresses stand, else why not."""
        try:
            requested = _requested(svc)
        except Refused:
            requested = ()
        if requested and set(requested) != set(svc.ingress):
            return f"the requested addresses changed to {', '.join(requested)}"
        pool_name = svc.annotation("address-pool")
        for address in svc.ingress:
            pool = self.pool_of(address)
            if pool is None:
                return None  # outside every pool (a pool was removed): kept, never announced, never reassigned
            if pool_name and pool.name != pool_name:
                return f"the address-pool annotation changed to {pool_name}"
            holder = self._free_for(svc, address)
            if holder is not None:
                return f"{address} is also held by the older service {holder.namespace}/{holder.name}"
        return None

    def allocate(self, svc: ServiceView) -> tuple[str, ...]:
        pool_name = svc.annotation("address-pool")
        if pool_name and not any(p.name == pool_name for p in self.pools):
            raise Refused("PoolNotFound", f"no pool named {pool_name!r}")
        requested = _requested(svc)
        if requested:
            for address in requested:
                pool = self.pool_of(address)
                if pool is None or (pool_name and pool.name != pool_name):
                    where = f"pool {pool_name}" if pool_name else "any pool"
                    raise Refused("AddressOutsidePools", f"requested address {address} is not in {where}")
                holder = self._free_for(svc, address)
                if holder is not None:
                    raise Refused(
                        "AddressInUse",
                        f"{address} is used by {holder.namespace}/{holder.name}"
                        + (" (sharing key or ports do not match)" if _sharing_key(svc) else ""),
                    )
            return requested
        families, required = _families(svc)
        candidates = (
            [p for p in self.pools if p.name == pool_name] if pool_name else [p for p in self.pools if p.auto_assign]
        )
        out = []
        for family in families:
            picked = self._pick(svc, family, candidates)
            if picked is None and required:
                where = f"pool {pool_name}" if pool_name else "the auto-assign pools"
                raise Refused("PoolExhausted", f"no free {family} address in {where}")
            if picked is not None:
                out.append(picked)
        if not out:
            raise Refused("PoolExhausted", f"no free address of {' or '.join(families)} in any pool")
        return tuple(out)

    def _pick(self, svc: ServiceView, family: str, pools: list[Pool]) -> str | None:
        key = _sharing_key(svc)
        for pool in pools:
            if key:
                shared = next(
                    (
                        a
                        for a, hs in self.holders.items()
                        if family_of(a) == family and self.in_pool(pool, a) and all(compatible(h, svc) for h in hs)
                    ),
                    None,
                )
                if shared:
                    return shared
            sub = _pool_family(pool, family)
            if sub is not None:
                address = assign(sub, f"{svc.namespace}/{svc.name}", set(self.holders))
                if address is not None:
                    return address
        return None


def plan(
    pools: Sequence[Pool],
    services: Iterable[ServiceView],
    *,
    load_balancer_class: str,
    serve_unclassed: bool,
    pending: Iterable[tuple[ServiceView, tuple[str, ...]]] = (),
    skip: frozenset[tuple[str, str]] = frozenset(),
    limit: int | None = None,
) -> list[Decision]:
    """The status writes and Events needed now, oldest Services first. `pending`: writes sent but not yet seen back
    through the watch, which count as held. `skip`: (uid, resourceVersion) of Services refused before and unchanged
    since (not decided again). `limit`: at most this many decisions (the caller asks again for the rest)."""
    alloc = Allocator(pools)
    everything = sorted(services, key=lambda s: (s.created, s.namespace, s.name))
    ours = [s for s in everything if served(s, load_balancer_class, serve_unclassed)]
    pending = list(pending)
    pending_by_key = {svc.key: ingress for svc, ingress in pending}
    our_keys = {s.key for s in ours}
    for svc in everything:  # addresses of other load balancers in our pools are not ours to give
        if svc.type == "LoadBalancer" and svc.key not in our_keys and svc.key not in pending_by_key:
            alloc._hold(svc, svc.ingress)
    for svc, ingress in pending:
        alloc._hold(svc, ingress)
    decisions: list[Decision] = []
    todo: list[tuple[ServiceView, str | None]] = []
    for svc in ours:
        if svc.key in pending_by_key:
            continue
        if not svc.ingress:
            todo.append((svc, None))
            continue
        why = alloc.keeps(svc)
        if why is None:
            alloc._hold(svc, svc.ingress)
        else:
            todo.append((svc, why))
    for svc, why in todo:
        if limit is not None and len(decisions) >= limit:
            break
        if (svc.uid, svc.resource_version) in skip:
            continue
        try:
            ingress = alloc.allocate(svc)
        except Refused as err:
            decisions.append(
                Decision(
                    svc.key,
                    svc.uid,
                    svc.resource_version,
                    () if svc.ingress else None,
                    err.reason,
                    str(err) + (f" ({why})" if why else ""),
                    warning=True,
                )
            )
            continue
        alloc._hold(svc, ingress)
        note = f" ({why})" if why else ""
        decisions.append(
            Decision(
                svc.key, svc.uid, svc.resource_version, ingress, "IPAllocated", f"assigned {', '.join(ingress)}{note}"
            )
        )
    return decisions
