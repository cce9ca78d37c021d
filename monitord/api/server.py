"""The HTTP API: an aiohttp server run by the daemon as a Service.

Endpoints:

* ``GET /healthz`` — the event loop answers (``ok``);
* ``GET /readyz`` — configuration loaded, store writable (a cheap write to its meta table),
  scheduler running; 503 with the reasons otherwise;
* ``GET /metrics`` — Prometheus text format (:mod:`monitord.api.metrics`);
* ``GET /api/v1/status`` — JSON of every client and site (:mod:`monitord.api.status`);
* ``GET /`` — the status page (:mod:`monitord.api.status_page`);
* ``GET|POST /heartbeat/{token}`` — a beat for a heartbeat check;
* ``GET /hours/{token}`` — a client's hours page, behind its own ``contract.page_token``
  (:mod:`monitord.report.hours_page`).

Auth: on a loopback address (the default, 127.0.0.1:8470) nothing is asked. When ``listen`` is
reachable from the network, or ``http.require_token`` is set, every endpoint but ``/healthz``
and ``/heartbeat/…`` needs ``Authorization: Bearer <http.token>``; without it the answer is 401
and nothing else. Tokens are compared in constant time. There is no access log: heartbeat URLs
carry their token, and a log must never hold a secret.

Connections are capped and timed (:mod:`monitord.api.guard`): ``http.max_connections`` at once
(lowered to fit the daemon's open-file budget, :mod:`monitord.fds`), closed when idle, when a
request's headers trickle in too slowly, or when a request takes too long. API clients can
never take the open files that probes and mail need.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web

from monitord.api import status as status_mod
from monitord.api.guard import ConnectionGuard, GuardSettings
from monitord.api.metrics import CONTENT_TYPE, DaemonMetrics
from monitord.api.status_page import render
from monitord.api.storeview import SharedReader
from monitord.config.models import HttpConfig
from monitord.errors import StoreError
from monitord.limits import API_LISTEN_BACKLOG, HEALTH_STORE_TIMEOUT
from monitord.logsetup import get_logger
from monitord.probes.heartbeat import receive_beat

if TYPE_CHECKING:
    from monitord.runtime import ServiceRuntime

API_MAX_BODY_BYTES = 16 * 1024
"""Largest request body read (aiohttp ``client_max_size``): no endpoint needs one (a heartbeat
may carry a little job output, which is ignored); a bigger body is refused with 413."""

API_SHUTDOWN_TIMEOUT = timedelta(seconds=2)
"""How long stopping waits for requests in flight: they are all quick reads."""

READYZ_META_KEY = "api.readyz"
"""The meta row /readyz rewrites to prove the store takes writes."""

AUTH_FREE_PATHS = ("/healthz",)
AUTH_FREE_PREFIXES = ("/heartbeat/", "/hours/")
"""Reachable without the bearer token: liveness, heartbeats and client hours pages (their URL
holds a secret of its own)."""

UNAUTHORIZED_BODY = "401: Unauthorized\n"

SERVICE_KEY: web.AppKey[ApiService] = web.AppKey("monitord_api_service")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def bearer_matches(header: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header carries ``Bearer <token>`` (constant-time)."""
    if not header:
        return False
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(value.strip().encode(), token.encode())


def needs_token(path: str) -> bool:
    return path not in AUTH_FREE_PATHS and not path.startswith(AUTH_FREE_PREFIXES)


@web.middleware
async def _auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    service = request.app[SERVICE_KEY]
    http = service.http
    if http.auth_required and needs_token(request.path):
        token = http.token.get_secret_value() if http.token is not None else None
        if token is None or not bearer_matches(request.headers.get("Authorization"), token):
            return web.Response(
                status=401,
                text=UNAUTHORIZED_BODY,
                headers={"WWW-Authenticate": 'Bearer realm="monitord"'},
            )
    return await handler(request)


@web.middleware
async def _headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response


def _runtime(request: web.Request) -> ServiceRuntime:
    runtime = request.app[SERVICE_KEY].runtime
    if runtime is None:
        raise web.HTTPServiceUnavailable(text="monitord is starting\n")
    return runtime


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok\n")


async def readyz(request: web.Request) -> web.Response:
    runtime = _runtime(request)
    problems: list[str] = []
    if runtime.stopping:
        problems.append("stopping")
    if not runtime.scheduler_running:
        problems.append("scheduler not running")
    health = runtime.store_health
    if health.failing_since is not None:
        # Not tried again here: the daemon is retrying its own writes (monitord.pipeline).
        problems.append(
            f"store failing since {health.failing_since.isoformat()}: {health.last_error} "
            f"({health.failures} refused writes so far, retried until stored; see "
            "store.write_failed in the log)"
        )
    else:
        try:
            async with asyncio.timeout(HEALTH_STORE_TIMEOUT.total_seconds()):
                await runtime.store.set_meta(
                    READYZ_META_KEY, runtime.clock().isoformat(), leader_only=False
                )
        except StoreError as exc:
            problems.append(f"store not writable: {exc}")
        except TimeoutError:
            problems.append(
                f"store not answering within {HEALTH_STORE_TIMEOUT.total_seconds():g} s: "
                "another program may hold the state file's lock, or the disk is stalled"
            )
    body = {"ready": not problems, "problems": problems}
    return web.json_response(body, status=200 if not problems else 503, dumps=_dumps)


async def metrics(request: web.Request) -> web.Response:
    service = request.app[SERVICE_KEY]
    _runtime(request)
    body = await service.metrics.render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


async def api_status(request: web.Request) -> web.Response:
    snap = await status_mod.collect(_runtime(request), request.app[SERVICE_KEY].reader)
    return web.json_response(snap, dumps=_dumps)


async def status_page(request: web.Request) -> web.Response:
    snap = await status_mod.collect(_runtime(request), request.app[SERVICE_KEY].reader)
    return web.Response(text=render(snap), content_type="text/html", charset="utf-8")


async def heartbeat(request: web.Request) -> web.Response:
    runtime = _runtime(request)
    await request.read()  # enforces client_max_size (413 past it); the content is ignored
    key = runtime.heartbeats.lookup(request.match_info["token"])
    if key is None:
        return web.Response(status=404, text="unknown heartbeat token\n")
    try:
        await receive_beat(runtime, key)
    except StoreError:
        request.app[SERVICE_KEY].log.error("heartbeat.not_recorded", check=key)
        return web.Response(
            status=503, text="beat not recorded: monitord's store is failing; try again\n"
        )
    return web.json_response({"ok": True, "check": key}, dumps=_dumps)


async def hours_page(request: web.Request) -> web.Response:
    from monitord.report.hours_page import client_for_token, hours_page, render_page

    runtime = _runtime(request)
    config = runtime.config()
    client = client_for_token(config, request.match_info["token"])
    if client is None:
        raise web.HTTPNotFound()
    page = await asyncio.to_thread(hours_page, config, client, runtime.clock())
    return web.Response(text=render_page(page), content_type="text/html", charset="utf-8")


def _dumps(obj: Any) -> str:
    return json.dumps(obj, indent=1, sort_keys=False)


def make_app(service: ApiService) -> web.Application:
    app = web.Application(
        middlewares=[service.guard.middleware, _headers, _auth],
        client_max_size=API_MAX_BODY_BYTES,
    )
    app[SERVICE_KEY] = service
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/api/v1/status", api_status)
    app.router.add_get("/", status_page)
    app.router.add_route("GET", "/heartbeat/{token}", heartbeat)
    app.router.add_route("POST", "/heartbeat/{token}", heartbeat)
    app.router.add_get("/hours/{token}", hours_page)
    return app


def base_url(host: str, port: int) -> str:
    h = f"[{host}]" if ":" in host else host
    return f"http://{h}:{port}/"


class ApiService:
    """The HTTP server as a daemon service (``monitord.runtime.Service``).

    With ``http.listen: off`` it runs nothing (a reload may turn it on). A listen address that
    cannot be bound is logged as an error and monitoring goes on without the API.
    """

    name = "http"

    def __init__(self, http: HttpConfig) -> None:
        self.http = http
        self.reader = SharedReader()
        """The store's read-only view for /metrics and the status (one connection on
        PostgreSQL, closed at stop)."""
        self.metrics = DaemonMetrics(self.reader)
        self.runtime: ServiceRuntime | None = None
        self.bound: tuple[str, int] | None = None
        """Where the server listens (the real port when ``listen`` said port 0)."""
        self.log = get_logger(component="api")
        self.max_connections = http.max_connections
        """The connection cap in force: http.max_connections, lowered to the daemon's budget."""
        self.guard = ConnectionGuard(self._guard_settings(), self.log.warning)
        self._runner: web.AppRunner | None = None
        self._server: asyncio.Server | None = None

    def _guard_settings(self) -> GuardSettings:
        return GuardSettings(
            max_connections=self.max_connections,
            idle_timeout=self.http.idle_timeout.total_seconds(),
            header_timeout=self.http.header_timeout.total_seconds(),
            request_timeout=self.http.request_timeout.total_seconds(),
        )

    def _fit_budget(self, runtime: ServiceRuntime) -> None:
        """Lower the cap to what the daemon's open-file budget gives the API."""
        wanted = self.http.max_connections
        plan = runtime.fd_plan
        self.max_connections = wanted if plan is None else min(wanted, plan.api_connections)
        if self.max_connections < wanted and plan is not None:
            self.log.warning(
                "api.max_connections_lowered",
                configured=wanted,
                max_connections=self.max_connections,
                fd_limit=plan.limit,
                hint=f"the open-file limit {plan.limit} leaves room for {self.max_connections} "
                f"API connections; raise LimitNOFILE= to at least {plan.needed} "
                "(docs/service.md) or lower http.max_connections",
            )
        self.guard.settings = self._guard_settings()

    @property
    def url(self) -> str | None:
        return base_url(*self.bound) if self.bound is not None else None

    async def start(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime
        self._fit_budget(runtime)
        await self.metrics.attach(runtime)
        await self._listen()

    async def _listen(self) -> None:
        addr = self.http.address
        if addr is None:
            return
        host, port = addr
        runner = web.AppRunner(
            make_app(self),
            handle_signals=False,
            access_log=None,
            shutdown_timeout=API_SHUTDOWN_TIMEOUT.total_seconds(),
        )
        await runner.setup()
        assert runner.server is not None
        loop = asyncio.get_running_loop()
        try:
            # Our own listening socket instead of a TCPSite: every connection passes the guard.
            server = await loop.create_server(
                self.guard.protocol_factory(runner.server),
                host,
                port,
                backlog=API_LISTEN_BACKLOG,
            )
        except OSError as exc:
            await runner.cleanup()
            self.log.error(
                "api.listen_failed",
                listen=self.http.listen,
                error=exc.strerror or str(exc),
                hint="another program uses this address, or it is not on this machine: set "
                "http.listen to a free HOST:PORT (or off) and reload",
            )
            return
        name = server.sockets[0].getsockname()
        self.bound = (str(name[0]), int(name[1]))
        self._runner = runner
        self._server = server
        self.log.info(
            "api.listening",
            url=self.url,
            auth="bearer token" if self.http.auth_required else "none (loopback)",
            max_connections=self.max_connections,
        )

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()  # stop accepting; the runner ends the connections
            self._server = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            self.bound = None
        self.guard.close_all()

    async def stop(self) -> None:
        await self._close()
        self.metrics.detach()
        await asyncio.to_thread(self.reader.close)

    async def reload(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime
        new = runtime.config().main.http
        old, self.http = self.http, new  # a new token applies to the next request
        self._fit_budget(runtime)  # new cap and timeouts apply to the next connection or request
        if new.listen != old.listen or self._runner is None:
            await self._close()
            await self._listen()


def api_service(runtime: ServiceRuntime) -> ApiService:
    """The service factory for ``daemon.default_services()``."""
    return ApiService(runtime.config().main.http)
