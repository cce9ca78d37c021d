"""dns probe: the name resolves (through the system resolver), optionally to given addresses.

It does not bind to a source address (ProbeContext.source_address): ``getaddrinfo`` asks the
system's resolver, which sends its queries from an address of its own choosing and has no way
to be told one. Asking DNS servers directly instead would change what the check measures: the
name as this host resolves it (/etc/hosts, nsswitch, the resolver's search list and cache).
The configuration refuses a dns check's own ``source_address`` for that reason.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

from monitord.config.models import DnsCheck, Site
from monitord.probes.base import ProbeContext, ProbeResult, describe_gaierror

MAX_ADDRESSES_SHOWN = 4
"""Answers listed in a message; the full list is in details["addresses"]."""


def _normal(address: str) -> str:
    """One spelling per address (``::1`` and ``0:0::1`` compare equal); non-IPs stay as given."""
    try:
        return str(ipaddress.ip_address(address.split("%", 1)[0]))
    except ValueError:
        return address


def _sort_key(address: str) -> tuple[int, int | str]:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return (2, address)
    return (0 if ip.version == 4 else 1, int(ip))


def _shown(addresses: list[str]) -> str:
    more = len(addresses) - MAX_ADDRESSES_SHOWN
    text = ", ".join(addresses[:MAX_ADDRESSES_SHOWN])
    return text + (f" and {more} more" if more > 0 else "")


def evaluate_answers(name: str, answers: list[str], expected: tuple[str, ...]) -> ProbeResult:
    """The verdict on a lookup's answers (pure)."""
    got = sorted({_normal(a) for a in answers}, key=_sort_key)
    details = {"name": name, "addresses": got}
    want = [_normal(a) for a in expected]
    missing = [a for a in want if a not in got]
    if missing:
        return ProbeResult(
            ok=False,
            message=f"resolves to {_shown(got)}, expected {', '.join(missing)}",
            details={**details, "missing": missing},
        )
    return ProbeResult(ok=True, message=f"resolves to {_shown(got)}", details=details)


async def probe(site: Site, spec: DnsCheck, ctx: ProbeContext) -> ProbeResult:
    name = spec.name or site.host
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(name, None, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        return ProbeResult(ok=False, message=describe_gaierror(exc), details={"name": name})
    except UnicodeError:
        return ProbeResult(
            ok=False,
            message=f"{name!r} is not a valid host name; check the name in the configuration",
            details={"name": name},
        )
    return evaluate_answers(name, [str(info[4][0]) for info in infos], spec.addresses)
