"""tcp probe: the port accepts a connection (the runner bounds how long that may take), from
the check's source address when it has one (ProbeContext.source_of)."""

from __future__ import annotations

import asyncio
import time

from monitord.config.models import Site, TcpCheck
from monitord.probes.base import ProbeContext, ProbeResult, describe_oserror, format_ms


async def probe(site: Site, spec: TcpCheck, ctx: ProbeContext) -> ProbeResult:
    host = spec.host or site.host
    source = ctx.source_of(spec)
    loop = asyncio.get_running_loop()
    start = time.perf_counter()
    try:
        transport, _ = await loop.create_connection(
            asyncio.Protocol, host, spec.port, local_addr=(source, 0) if source else None
        )
    except OSError as exc:
        return ProbeResult(
            ok=False,
            message=describe_oserror(exc, source),
            details={"host": host, "port": spec.port},
        )
    connect = time.perf_counter() - start
    peer = transport.get_extra_info("peername")
    transport.close()
    return ProbeResult(
        ok=True,
        message=f"port {spec.port} open, connected in {format_ms(connect)}",
        details={
            "host": host,
            "port": spec.port,
            "address": peer[0] if peer else None,
            "connect_time": connect,
        },
    )
