"""Stand-ins for the helpdesks' time-entry APIs: Freshdesk time entries, Jira worklogs and
Redmine time entries, each with the real API's paths, auth, paging, shapes and status codes.

- Freshdesk: ``GET /api/v2/time_entries`` with ``company_id``, ``executed_after``, ``page``,
  ``per_page`` (at most 100, else 400); Basic ``api_key:X`` (401 ``invalid_credentials``);
  an array of ``{id, billable, note, timer_running, agent_id, ticket_id, company_id,
  time_spent "hh:mm", executed_at, start_time, created_at, updated_at}``; a next page is
  announced by ``Link: <…&page=N>; rel="next"``.
- Jira Cloud: ``GET /rest/api/3/worklog/updated?since=<ms>`` and ``…/worklog/deleted?since=``
  (``{values: [{worklogId, updatedTime, properties}], since, until, self, nextPage?,
  lastPage}``, oldest first, ``page_size`` a page, nothing changed in the last minute);
  ``POST /rest/api/3/worklog/list {"ids": [...]}`` (at most 1,000 ids, else 400) → the
  worklogs ``{id, issueId, author, started, timeSpentSeconds, comment (ADF), updated}``;
  ``GET /rest/api/3/issue/{id}?fields=project`` (404 for an unknown issue); JQL search of
  open issues with ``timeoriginalestimate``. Basic ``email:token``; 401 with an empty body.
- Redmine: ``GET /time_entries.json?project_id=&from=&offset=&limit=`` (limit capped at 100)
  → ``{time_entries: [{id, project, issue, user, activity, hours, comments, spent_on,
  created_on, updated_on}], total_count, offset, limit}``; ``GET /issues.json?project_id=
  &status_id=open`` with ``estimated_hours``; ``X-Redmine-API-Key`` (401 empty); an unknown
  project is 404.

``fail()`` (from StandIn) queues 429 with ``Retry-After``, 5xx or any answer before the work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiohttp import web

from tests.notify.standins.common import Received, json_response
from tests.notify.standins.tickets import JiraStandIn, TicketStandIn, _basic, _json


def _z(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------- Freshdesk


@dataclass
class FreshdeskTimeStandIn(TicketStandIn):
    api_key: str = "fd-key"
    entries: dict[int, dict[str, Any]] = field(default_factory=dict)
    ticket_company: dict[int, int] = field(default_factory=dict)
    notes: dict[int, list[str]] = field(default_factory=dict)
    next_entry: int = 1

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/api/v2/time_entries", self._list)
        app.router.add_post("/api/v2/tickets/{id}/notes", self._note)
        return app

    def log(self, ticket: int, minutes: int, at: datetime, note: str = "") -> int:
        eid = self.next_entry
        self.next_entry += 1
        self.entries[eid] = {
            "id": eid,
            "billable": True,
            "note": note,
            "timer_running": False,
            "agent_id": 7001,
            "ticket_id": ticket,
            "company_id": self.ticket_company[ticket],
            "time_spent": f"{minutes // 60:02d}:{minutes % 60:02d}",
            "executed_at": _z(at),
            "start_time": _z(at),
            "created_at": _z(at),
            "updated_at": _z(at),
        }
        return eid

    async def _auth(self, request: web.Request) -> tuple[Received, web.Response | None]:
        got, failure = await self.begin(request)
        if failure is not None:
            return got, failure
        if _basic(got) != (self.api_key, "X"):
            return got, json_response(
                401,
                {
                    "code": "invalid_credentials",
                    "message": "You have to be logged in to perform this action.",
                },
            )
        return got, None

    async def _list(self, request: web.Request) -> web.Response:
        got, bad = await self._auth(request)
        if bad is not None:
            return bad
        q = got.query
        per_page = int(q.get("per_page", "30"))
        page = int(q.get("page", "1"))
        if not 1 <= per_page <= 100:
            return json_response(
                400,
                {
                    "description": "Validation failed",
                    "errors": [
                        {
                            "field": "per_page",
                            "message": "It should be a Positive Integer less than or equal to 100",
                            "code": "invalid_value",
                        }
                    ],
                },
            )
        rows = sorted(self.entries.values(), key=lambda e: (e["executed_at"], e["id"]))
        if "company_id" in q:
            rows = [e for e in rows if str(e["company_id"]) == q["company_id"]]
        if "executed_after" in q:
            rows = [e for e in rows if e["executed_at"] >= q["executed_after"]]
        chunk = rows[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(rows):
            nxt = dict(q, page=str(page + 1))
            link = "/api/v2/time_entries?" + "&".join(f"{k}={v}" for k, v in nxt.items())
            headers["Link"] = f'<{link}>; rel="next"'
        return web.json_response(chunk, headers=headers)

    async def _note(self, request: web.Request) -> web.Response:
        got, bad = await self._auth(request)
        if bad is not None:
            return bad
        tid = int(request.match_info["id"])
        if tid not in self.ticket_company:
            return json_response(404, {"code": "not_found", "message": "not found"})
        body = _json(got)
        if not isinstance(body, dict) or not str(body.get("body", "")).strip():
            return json_response(400, {"description": "Validation failed", "errors": []})
        self.notes.setdefault(tid, []).append(str(body["body"]))
        return json_response(201, {"id": len(self.notes[tid]), "private": body.get("private")})


# ---------------------------------------------------------------- Jira Cloud


@dataclass
class JiraWorklogStandIn(JiraStandIn):
    """The ticket stand-in (monitord's own issues in project OPS) plus the client's issues,
    their worklogs and estimates."""

    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    """issue id → {key, project, estimate (seconds or None), done}"""
    worklogs: dict[int, dict[str, Any]] = field(default_factory=dict)
    deleted: dict[int, int] = field(default_factory=dict)
    """worklog id → deleted at (ms)"""
    page_size: int = 1000
    issue_comments: dict[str, list[Any]] = field(default_factory=dict)
    """client issue key → the ADF bodies of comments made on it"""
    now_ms: int = 0
    """The stand-in's clock (ms); worklogs changed in the minute before it are not listed."""
    next_worklog: int = 10001

    def app(self) -> web.Application:
        app = super().app()  # create, comment, transitions, label search of OPS issues
        app.router.add_get("/rest/api/3/worklog/updated", self._updated)
        app.router.add_get("/rest/api/3/worklog/deleted", self._deleted)
        app.router.add_post("/rest/api/3/worklog/list", self._list)
        app.router.add_get("/rest/api/3/issue/{id}", self._issue)
        return app

    def add_issue(self, iid: int, key: str, estimate: int | None = None) -> None:
        self.issues[iid] = {"key": key, "project": key.split("-")[0], "estimate": estimate}

    def log(self, iid: int, seconds: int, started: datetime, at_ms: int) -> int:
        wid = self.next_worklog
        self.next_worklog += 1
        self.worklogs[wid] = {
            "id": str(wid),
            "issueId": str(iid),
            "author": {"accountId": "5b10a", "displayName": "Sam Agent"},
            "started": started.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
            "timeSpentSeconds": seconds,
            "comment": {
                "type": "doc",
                "version": 1,
                "content": [{"type": "paragraph", "content": [{"type": "text", "text": "work"}]}],
            },
            "updated_ms": at_ms,
        }
        return wid

    def edit(self, wid: int, seconds: int, at_ms: int) -> None:
        self.worklogs[wid].update(timeSpentSeconds=seconds, updated_ms=at_ms)

    def delete(self, wid: int, at_ms: int) -> None:
        del self.worklogs[wid]
        self.deleted[wid] = at_ms

    async def _auth(self, request: web.Request) -> tuple[Received, web.Response | None]:
        got, failure = await self.begin(request)
        if failure is not None:
            return got, failure
        if _basic(got) != (self.email, self.token):
            return got, web.Response(status=401, text="")
        return got, None

    def _changes(self, got: Received, changed: list[tuple[int, int]], path: str) -> web.Response:
        since = int(got.query.get("since", "0"))
        visible = sorted(
            (ms, wid) for wid, ms in changed if ms >= since and ms <= self.now_ms - 60_000
        )
        page = visible[: self.page_size]
        last = len(visible) <= self.page_size
        until = page[-1][0] if page else since
        body: dict[str, Any] = {
            "values": [{"worklogId": wid, "updatedTime": ms, "properties": []} for ms, wid in page],
            "since": since,
            "until": until,
            "self": f"{path}?since={since}",
            "lastPage": last,
        }
        if not last:
            body["nextPage"] = f"{path}?since={until}"
        return json_response(200, body)

    async def _updated(self, request: web.Request) -> web.Response:
        got, bad = await self._auth(request)
        if bad is not None:
            return bad
        changed = [(int(w["id"]), w["updated_ms"]) for w in self.worklogs.values()]
        return self._changes(got, changed, "/rest/api/3/worklog/updated")

    async def _deleted(self, request: web.Request) -> web.Response:
        got, bad = await self._auth(request)
        if bad is not None:
            return bad
        return self._changes(got, list(self.deleted.items()), "/rest/api/3/worklog/deleted")

    async def _list(self, request: web.Request) -> web.Response:
        got, bad = await self._auth(request)
        if bad is not None:
            return bad
        body = _json(got)
        ids = body.get("ids") if isinstance(body, dict) else None
        if not isinstance(ids, list) or len(ids) > 1000:
            return json_response(
                400, {"errorMessages": ["ids must be a list of at most 1000 ids"], "errors": {}}
            )
        out = [
            {k: v for k, v in self.worklogs[int(i)].items() if k != "updated_ms"}
            for i in ids
            if int(i) in self.worklogs
        ]
        return json_response(200, out)

    async def _issue(self, request: web.Request) -> web.Response:
        _got, bad = await self._auth(request)
        if bad is not None:
            return bad
        ref = request.match_info["id"]
        found = next(
            ((iid, i) for iid, i in self.issues.items() if str(iid) == ref or i["key"] == ref),
            None,
        )
        if found is None:
            return json_response(
                404,
                {
                    "errorMessages": [
                        "Issue does not exist or you do not have permission to see it."
                    ],
                    "errors": {},
                },
            )
        iid, issue = found
        return json_response(
            200,
            {"id": str(iid), "key": issue["key"], "fields": {"project": {"key": issue["project"]}}},
        )

    async def _search(self, request: web.Request) -> web.Response:
        if "labels =" in request.query.get("jql", ""):
            return await super()._search(request)
        got, bad = await self._auth(request)
        if bad is not None:
            return bad
        jql = got.query.get("jql", "")
        found = [
            {"id": str(iid), "key": i["key"], "fields": {"timeoriginalestimate": i["estimate"]}}
            for iid, i in self.issues.items()
            if f'project = "{i["project"]}"' in jql and i["estimate"]
        ]
        return json_response(200, {"issues": found, "isLast": True})

    async def _comment(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        if not any(i["key"] == key for i in self.issues.values()):
            return await super()._comment(request)
        got, bad = await self._auth(request)
        if bad is not None:
            return bad
        body = _json(got)
        if not isinstance(body, dict) or not isinstance(body.get("body"), dict):
            return json_response(400, {"errorMessages": [], "errors": {"comment": "bad body"}})
        self.issue_comments.setdefault(key, []).append(body["body"])
        return json_response(201, {"id": str(len(self.issue_comments[key]))})


# ---------------------------------------------------------------- Redmine


@dataclass
class RedmineTimeStandIn(TicketStandIn):
    api_key: str = "rm-key"
    projects: dict[str, int] = field(default_factory=lambda: {"acme": 1})
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    """issue id → {project, estimated_hours, open}"""
    entries: dict[int, dict[str, Any]] = field(default_factory=dict)
    notes: dict[int, list[str]] = field(default_factory=dict)
    next_entry: int = 1

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/time_entries.json", self._list)
        app.router.add_get("/issues.json", self._issues)
        app.router.add_put("/issues/{id}.json", self._update)
        return app

    def log(self, issue: int, hours: float, day: date, comments: str = "") -> int:
        eid = self.next_entry
        self.next_entry += 1
        project = self.issues[issue]["project"]
        stamp = _z(datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=17))
        self.entries[eid] = {
            "id": eid,
            "project": {"id": self.projects[project], "name": project.title()},
            "issue": {"id": issue},
            "user": {"id": 5, "name": "Sam Agent"},
            "activity": {"id": 9, "name": "Development"},
            "hours": hours,
            "comments": comments,
            "spent_on": day.isoformat(),
            "created_on": stamp,
            "updated_on": stamp,
        }
        return eid

    async def _auth(self, request: web.Request) -> tuple[Received, web.Response | None]:
        got, failure = await self.begin(request)
        if failure is not None:
            return got, failure
        if got.headers.get("x-redmine-api-key") != self.api_key:
            return got, web.Response(status=401, text="")
        return got, None

    def _page(self, got: Received) -> tuple[int, int]:
        limit = min(max(int(got.query.get("limit", "25")), 1), 100)
        return int(got.query.get("offset", "0")), limit

    async def _list(self, request: web.Request) -> web.Response:
        got, bad = await self._auth(request)
        if bad is not None:
            return bad
        project = got.query.get("project_id")
        if project is not None and project not in self.projects:
            return web.Response(status=404, text="")
        rows = sorted(self.entries.values(), key=lambda e: (e["spent_on"], e["id"]), reverse=True)
        if project is not None:
            rows = [e for e in rows if e["project"]["id"] == self.projects[project]]
        if "from" in got.query:
            rows = [e for e in rows if e["spent_on"] >= got.query["from"]]
        offset, limit = self._page(got)
        return json_response(
            200,
            {
                "time_entries": rows[offset : offset + limit],
                "total_count": len(rows),
                "offset": offset,
                "limit": limit,
            },
        )

    async def _issues(self, request: web.Request) -> web.Response:
        got, bad = await self._auth(request)
        if bad is not None:
            return bad
        project = got.query.get("project_id")
        if project is not None and project not in self.projects:
            return web.Response(status=404, text="")
        rows = [
            {"id": iid, "project": {"name": i["project"]}, "estimated_hours": i["estimated_hours"]}
            for iid, i in sorted(self.issues.items())
            if (project is None or i["project"] == project)
            and (got.query.get("status_id") != "open" or i.get("open", True))
        ]
        rows = [{k: v for k, v in r.items() if v is not None} for r in rows]
        offset, limit = self._page(got)
        return json_response(
            200,
            {
                "issues": rows[offset : offset + limit],
                "total_count": len(rows),
                "offset": offset,
                "limit": limit,
            },
        )

    async def _update(self, request: web.Request) -> web.Response:
        got, bad = await self._auth(request)
        if bad is not None:
            return bad
        iid = int(request.match_info["id"])
        if iid not in self.issues:
            return web.Response(status=404, text="")
        body = _json(got)
        issue = body.get("issue") if isinstance(body, dict) else None
        if not isinstance(issue, dict):
            return json_response(422, {"errors": ["issue is missing"]})
        if issue.get("notes"):
            self.notes.setdefault(iid, []).append(str(issue["notes"]))
        return web.Response(status=204)
