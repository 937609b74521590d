"""TCP sockets for BGP: source address, TCP MD5 signatures (RFC 2385), TTL for eBGP multihop and GTSM (RFC 5082)."""

from __future__ import annotations

import ipaddress
import socket
import struct

TCP_MD5SIG = 14  # linux/tcp.h
TCP_MD5SIG_MAXKEYLEN = 80
IP_MINTTL = 21  # linux/in.h
IPV6_MINHOPCOUNT = 73  # linux/in6.h
GTSM_TTL = 255  # RFC 5082: send with the maximum TTL; a directly connected peer's segments arrive with 255


def gtsm_min_ttl(hops: int = 1) -> int:
    """The smallest TTL accepted from a peer `hops` hops away under GTSM (FRR's `ttl-security hops N`)."""
    if not 1 <= hops <= 254:
        raise ValueError(f"GTSM hops must be from 1 to 254, got {hops}")
    return GTSM_TTL - hops + 1


def family_of(address: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET


def _md5sig(peer: str, password: str) -> bytes:
    """`struct tcp_md5sig` for one peer address; an empty password removes the key."""
    key = password.encode()
    if len(key) > TCP_MD5SIG_MAXKEYLEN:
        raise ValueError(f"TCP MD5 password longer than {TCP_MD5SIG_MAXKEYLEN} bytes")
    ip = ipaddress.ip_address(peer)
    if ip.version == 4:
        sockaddr = struct.pack("=HH4s", socket.AF_INET, 0, ip.packed)
    else:
        sockaddr = struct.pack("=HHI16sI", socket.AF_INET6, 0, 0, ip.packed, 0)
    sockaddr = sockaddr.ljust(128, b"\0")  # struct __kernel_sockaddr_storage
    return sockaddr + struct.pack("=BBHI80s", 0, 0, len(key), 0, key)


def set_md5(sock: socket.socket, peer: str, password: str) -> None:
    """Sign (or, with an empty password, stop signing) segments to and from `peer` on `sock`."""
    sock.setsockopt(socket.IPPROTO_TCP, TCP_MD5SIG, _md5sig(peer, password))


def set_ttl(sock: socket.socket, ttl: int | None, min_ttl: int | None) -> None:
    """Outgoing TTL / hop limit, and the minimum accepted on incoming segments (GTSM; 0 accepts any).

    On a listening socket the minimum also applies to the SYNs it receives, and accepted sockets inherit it.
    """
    v6 = sock.family == socket.AF_INET6
    if ttl is not None:
        if v6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, ttl)
        else:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
    if min_ttl is not None:
        if v6:
            sock.setsockopt(socket.IPPROTO_IPV6, IPV6_MINHOPCOUNT, min_ttl)
        else:
            sock.setsockopt(socket.IPPROTO_IP, IP_MINTTL, min_ttl)


def client_socket(
    peer: str,
    *,
    source_address: str | None = None,
    password: str | None = None,
    ttl: int | None = None,
    min_ttl: int | None = None,
) -> socket.socket:
    """A non-blocking socket ready to connect to `peer`."""
    sock = socket.socket(family_of(peer), socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if password:
            set_md5(sock, peer, password)
        set_ttl(sock, ttl, min_ttl)
        if source_address:
            sock.bind((source_address, 0))
    except BaseException:
        sock.close()
        raise
    return sock


def listen_socket(address: str, port: int) -> socket.socket:
    """A listening socket; IPv6 sockets are v6-only so an IPv4 one can listen on the same port."""
    sock = socket.socket(family_of(address), socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if sock.family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((address, port))
        sock.listen(64)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock
