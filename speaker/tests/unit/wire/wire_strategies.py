"""Hypothesis strategies for well-formed BGP values."""

from __future__ import annotations

import ipaddress

from hypothesis import strategies as st

from bgplb.bgp import wire

asn = st.integers(1, 2**32 - 1)
u32 = st.integers(0, 2**32 - 1)
ipv4 = st.integers(1, 2**32 - 1).map(lambda i: str(ipaddress.IPv4Address(i)))
ipv6 = st.integers(1, 2**128 - 1).map(lambda i: str(ipaddress.IPv6Address(i)))


def _nlri(bits: int) -> st.SearchStrategy[bytes]:
    def build(args: tuple[int, int]) -> bytes:
        length, value = args
        net = (ipaddress.IPv4Network if bits == 32 else ipaddress.IPv6Network)(
            (value >> (bits - length) << (bits - length), length)
        )
        return wire.prefix_to_nlri(net)

    return st.tuples(st.integers(0, bits), st.integers(0, 2**bits - 1)).map(build)


nlri4 = _nlri(32)
nlri6 = _nlri(128)
families = st.lists(st.sampled_from([(1, 1), (2, 1), (1, 2), (2, 4)]), unique=True, max_size=4).map(tuple)

capabilities = st.builds(
    wire.Capabilities,
    families=families,
    asn4=st.none() | asn,
    route_refresh=st.booleans(),
    graceful_restart=st.none()
    | st.builds(
        wire.GracefulRestart,
        restart_time=st.integers(0, 4095),
        restarting=st.booleans(),
        families=st.lists(st.tuples(st.sampled_from([1, 2]), st.just(1), st.booleans()), max_size=2).map(tuple),
        notification=st.booleans(),
    ),
    extended_message=st.booleans(),
    unknown=st.lists(st.tuples(st.integers(70, 127), st.binary(max_size=8)), max_size=2).map(tuple),
)
opens = st.builds(
    lambda a, hold, rid, caps: wire.Open(
        a,
        hold,
        rid,
        caps
        if a <= 0xFFFF or caps.asn4 == a
        else wire.Capabilities(**{**{f: getattr(caps, f) for f in caps.__dataclass_fields__}, "asn4": a}),
    ),
    asn.filter(lambda a: a != wire.AS_TRANS),
    st.sampled_from([0, 3, 9, 90, 180, 65535]),
    ipv4,
    capabilities,
).filter(lambda o: o.capabilities.asn4 in (None, o.asn))

path_attributes = st.builds(
    wire.PathAttributes,
    origin=st.integers(0, 2),
    as_path=st.lists(asn, max_size=300).map(tuple),
    next_hop=ipv4,
    med=st.none() | u32,
    local_pref=st.none() | u32,
    communities=st.lists(u32, max_size=20).map(tuple),
    large_communities=st.lists(st.tuples(u32, u32, u32), max_size=5).map(tuple),
)
mp_reach = st.builds(wire.MPReach, afi=st.just(2), safi=st.just(1),
                     next_hops=st.lists(ipv6, min_size=1, max_size=2).map(tuple),
                     nlri=st.lists(nlri6, max_size=20).map(tuple))  # fmt: skip
mp_unreach = st.builds(
    wire.MPUnreach, afi=st.just(2), safi=st.just(1), withdrawn=st.lists(nlri6, max_size=20).map(tuple)
)
