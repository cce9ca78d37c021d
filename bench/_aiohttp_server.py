"""The benchmarks' fallback site server when nginx is not installed: aiohttp answering
``200`` with a small page on HTTP and HTTPS, on every loopback address given, in a process
of its own (bench/_infra.py starts it in its own process group and stops it)."""

from __future__ import annotations

import argparse
import asyncio
import signal
import ssl

from aiohttp import web

PAGE = b"<!doctype html><title>bench</title><p>monitord bench"
"""About the size of the page nginx serves in the same role (a few dozen bytes)."""


async def _page(_request: web.Request) -> web.Response:
    return web.Response(body=PAGE, content_type="text/html")


async def serve(args: argparse.Namespace) -> None:
    app = web.Application()
    app.router.add_get("/{tail:.*}", _page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(args.cert, args.key)
    # As the nginx set-up: no session resumption, so every HTTPS probe pays a full handshake.
    tls.options |= ssl.OP_NO_TICKET
    for host in args.hosts.split(","):
        await web.TCPSite(runner, host, args.http_port, backlog=1024).start()
        await web.TCPSite(runner, host, args.https_port, ssl_context=tls, backlog=1024).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--https-port", type=int, required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--hosts", default="127.0.0.1")
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
