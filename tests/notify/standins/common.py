"""What every stand-in shares: a record of requests and failures on demand."""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    """Lower-case names."""
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Failure:
    status: int
    body: str
    headers: dict[str, str]
    echo: str | None
    """A request header whose value the failure body repeats (a hostile or careless server)."""


@dataclass
class StandIn:
    """Records requests; answers queued failures before doing the real work."""

    requests: list[Received] = field(default_factory=list)
    _failures: deque[Failure] = field(default_factory=deque)

    def fail(
        self,
        status: int,
        body: str = "",
        *,
        times: int = 1,
        retry_after: str | None = None,
        echo_header: str | None = None,
        content_type: str = "application/json",
    ) -> None:
        """The next ``times`` requests get ``status`` and ``body``. With ``echo_header`` the
        body ends with that request header's value (to prove it is masked downstream)."""
        headers = {"Content-Type": content_type}
        if retry_after is not None:
            headers["Retry-After"] = retry_after
        for _ in range(times):
            self._failures.append(Failure(status, body, headers, echo_header))

    async def record(self, request: web.Request) -> Received:
        got = Received(
            request.method,
            request.path,
            dict(request.query),
            {k.lower(): v for k, v in request.headers.items()},
            await request.read(),
        )
        self.requests.append(got)
        return got

    def failure_response(self, got: Received) -> web.Response | None:
        if not self._failures:
            return None
        f = self._failures.popleft()
        body = f.body
        if f.echo is not None:
            body += (
                " "
                + got.headers.get(f.echo.lower(), "")
                + " "
                + got.path
                + "?"
                + "&".join(f"{k}={v}" for k, v in got.query.items())
            )
        return web.Response(status=f.status, text=body, headers=f.headers)


def json_response(status: int, data: Any) -> web.Response:
    return web.json_response(data, status=status)
