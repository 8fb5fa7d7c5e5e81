"""The client's IP address, believing X-Forwarded-For only as far as our own proxies wrote it.

Each trusted proxy appends the address it saw to X-Forwarded-For, so with N proxies in front the
N-th entry from the right is the client as the outermost proxy saw it. Anything further left
was written by the client and cannot be trusted: reading it would let one sender pose as many
and dodge the rate limits.
"""

import ipaddress

from django.conf import settings


def _valid_ip(value: str) -> str | None:
    """The address in canonical form; an IPv4-mapped IPv6 address (`::ffff:1.2.3.4`) is its IPv4
    address, so a dual-stack listener cannot give one client two rate-limit buckets."""
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address)


def client_ip(request) -> str:
    remote_addr = _valid_ip(request.META.get("REMOTE_ADDR", "")) or ""
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote_addr
    chain = [
        entry.strip()
        for entry in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if entry.strip()
    ]
    if not chain:
        return remote_addr
    # Fewer entries than proxies: the leftmost one was still written by a proxy of ours.
    entry = chain[-proxies] if len(chain) >= proxies else chain[0]
    return _valid_ip(entry) or remote_addr


def client_ip_ratelimit_key(group, request) -> str:
    """django-ratelimit key: the client IP, widened to its /64 for IPv6.

    One IPv6 subscriber usually holds a whole /64, so counting single addresses would let them
    rotate through billions of keys.
    """
    ip = client_ip(request)
    if not ip:
        return "unknown"
    address = ipaddress.ip_address(ip)
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return ip
