"""Time entries pulled from the helpdesks monitord already talks to, into the hours store.

Each pull is incremental and idempotent by the helpdesk's own entry id (the store's key is
``(notifier name, entry id)``): a re-pull changes nothing, an edit updates the entry, and a
deletion marks it deleted (kept, so a closed month that billed it is corrected in the open
month). Every page is stored in one transaction together with the cursor it moves
(:meth:`~monitord.contracts.store.SqliteTimeEntryStore.apply_page`), so a crash repeats at most
one page. The credentials are the ticket notifier's own (``notifiers:`` in monitord.yml);
``contract.helpdesk`` in a client's file says which organisation or project is the client's.

- **Jira Cloud** (worklogs): ``GET /rest/api/3/worklog/updated?since=<ms>`` lists the ids of
  worklogs changed since the cursor (1,000 a page, oldest first; ``lastPage``, and ``until`` is
  the next page's ``since``; the last minute is never listed), then ``POST
  /rest/api/3/worklog/list {"ids": [...]}`` gives them; ``GET /rest/api/3/worklog/deleted?since=``
  lists the deleted ones. A worklog names its issue by id: ``GET /rest/api/3/issue/{id}?fields=
  project`` tells its project (one request per issue, kept for the pull). Estimates:
  ``GET /rest/api/3/search/jql`` of the project's open issues with ``timeoriginalestimate``.
- **Freshdesk** (time entries): ``GET /api/v2/time_entries?company_id=…&executed_after=…&page=
  N&per_page=100`` — Freshdesk has no "updated since" filter and no list of deletions, so the
  pull lists the open window (from the start of last month) and marks deleted the entries of
  the window it no longer returns. Pages follow the ``Link: <…>; rel="next"`` header. Running
  timers are left until they stop. Freshdesk tickets have no estimate field.
- **Redmine** (time entries): ``GET /time_entries.json?project_id=…&from=YYYY-MM-DD&offset=…&
  limit=100`` pages by ``total_count``; deletions by reconciling the window's ids, as for
  Freshdesk. Estimates: ``GET /issues.json?project_id=…&status_id=open`` (``estimated_hours``).

A 429 or 5xx stops that source's pull for this round (the store keeps every page already
stored); the next refresh continues from the cursor.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from monitord.config.models import Config
from monitord.contracts.ledger import TimeEntry
from monitord.contracts.models import Month
from monitord.errors import MonitordError, PermanentError
from monitord.notify.http import JsonPoster
from monitord.tickets import basic_auth

PAGE_SIZE = 100
"""Entries asked for per page: Freshdesk's and Redmine's maximum, and a page of them stays well
below the HTTP client's 64 KiB answer cap."""

JIRA_LIST_CHUNK = 100
"""Worklog ids fetched per ``worklog/list`` request (Jira takes 1,000; 100 worklogs with their
comments stay below the answer cap)."""

MAX_PAGES = 1_000
"""Pages read per source and round: 100,000 entries, far above any agency's month; a bound on
a server that never says "last page"."""

WINDOW_MONTHS_BACK = 1
"""The listed window starts this many months before the current one: last month's late entries
and deletions still count until it is closed (closed months are corrected in the open one)."""


@dataclass(frozen=True, slots=True)
class Link:
    """One client's organisation or project in one helpdesk."""

    client: str
    key: str


@dataclass
class PullResult:
    source: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    pages: int = 0
    estimates: list[tuple[str, str, int]] = field(default_factory=list)
    """(ticket ref, client, seconds) of open tickets carrying an estimate."""
    error: str | None = None

    def count(self, counts: Mapping[str, int]) -> None:
        self.added += counts.get("added", 0)
        self.updated += counts.get("updated", 0)
        self.unchanged += counts.get("unchanged", 0)
        self.deleted += counts.get("deleted", 0)
        self.pages += 1

    def line(self) -> str:
        text = (
            f"{self.source}: {self.added} added, {self.updated} updated, {self.deleted} deleted, "
            f"{self.unchanged} unchanged ({self.pages} page{'s' if self.pages != 1 else ''})"
        )
        return text + (f" — stopped: {self.error}" if self.error else "")


class PageStore(Protocol):
    """What a pull writes through (the hours store)."""

    def cursor(self, source: str) -> str | None: ...

    def apply_page(
        self,
        source: str,
        entries: Sequence[TimeEntry],
        deleted: Sequence[str],
        cursor: tuple[str, str] | None,
        now: datetime,
    ) -> dict[str, int]: ...

    def live_ids(self, source: str, client: str, since: datetime, until: datetime) -> set[str]: ...


def window_start(now: datetime, zone: ZoneInfo) -> datetime:
    """The start of the listed window: the first day of last month, agency time."""
    m = Month.of(now, zone)
    for _ in range(WINDOW_MONTHS_BACK):
        m = m.prev()
    return m.start(zone)


def ticket_ref(source: str, ticket: object) -> str | None:
    """How an entry names its ticket: ``<notifier>:<id>`` (``jira:ACME-12``)."""
    return f"{source}:{ticket}" if ticket not in (None, "") else None


def _noon(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(12), tzinfo=zone)


def _when(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        # Jira writes offsets without a colon and milliseconds: 2026-03-04T10:00:00.000+0000
        m = re.fullmatch(r"(.+T\d\d:\d\d:\d\d)(?:\.\d+)?([+-]\d\d)(\d\d)", text)
        if m is None:
            return None
        at = datetime.fromisoformat(f"{m.group(1)}{m.group(2)}:{m.group(3)}")
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


class HelpdeskPull:
    """The HTTP plumbing of one helpdesk's pull: GET/POST JSON with the notifier's auth."""

    TYPE: str = ""
    SERVICE: str = ""

    def __init__(
        self,
        name: str,
        options: Any,
        links: Sequence[Link],
        clock: Callable[[], datetime],
        poster: JsonPoster,
        headers: Mapping[str, str],
    ) -> None:
        self.name = name
        self.links = list(links)
        self._o = options
        self._clock = clock
        self._poster = poster
        self._headers = dict(headers)
        self._base = str(options.base_url).rstrip("/")
        self._service = f"{self.SERVICE} time entries (notifier {name!r})"

    async def _json(self, path: str, body: Any = None, method: str = "GET") -> tuple[Any, Any]:
        reply = await self._poster.post(
            self._base + path,
            body,
            method=method,
            service=self._service,
            now=self._clock(),
            headers=self._headers,
            default_hint=f"check the {self.TYPE} notifier {self.name!r}: base_url and credentials",
        )
        data = reply.json()
        if data is None:
            raise PermanentError(
                f"{self._service} answered {reply.status} with something that is not JSON — "
                "check base_url is the helpdesk's API root (not a login page or a proxy)"
            )
        return data, reply.headers

    async def pull(self, store: PageStore, now: datetime, zone: ZoneInfo) -> PullResult:
        raise NotImplementedError

    async def aclose(self) -> None:
        await self._poster.aclose()


# ---------------------------------------------------------------- window-listed sources


class WindowPull(HelpdeskPull):
    """Freshdesk and Redmine: list the window per client, reconcile deletions at its end."""

    def pages(self, link: Link, since: datetime, zone: ZoneInfo) -> AsyncIterator[list[TimeEntry]]:
        """The client's entries dated from ``since`` on, a page at a time."""
        raise NotImplementedError

    async def pull(self, store: PageStore, now: datetime, zone: ZoneInfo) -> PullResult:
        result = PullResult(self.name)
        since = window_start(now, zone)
        for link in self.links:
            seen: set[str] = set()
            before = await asyncio.to_thread(
                store.live_ids, self.name, link.client, since, now + timedelta(days=1)
            )
            pending: list[TimeEntry] | None = None
            async for page in self.pages(link, since, zone):
                if pending is not None:
                    result.count(
                        await asyncio.to_thread(store.apply_page, self.name, pending, (), None, now)
                    )
                seen.update(e.source_id for e in page)
                pending = page
            gone = sorted(before - seen)
            cursor = (f"{self.name}:{link.client}", since.isoformat())
            result.count(
                await asyncio.to_thread(
                    store.apply_page, self.name, pending or [], gone, cursor, now
                )
            )
        result.estimates = await self.estimates(zone)
        return result

    async def estimates(self, zone: ZoneInfo) -> list[tuple[str, str, int]]:
        return []


class FreshdeskPull(WindowPull):
    TYPE = "freshdesk"
    SERVICE = "Freshdesk"

    @classmethod
    def auth(cls, options: Any) -> dict[str, str]:
        return {"Authorization": basic_auth(options.api_key.get_secret_value(), "X")}

    def entry(self, item: Mapping[str, Any], client: str) -> TimeEntry | None:
        if item.get("timer_running"):
            return None
        m = re.fullmatch(r"(\d+):([0-5]\d)", str(item.get("time_spent", "")))
        at = _when(item.get("executed_at")) or _when(item.get("start_time"))
        if m is None or at is None or item.get("id") is None:
            return None
        return TimeEntry(
            source=self.name,
            source_id=str(item["id"]),
            client=client,
            at=at,
            seconds=int(m.group(1)) * 3600 + int(m.group(2)) * 60,
            ticket=ticket_ref(self.name, item.get("ticket_id")),
            note=str(item.get("note") or ""),
            person=None if item.get("agent_id") is None else f"agent {item['agent_id']}",
            billable=bool(item.get("billable", True)),
        )

    async def pages(
        self, link: Link, since: datetime, zone: ZoneInfo
    ) -> AsyncIterator[list[TimeEntry]]:
        query = {
            "company_id": link.key,
            "executed_after": since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "per_page": str(PAGE_SIZE),
        }
        for page in range(1, MAX_PAGES + 1):
            data, headers = await self._json(
                "/api/v2/time_entries?" + urlencode({**query, "page": str(page)})
            )
            if not isinstance(data, list):
                raise PermanentError(f"{self._service}: expected a list of time entries")
            yield [e for e in (self.entry(i, link.client) for i in data) if e is not None]
            if 'rel="next"' not in str(headers.get("link", "")):
                return


class RedminePull(WindowPull):
    TYPE = "redmine"
    SERVICE = "Redmine"

    @classmethod
    def auth(cls, options: Any) -> dict[str, str]:
        return {"X-Redmine-API-Key": options.api_key.get_secret_value()}

    def entry(self, item: Mapping[str, Any], client: str, zone: ZoneInfo) -> TimeEntry | None:
        try:
            hours = Decimal(str(item.get("hours")))
            day = date.fromisoformat(str(item.get("spent_on")))
        except (InvalidOperation, ValueError):
            return None
        if item.get("id") is None or not hours.is_finite() or hours < 0:
            return None
        issue = item.get("issue")
        user = item.get("user")
        return TimeEntry(
            source=self.name,
            source_id=str(item["id"]),
            client=client,
            at=_noon(day, zone),
            seconds=int((hours * 3600).to_integral_value()),
            ticket=ticket_ref(self.name, issue.get("id") if isinstance(issue, dict) else None),
            note=str(item.get("comments") or ""),
            person=str(user.get("name")) if isinstance(user, dict) and user.get("name") else None,
        )

    async def pages(
        self, link: Link, since: datetime, zone: ZoneInfo
    ) -> AsyncIterator[list[TimeEntry]]:
        base = {
            "project_id": link.key,
            "from": since.astimezone(zone).date().isoformat(),
            "limit": str(PAGE_SIZE),
        }
        offset = 0
        for _ in range(MAX_PAGES):
            data, _headers = await self._json(
                "/time_entries.json?" + urlencode({**base, "offset": str(offset)})
            )
            items = data.get("time_entries") if isinstance(data, dict) else None
            if not isinstance(items, list):
                raise PermanentError(f"{self._service}: expected {{'time_entries': [...]}}")
            yield [e for e in (self.entry(i, link.client, zone) for i in items) if e]
            offset += len(items)
            if not items or offset >= int(data.get("total_count") or 0):
                return

    async def estimates(self, zone: ZoneInfo) -> list[tuple[str, str, int]]:
        out: list[tuple[str, str, int]] = []
        for link in self.links:
            query = {"project_id": link.key, "status_id": "open", "limit": str(PAGE_SIZE)}
            offset = 0
            for _ in range(MAX_PAGES):
                data, _ = await self._json(
                    "/issues.json?" + urlencode({**query, "offset": str(offset)})
                )
                issues = data.get("issues") if isinstance(data, dict) else None
                if not isinstance(issues, list):
                    break
                for issue in issues:
                    hours = issue.get("estimated_hours") if isinstance(issue, dict) else None
                    if isinstance(hours, int | float) and hours > 0:
                        ref = f"{self.name}:{issue['id']}"
                        out.append((ref, link.client, round(hours * 3600)))
                offset += len(issues)
                if not issues or offset >= int(data.get("total_count") or 0):
                    break
        return out


# ---------------------------------------------------------------- Jira: a since cursor


class JiraPull(HelpdeskPull):
    TYPE = "jira"
    SERVICE = "Jira"

    @classmethod
    def auth(cls, options: Any) -> dict[str, str]:
        token = options.api_token.get_secret_value()
        return {"Authorization": basic_auth(options.email, token), "Accept": "application/json"}

    async def _project(self, issue_id: str, cache: dict[str, tuple[str, str]]) -> tuple[str, str]:
        """(issue key, project key) of an issue, asked once per pull."""
        if issue_id not in cache:
            data, _ = await self._json(f"/rest/api/3/issue/{issue_id}?fields=project")
            project = (data.get("fields") or {}).get("project") if isinstance(data, dict) else None
            key = str(data.get("key", issue_id)) if isinstance(data, dict) else issue_id
            cache[issue_id] = (key, str((project or {}).get("key", "")))
        return cache[issue_id]

    def entry(self, w: Mapping[str, Any], client: str, issue_key: str) -> TimeEntry | None:
        at = _when(w.get("started"))
        seconds = w.get("timeSpentSeconds")
        if at is None or not isinstance(seconds, int) or w.get("id") is None:
            return None
        raw_author = w.get("author")
        author: Mapping[str, Any] = raw_author if isinstance(raw_author, dict) else {}
        return TimeEntry(
            source=self.name,
            source_id=str(w["id"]),
            client=client,
            at=at,
            seconds=seconds,
            ticket=ticket_ref(self.name, issue_key),
            note=_adf_text(w.get("comment")),
            person=str(author.get("displayName")) if author.get("displayName") else None,
        )

    async def pull(self, store: PageStore, now: datetime, zone: ZoneInfo) -> PullResult:
        result = PullResult(self.name)
        clients = {link.key: link.client for link in self.links}
        first = str(int(window_start(now, zone).timestamp() * 1000))
        cache: dict[str, tuple[str, str]] = {}
        key = f"{self.name}:updated"
        since = (await asyncio.to_thread(store.cursor, key)) or first
        for _ in range(MAX_PAGES):
            data, _ = await self._json(f"/rest/api/3/worklog/updated?since={since}")
            ids = [v["worklogId"] for v in data.get("values", []) if isinstance(v, dict)]
            entries: list[TimeEntry] = []
            for i in range(0, len(ids), JIRA_LIST_CHUNK):
                logs, _ = await self._json(
                    "/rest/api/3/worklog/list", {"ids": ids[i : i + JIRA_LIST_CHUNK]}, "POST"
                )
                for w in logs if isinstance(logs, list) else []:
                    issue_key, project = await self._project(str(w.get("issueId")), cache)
                    client = clients.get(project)
                    e = self.entry(w, client, issue_key) if client else None
                    if e is not None:
                        entries.append(e)
            until = str(data.get("until") or since)
            result.count(
                await asyncio.to_thread(store.apply_page, self.name, entries, (), (key, until), now)
            )
            if data.get("lastPage", True) or until == since:
                break
            since = until
        dkey = f"{self.name}:deleted"
        deleted_cursor = await asyncio.to_thread(store.cursor, dkey)
        since = deleted_cursor or first
        for _ in range(MAX_PAGES):
            data, _ = await self._json(f"/rest/api/3/worklog/deleted?since={since}")
            gone = [str(v["worklogId"]) for v in data.get("values", []) if isinstance(v, dict)]
            until = str(data.get("until") or since)
            result.count(
                await asyncio.to_thread(store.apply_page, self.name, (), gone, (dkey, until), now)
            )
            if data.get("lastPage", True) or until == since:
                break
            since = until
        result.estimates = await self.estimates()
        return result

    async def estimates(self) -> list[tuple[str, str, int]]:
        out: list[tuple[str, str, int]] = []
        for link in self.links:
            jql = f'project = "{link.key}" AND statusCategory != Done AND originalEstimate > 0'
            token: str | None = None
            for _ in range(MAX_PAGES):
                query = {"jql": jql, "fields": "timeoriginalestimate", "maxResults": "100"}
                if token:
                    query["nextPageToken"] = token
                data, _ = await self._json("/rest/api/3/search/jql?" + urlencode(query))
                for issue in data.get("issues", []) if isinstance(data, dict) else []:
                    seconds = (issue.get("fields") or {}).get("timeoriginalestimate")
                    if isinstance(seconds, int) and seconds > 0:
                        out.append((f"{self.name}:{issue['key']}", link.client, seconds))
                token = data.get("nextPageToken") if isinstance(data, dict) else None
                if not token or data.get("isLast", True):
                    break
        return out


def _adf_text(doc: Any) -> str:
    """The plain text of an Atlassian Document Format comment."""
    if isinstance(doc, str):
        return doc
    parts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "text":
                parts.append(str(node.get("text", "")))
            for child in node.get("content", []) or []:
                walk(child)
            if node.get("type") == "paragraph":
                parts.append("\n")

    walk(doc)
    return "".join(parts).strip()


PULLS: dict[str, type[FreshdeskPull] | type[JiraPull] | type[RedminePull]] = {
    "freshdesk": FreshdeskPull,
    "jira": JiraPull,
    "redmine": RedminePull,
}


def build_pulls(
    config: Config, clock: Callable[[], datetime], ssl_context: Any = None
) -> list[HelpdeskPull]:
    """One pull per ticket notifier that some client's ``contract.helpdesk`` links to."""
    from monitord.notify.plugins import load_plugin_class, validate_options

    out: list[HelpdeskPull] = []
    for name, notifier in sorted(config.main.notifiers.items()):
        cls = PULLS.get(notifier.type)
        if cls is None:
            continue
        links = [
            Link(c.client, key)
            for c in config.clients
            if c.contract is not None
            for kind, key in c.contract.helpdesk.linked().items()
            if kind == notifier.type
        ]
        if not links:
            continue
        options = validate_options(load_plugin_class(notifier.type), notifier.options)
        headers = cls.auth(options)
        secret = getattr(options, "api_key", None) or getattr(options, "api_token", None)
        poster = JsonPoster(
            ssl_context=ssl_context,
            timeout=options.timeout,  # type: ignore[attr-defined]
            secrets=[secret.get_secret_value()] if secret is not None else [],
        )
        out.append(cls(name, options, links, clock, poster, headers))
    return out


async def pull_all(
    pulls: Sequence[HelpdeskPull], store: PageStore, now: datetime, zone: ZoneInfo
) -> list[PullResult]:
    """Pull every source; a failing one is reported and the others still run."""
    results: list[PullResult] = []
    for p in pulls:
        try:
            results.append(await p.pull(store, now, zone))
        except MonitordError as exc:
            results.append(PullResult(p.name, error=str(exc)))
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            # An answer of another shape than the API's: this source stops, the others run.
            error = f"{p.SERVICE} answered in an unexpected shape ({type(exc).__name__}: {exc})"
            results.append(PullResult(p.name, error=error))
    return results


def describe(results: Sequence[PullResult]) -> str:
    return "\n".join(r.line() for r in results) if results else "no helpdesk is linked"
