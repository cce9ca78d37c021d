"""FeedFetcher against a real aiohttp server on 127.0.0.1: failures are results, not crashes."""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from monitord.drupal.feeds import parse_feed
from monitord.drupal.fetch import (
    FEED_MAX_BYTES,
    META_PREFIX,
    FeedFetcher,
    FetchResult,
    content_problem,
    display_url,
)
from monitord.store.sqlite import SqliteStore

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
RSS = (FIXTURES / "security-all.rss.xml").read_bytes()
PSA_JSON = (FIXTURES / "psa.json").read_bytes()
LAUGHS = (FIXTURES / "billion-laughs.xml").read_bytes()
LAST_MODIFIED = "Wed, 21 Oct 2026 17:05:00 GMT"
SHORT = timedelta(milliseconds=300)


class Meta:
    """get_meta/set_meta backed by a dict, counting writes."""

    def __init__(self) -> None:
        self.data: dict[str, str] = {}
        self.writes = 0

    async def get(self, key: str) -> str | None:
        return self.data.get(key)

    async def set(self, key: str, value: str) -> None:
        self.data[key] = value
        self.writes += 1


class Feeds:
    """The stand-in for drupal.org: records the headers of every request it sees."""

    def __init__(self) -> None:
        self.seen: dict[str, list[dict[str, str]]] = {}
        self.release = asyncio.Event()
        self.flaky_calls = 0

    def app(self) -> web.Application:
        app = web.Application()
        r = app.router
        r.add_get("/etag.xml", self.etag)
        r.add_get("/lm.xml", self.last_modified)
        r.add_get("/psa.json", self.psa_json)
        r.add_get("/500", self.error)
        r.add_get("/hang", self.hang)
        r.add_get("/stall", self.stall)
        r.add_get("/huge", self.huge)
        r.add_get("/huge-chunked", self.huge_chunked)
        r.add_get("/gzip.xml", self.gzipped)
        r.add_get("/gzip-bomb", self.gzip_bomb)
        r.add_get("/text", self.text)
        r.add_get("/html", self.html)
        r.add_get("/bad.json", self.bad_json)
        r.add_get("/laughs.xml", self.laughs)
        r.add_get("/flaky.xml", self.flaky)
        r.add_get("/redirect", self.redirect)
        return app

    def _record(self, request: web.Request) -> None:
        self.seen.setdefault(request.path, []).append(dict(request.headers))

    async def etag(self, request: web.Request) -> web.Response:
        self._record(request)
        if request.headers.get("If-None-Match") == '"v1"':
            return web.Response(status=304, headers={"ETag": '"v1"'})
        return web.Response(body=RSS, content_type="application/rss+xml", headers={"ETag": '"v1"'})

    async def last_modified(self, request: web.Request) -> web.Response:
        self._record(request)
        if request.headers.get("If-Modified-Since") == LAST_MODIFIED:
            return web.Response(status=304)
        return web.Response(
            body=RSS, content_type="application/rss+xml", headers={"Last-Modified": LAST_MODIFIED}
        )

    async def psa_json(self, request: web.Request) -> web.Response:
        self._record(request)
        return web.Response(body=PSA_JSON, content_type="application/json")

    async def error(self, request: web.Request) -> web.Response:
        return web.Response(status=500, text="Internal Server Error")

    async def hang(self, request: web.Request) -> web.Response:
        await self.release.wait()
        return web.Response(body=RSS)

    async def stall(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
        await resp.prepare(request)
        await resp.write(RSS[:100])
        await self.release.wait()
        return resp

    async def huge(self, request: web.Request) -> web.Response:
        return web.Response(body=b"<rss>" + b" " * 200_000 + b"</rss>")

    async def huge_chunked(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        await resp.write(b"<rss>")
        for _ in range(50):
            await resp.write(b" " * 4096)
        await resp.write_eof()
        return resp

    async def gzipped(self, request: web.Request) -> web.Response:
        self._record(request)
        return web.Response(
            body=gzip.compress(RSS),
            headers={"Content-Encoding": "gzip", "Content-Type": "application/rss+xml"},
        )

    async def gzip_bomb(self, request: web.Request) -> web.Response:
        body = gzip.compress(b"<rss>" + b"\0" * (FEED_MAX_BYTES + 1_000_000), compresslevel=9)
        return web.Response(
            body=body, headers={"Content-Encoding": "gzip", "Content-Type": "application/xml"}
        )

    async def text(self, request: web.Request) -> web.Response:
        return web.Response(text="Service temporarily unavailable")

    async def html(self, request: web.Request) -> web.Response:
        return web.Response(
            text="<!DOCTYPE html><html><body>Log in</body></html>", content_type="text/html"
        )

    async def bad_json(self, request: web.Request) -> web.Response:
        return web.Response(text='[{"title": ', content_type="application/json")

    async def laughs(self, request: web.Request) -> web.Response:
        return web.Response(body=LAUGHS, content_type="application/xml")

    async def flaky(self, request: web.Request) -> web.Response:
        """First an HTML error page with an ETag, then the real feed with another."""
        self._record(request)
        self.flaky_calls += 1
        if self.flaky_calls == 1:
            return web.Response(text="<html>oops</html>", headers={"ETag": '"bad"'})
        if request.headers.get("If-None-Match") == '"good"':
            return web.Response(status=304)
        return web.Response(body=RSS, headers={"ETag": '"good"'})

    async def redirect(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("/etag.xml")


@pytest.fixture
async def feeds() -> AsyncIterator[tuple[Feeds, TestServer]]:
    f = Feeds()
    server = TestServer(f.app(), host="127.0.0.1")
    await server.start_server()
    try:
        yield f, server
    finally:
        f.release.set()
        await server.close()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def url(server: TestServer, path: str) -> str:
    return str(server.make_url(path))


Fetch = Callable[..., Awaitable[FetchResult]]


@pytest.fixture
def fetch(session: aiohttp.ClientSession) -> Callable[..., Awaitable[FetchResult]]:
    async def go(u: str, meta: Meta | None = None, **kw: Any) -> FetchResult:
        m = meta or Meta()
        return await FeedFetcher(session, m.get, m.set, **kw).fetch(u)

    return go


# ---------------------------------------------------------------- conditional GET


async def test_200_then_304_with_etag_sent_back(
    feeds: tuple[Feeds, TestServer], session: aiohttp.ClientSession
) -> None:
    f, server = feeds
    meta = Meta()
    fetcher = FeedFetcher(session, meta.get, meta.set)
    first = await fetcher.fetch(url(server, "/etag.xml"))
    assert first.status == "new" and first.body == RSS and first.error is None
    second = await fetcher.fetch(url(server, "/etag.xml"))
    assert second == FetchResult("not-modified")
    sent = f.seen["/etag.xml"]
    assert "If-None-Match" not in sent[0]
    assert sent[1]["If-None-Match"] == '"v1"'
    assert meta.writes == 1  # validators stored once, not re-written on 304
    assert json.loads(meta.data[META_PREFIX + url(server, "/etag.xml")]) == {"etag": '"v1"'}


async def test_last_modified_path(
    feeds: tuple[Feeds, TestServer], session: aiohttp.ClientSession
) -> None:
    f, server = feeds
    meta = Meta()
    fetcher = FeedFetcher(session, meta.get, meta.set)
    assert (await fetcher.fetch(url(server, "/lm.xml"))).status == "new"
    assert (await fetcher.fetch(url(server, "/lm.xml"))).status == "not-modified"
    assert f.seen["/lm.xml"][1]["If-Modified-Since"] == LAST_MODIFIED
    assert "If-None-Match" not in f.seen["/lm.xml"][1]


async def test_validators_survive_a_restart_in_the_real_store(
    feeds: tuple[Feeds, TestServer], session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    f, server = feeds
    db = tmp_path / "monitord.sqlite3"
    store = SqliteStore(db)
    await store.open()
    try:
        got = await FeedFetcher(session, store.get_meta, store.set_meta).fetch(
            url(server, "/etag.xml")
        )
        assert got.status == "new"
    finally:
        await store.close()
    reopened = SqliteStore(db)
    await reopened.open()
    try:
        again = await FeedFetcher(session, reopened.get_meta, reopened.set_meta).fetch(
            url(server, "/etag.xml")
        )
    finally:
        await reopened.close()
    assert again.status == "not-modified"
    assert f.seen["/etag.xml"][-1]["If-None-Match"] == '"v1"'


async def test_validators_of_a_bad_body_are_not_kept(
    feeds: tuple[Feeds, TestServer], session: aiohttp.ClientSession
) -> None:
    f, server = feeds
    meta = Meta()
    fetcher = FeedFetcher(session, meta.get, meta.set)
    first = await fetcher.fetch(url(server, "/flaky.xml"))
    assert first.status == "error"
    second = await fetcher.fetch(url(server, "/flaky.xml"))
    assert second.status == "new" and second.body == RSS  # not a false "not-modified"
    assert "If-None-Match" not in f.seen["/flaky.xml"][1]
    third = await fetcher.fetch(url(server, "/flaky.xml"))
    assert third.status == "not-modified"


async def test_psa_json_and_redirects(feeds: tuple[Feeds, TestServer], fetch: Fetch) -> None:
    _, server = feeds
    got = await fetch(url(server, "/psa.json"))
    assert got.status == "new" and got.body == PSA_JSON
    moved = await fetch(url(server, "/redirect"))
    assert moved.status == "new" and moved.body == RSS


async def test_gzip_is_decoded(feeds: tuple[Feeds, TestServer], fetch: Fetch) -> None:
    f, server = feeds
    got = await fetch(url(server, "/gzip.xml"))
    assert got.status == "new" and got.body == RSS
    assert "gzip" in f.seen["/gzip.xml"][0]["Accept-Encoding"]
    assert got.body is not None
    assert len(parse_feed(got.body).advisories) == 5


# ---------------------------------------------------------------- failures are results


@pytest.mark.parametrize(
    ("path", "kwargs", "expected"),
    [
        ("/500", {}, "answered HTTP 500 Internal Server Error"),
        ("/hang", {"timeout": SHORT}, "did not answer within 0.3s"),
        ("/stall", {"timeout": SHORT}, "did not answer within 0.3s"),
        ("/huge", {"max_bytes": 64 * 1024}, "sent more than 65536 bytes"),
        ("/huge-chunked", {"max_bytes": 64 * 1024}, "sent more than 65536 bytes"),
        ("/gzip-bomb", {}, f"sent more than {FEED_MAX_BYTES} bytes"),
        ("/text", {}, "neither XML nor JSON"),
        ("/html", {}, "HTML page, not a feed"),
        ("/bad.json", {}, "not valid JSON"),
        ("/missing", {}, "answered HTTP 404 Not Found"),
    ],
)
async def test_failures_are_error_results(
    feeds: tuple[Feeds, TestServer],
    fetch: Fetch,
    path: str,
    kwargs: dict[str, Any],
    expected: str,
) -> None:
    _, server = feeds
    meta = Meta()
    got = await fetch(url(server, path), meta, **kwargs)
    assert got.status == "error"
    assert got.body is None
    assert got.error is not None and expected in got.error
    assert meta.writes == 0


async def test_connection_refused_is_an_error_result(fetch: Fetch) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    got = await fetch(f"http://127.0.0.1:{port}/security/rss.xml")
    assert got.status == "error"
    assert got.error is not None and f"cannot connect to 127.0.0.1:{port}" in got.error


async def test_billion_laughs_is_fetched_then_refused_by_the_parser(
    feeds: tuple[Feeds, TestServer], fetch: Fetch
) -> None:
    _, server = feeds
    got = await fetch(url(server, "/laughs.xml"))
    assert got.status == "new" and got.body == LAUGHS
    parsed = parse_feed(got.body)
    assert parsed.advisories == ()
    assert "entity-expansion" in parsed.errors[0]


async def test_errors_do_not_show_credentials_or_query(
    feeds: tuple[Feeds, TestServer], fetch: Fetch
) -> None:
    _, server = feeds
    port = server.port
    got = await fetch(f"http://feeduser:s3cr3tpw@127.0.0.1:{port}/500?token=t0k3n")
    assert got.status == "error" and got.error is not None
    assert "s3cr3tpw" not in got.error and "t0k3n" not in got.error and "feeduser" not in got.error
    assert f"http://127.0.0.1:{port}/500" in got.error


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (
            "https://u:p@www.drupal.org/security/rss.xml?x=1#f",
            "https://www.drupal.org/security/rss.xml",
        ),
        ("http://127.0.0.1:8080/a", "http://127.0.0.1:8080/a"),
        ("https://updates.drupal.org/psa.json", "https://updates.drupal.org/psa.json"),
    ],
)
def test_display_url(raw: str, shown: str) -> None:
    assert display_url(raw) == shown


@pytest.mark.parametrize(
    ("body", "ok"),
    [
        (b'<?xml version="1.0"?><rss/>', True),
        (b"\xef\xbb\xbf\n  <rss version='2.0'/>", True),
        (b"[]", True),
        (b'{"a": 1}', True),
        (b"<!DOCTYPE html><html></html>", False),
        (b"<HTML><body>", False),
        (b"", False),
        (b"   \n", False),
        (b"[1, 2", False),
        (b"PK\x03\x04", False),
    ],
)
def test_content_problem(body: bytes, ok: bool) -> None:
    assert (content_problem(body) is None) is ok
