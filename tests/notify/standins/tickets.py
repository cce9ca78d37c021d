"""Stand-ins for the ticket APIs: Jira Cloud v3, Zendesk v2, Freshdesk v2 and Redmine.

Each checks what the real API checks — its auth header, the JSON shape, required fields and
limits, allowed values — and answers with the real API's codes and error bodies:

- Jira: Basic ``email:token``; 401 with an empty body; 400 ``{"errorMessages": [],
  "errors": {"summary": "…"}}``; create 201 ``{"id", "key", "self"}``; comment 201;
  transitions GET 200 / POST 204; JQL search ``labels = "…"``.
- Zendesk: Basic ``email/token:token``; 401 ``{"error": "Couldn't authenticate you"}``; 422
  ``{"error": "RecordInvalid", "description": "Record validation errors", "details": …}``;
  create 201 ``{"ticket": {...}}``; update 200; list by ``external_id``.
- Freshdesk: Basic ``api_key:X``; 401 ``{"code": "invalid_credentials", "message": …}``; 400
  ``{"description": "Validation failed", "errors": [{"field", "message", "code"}]}``; create
  201; notes 201; update 200; tag search.
- Redmine: ``X-Redmine-API-Key``; 401 empty; 422 ``{"errors": ["Subject cannot be blank"]}``;
  create 201 ``{"issue": {...}}``; update 204.

``fail()`` (from StandIn) queues 429/5xx/any answer before the real work.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.notify.standins.common import Received, StandIn, json_response


@dataclass
class Ticket:
    id: int
    fields: dict[str, Any]
    comments: list[str] = field(default_factory=list)
    status: str = "open"


def _basic(got: Received) -> tuple[str, str] | None:
    value = got.headers.get("authorization", "")
    if not value.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(value[6:]).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return user, password


def _json(got: Received) -> Any:
    try:
        return got.json()
    except ValueError:
        return None


@dataclass
class TicketStandIn(StandIn):
    tickets: dict[int, Ticket] = field(default_factory=dict)
    next_id: int = 1

    def new(self, fields: dict[str, Any]) -> Ticket:
        t = Ticket(self.next_id, fields)
        self.tickets[t.id] = t
        self.next_id += 1
        return t

    def app(self) -> web.Application:
        raise NotImplementedError

    def creates(self) -> int:
        """Tickets made (requests that opened one)."""
        return len(self.tickets)

    async def begin(self, request: web.Request) -> tuple[Received, web.Response | None]:
        got = await self.record(request)
        return got, self.failure_response(got)


# ---------------------------------------------------------------- Jira Cloud


@dataclass
class JiraStandIn(TicketStandIn):
    email: str = "ops@collective.example"
    token: str = "jira-token"
    project: str = "OPS"
    issue_types: tuple[str, ...] = ("Task", "Bug")
    priorities: tuple[str, ...] = ("Highest", "High", "Medium", "Low", "Lowest")
    transitions: dict[str, str] = field(default_factory=lambda: {"11": "To Do", "31": "Done"})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/rest/api/3/issue", self._create)
        app.router.add_post("/rest/api/3/issue/{key}/comment", self._comment)
        app.router.add_get("/rest/api/3/issue/{key}/transitions", self._list_transitions)
        app.router.add_post("/rest/api/3/issue/{key}/transitions", self._transition)
        app.router.add_get("/rest/api/3/search/jql", self._search)
        return app

    def key(self, t: Ticket) -> str:
        return f"{self.project}-{t.id}"

    def by_key(self, key: str) -> Ticket | None:
        m = re.fullmatch(rf"{self.project}-(\d+)", key)
        return self.tickets.get(int(m.group(1))) if m else None

    async def _auth(self, request: web.Request) -> tuple[Received, web.Response | None]:
        got, failure = await self.begin(request)
        if failure is not None:
            return got, failure
        if _basic(got) != (self.email, self.token):
            return got, web.Response(status=401, text="")
        return got, None

    @staticmethod
    def _adf_ok(doc: Any) -> bool:
        if not isinstance(doc, dict) or doc.get("type") != "doc" or doc.get("version") != 1:
            return False
        for para in doc.get("content", []):
            for node in para.get("content", []):
                if node.get("type") == "text" and not node.get("text"):
                    return False  # Jira: "text nodes must not be empty"
        return bool(doc.get("content"))

    async def _create(self, request: web.Request) -> web.Response:
        got, bad = await self._auth(request)
        if bad is not None:
            return bad
        body = _json(got)
        f = body.get("fields") if isinstance(body, dict) else None
        errors: dict[str, str] = {}
        if not isinstance(f, dict):
            return json_response(400, {"errorMessages": ["No fields"], "errors": {}})
        if (f.get("project") or {}).get("key") != self.project:
            errors["project"] = "valid project is required"
        summary = f.get("summary")
        if not isinstance(summary, str) or not summary.strip():
            errors["summary"] = "You must specify a summary of the issue."
        elif len(summary) > 255:
            errors["summary"] = "Summary must be less than 255 characters."
        if (f.get("issuetype") or {}).get("name") not in self.issue_types:
            errors["issuetype"] = "Specify an issue type"
        if "priority" in f and (f["priority"] or {}).get("name") not in self.priorities:
            errors["priority"] = "Specify the Priority (name) in the string format"
        if "description" in f and not self._adf_ok(f["description"]):
            errors["description"] = "Operation value must be an Atlassian Document"
        labels = f.get("labels", [])
        if any(" " in str(label) for label in labels):
            errors["labels"] = "The label can't contain spaces."
        if errors:
            return json_response(400, {"errorMessages": [], "errors": errors})
        t = self.new(f)
        return json_response(
            201, {"id": str(10000 + t.id), "key": self.key(t), "self": f"/rest/api/3/issue/{t.id}"}
        )

    async def _comment(self, request: web.Request) -> web.Response:
        got, bad = await self._auth(request)
        if bad is not None:
            return bad
        t = self.by_key(request.match_info["key"])
        if t is None:
            return json_response(404, {"errorMessages": ["Issue does not exist"], "errors": {}})
        body = _json(got)
        if not isinstance(body, dict) or not self._adf_ok(body.get("body")):
            return json_response(400, {"errorMessages": [], "errors": {"comment": "bad body"}})
        t.comments.append(str(body["body"]))
        return json_response(201, {"id": str(len(t.comments))})

    async def _list_transitions(self, request: web.Request) -> web.Response:
        _, bad = await self._auth(request)
        if bad is not None:
            return bad
        if self.by_key(request.match_info["key"]) is None:
            return json_response(404, {"errorMessages": ["Issue does not exist"], "errors": {}})
        return json_response(
            200, {"transitions": [{"id": k, "name": v} for k, v in self.transitions.items()]}
        )

    async def _transition(self, request: web.Request) -> web.Response:
        got, bad = await self._auth(request)
        if bad is not None:
            return bad
        t = self.by_key(request.match_info["key"])
        if t is None:
            return json_response(404, {"errorMessages": ["Issue does not exist"], "errors": {}})
        body = _json(got)
        tid = (body or {}).get("transition", {}).get("id") if isinstance(body, dict) else None
        if tid not in self.transitions:
            return json_response(
                400, {"errorMessages": ["Transition id is not valid for this issue."], "errors": {}}
            )
        t.status = self.transitions[tid].lower()
        return web.Response(status=204)

    async def _search(self, request: web.Request) -> web.Response:
        got, bad = await self._auth(request)
        if bad is not None:
            return bad
        m = re.search(r'labels = "([^"]+)"', got.query.get("jql", ""))
        label = m.group(1) if m else None
        found = [
            {"id": str(10000 + t.id), "key": self.key(t)}
            for t in self.tickets.values()
            if label and label in t.fields.get("labels", [])
        ]
        return json_response(200, {"issues": found[:1], "isLast": True})


# ---------------------------------------------------------------- Zendesk


@dataclass
class ZendeskStandIn(TicketStandIn):
    email: str = "ops@collective.example"
    token: str = "zd-token"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/v2/tickets.json", self._create)
        app.router.add_get("/api/v2/tickets.json", self._list)
        app.router.add_put("/api/v2/tickets/{id}.json", self._update)
        return app

    async def _auth(self, request: web.Request) -> tuple[Received, web.Response | None]:
        got, failure = await self.begin(request)
        if failure is not None:
            return got, failure
        if _basic(got) != (f"{self.email}/token", self.token):
            return got, json_response(401, {"error": "Couldn't authenticate you"})
        return got, None

    @staticmethod
    def _invalid(details: dict[str, str]) -> web.Response:
        return json_response(
            422,
            {
                "error": "RecordInvalid",
                "description": "Record validation errors",
                "details": {k: [{"description": v}] for k, v in details.items()},
            },
        )

    async def _create(self, request: web.Request) -> web.Response:
        got, bad = await self._auth(request)
        if bad is not None:
            return bad
        body = _json(got)
        t = body.get("ticket") if isinstance(body, dict) else None
        if not isinstance(t, dict):
            return json_response(400, {"error": "InvalidEndpoint", "description": "no ticket"})
        problems: dict[str, str] = {}
        comment = t.get("comment")
        if not isinstance(comment, dict) or not str(comment.get("body", "")).strip():
            problems["base"] = "Description: cannot be blank"
        if t.get("priority") not in (None, "urgent", "high", "normal", "low"):
            problems["priority"] = "Priority: is invalid"
        if t.get("type") not in (None, "problem", "incident", "question", "task"):
            problems["type"] = "Type: is invalid"
        if len(str(t.get("external_id", ""))) > 255:
            problems["external_id"] = "External id is too long"
        if problems:
            return self._invalid(problems)
        made = self.new(t)
        return json_response(201, {"ticket": {"id": made.id, "status": "new", **t}})

    async def _list(self, request: web.Request) -> web.Response:
        got, bad = await self._auth(request)
        if bad is not None:
            return bad
        ext = got.query.get("external_id")
        found = [
            {"id": t.id, "external_id": t.fields.get("external_id")}
            for t in self.tickets.values()
            if ext is None or t.fields.get("external_id") == ext
        ]
        return json_response(200, {"tickets": found, "count": len(found)})

    async def _update(self, request: web.Request) -> web.Response:
        got, bad = await self._auth(request)
        if bad is not None:
            return bad
        t = self.tickets.get(int(request.match_info["id"]))
        if t is None:
            return json_response(404, {"error": "RecordNotFound", "description": "Not found"})
        body = _json(got)
        upd = body.get("ticket") if isinstance(body, dict) else None
        if not isinstance(upd, dict):
            return json_response(400, {"error": "InvalidEndpoint", "description": "no ticket"})
        if upd.get("status") not in (None, "new", "open", "pending", "hold", "solved", "closed"):
            return self._invalid({"status": "Status: is invalid"})
        if isinstance(upd.get("comment"), dict):
            t.comments.append(str(upd["comment"].get("body", "")))
        if upd.get("status"):
            t.status = str(upd["status"])
        return json_response(200, {"ticket": {"id": t.id, "status": t.status}})


# ---------------------------------------------------------------- Freshdesk


@dataclass
class FreshdeskStandIn(TicketStandIn):
    api_key: str = "fd-key"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/v2/tickets", self._create)
        app.router.add_put("/api/v2/tickets/{id}", self._update)
        app.router.add_post("/api/v2/tickets/{id}/notes", self._note)
        app.router.add_get("/api/v2/search/tickets", self._search)
        return app

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

    @staticmethod
    def _invalid(errors: list[tuple[str, str]]) -> web.Response:
        return json_response(
            400,
            {
                "description": "Validation failed",
                "errors": [{"field": f, "message": m, "code": "invalid_value"} for f, m in errors],
            },
        )

    async def _create(self, request: web.Request) -> web.Response:
        got, bad = await self._auth(request)
        if bad is not None:
            return bad
        t = _json(got)
        if not isinstance(t, dict):
            return self._invalid([("body", "It should be a JSON object")])
        errors: list[tuple[str, str]] = []
        if not any(t.get(k) for k in ("requester_id", "email", "phone", "twitter_id")):
            errors.append(("requester_id", "Please fill at least 1 of requester_id, email fields"))
        if t.get("priority") not in (1, 2, 3, 4):
            errors.append(("priority", "It should be one of these values: '1,2,3,4'"))
        if t.get("status") not in (2, 3, 4, 5):
            errors.append(("status", "It should be one of these values: '2,3,4,5'"))
        if not str(t.get("subject", "")).strip() or len(str(t.get("subject"))) > 255:
            errors.append(("subject", "It should be a String of at most 255 characters"))
        if not str(t.get("description", "")).strip():
            errors.append(("description", "It should not be blank"))
        if errors:
            return self._invalid(errors)
        made = self.new(t)
        return json_response(201, {"id": made.id, **t})

    async def _update(self, request: web.Request) -> web.Response:
        got, bad = await self._auth(request)
        if bad is not None:
            return bad
        t = self.tickets.get(int(request.match_info["id"]))
        if t is None:
            return json_response(404, {"code": "not_found", "message": "not found"})
        body = _json(got)
        if not isinstance(body, dict) or body.get("status") not in (2, 3, 4, 5):
            return self._invalid([("status", "It should be one of these values: '2,3,4,5'")])
        t.status = {2: "open", 3: "pending", 4: "resolved", 5: "closed"}[body["status"]]
        return json_response(200, {"id": t.id, "status": body["status"]})

    async def _note(self, request: web.Request) -> web.Response:
        got, bad = await self._auth(request)
        if bad is not None:
            return bad
        t = self.tickets.get(int(request.match_info["id"]))
        if t is None:
            return json_response(404, {"code": "not_found", "message": "not found"})
        body = _json(got)
        if not isinstance(body, dict) or not str(body.get("body", "")).strip():
            return self._invalid([("body", "It should not be blank")])
        t.comments.append(str(body["body"]))
        return json_response(201, {"id": len(t.comments), "private": body.get("private")})

    async def _search(self, request: web.Request) -> web.Response:
        got, bad = await self._auth(request)
        if bad is not None:
            return bad
        m = re.fullmatch(r"\"tag:'([^']+)'\"", got.query.get("query", ""))
        if m is None:
            return self._invalid([("query", 'It should be in the format "field:value"')])
        found = [{"id": t.id} for t in self.tickets.values() if m.group(1) in t.fields["tags"]]
        return json_response(200, {"results": found, "total": len(found)})


# ---------------------------------------------------------------- Redmine


@dataclass
class RedmineStandIn(TicketStandIn):
    api_key: str = "rm-key"
    projects: tuple[str, ...] = ("ops",)
    priority_ids: tuple[int, ...] = (1, 2, 3, 4, 5)
    status_ids: tuple[int, ...] = (1, 2, 3, 4, 5)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/issues.json", self._create)
        app.router.add_put("/issues/{id}.json", self._update)
        return app

    async def _auth(self, request: web.Request) -> tuple[Received, web.Response | None]:
        got, failure = await self.begin(request)
        if failure is not None:
            return got, failure
        if got.headers.get("x-redmine-api-key") != self.api_key:
            return got, web.Response(status=401, text="")
        return got, None

    async def _create(self, request: web.Request) -> web.Response:
        got, bad = await self._auth(request)
        if bad is not None:
            return bad
        body = _json(got)
        issue = body.get("issue") if isinstance(body, dict) else None
        if not isinstance(issue, dict):
            return json_response(422, {"errors": ["Issue is invalid"]})
        if str(issue.get("project_id")) not in self.projects:
            return web.Response(status=404, text="")
        errors: list[str] = []
        subject = str(issue.get("subject", ""))
        if not subject.strip():
            errors.append("Subject cannot be blank")
        elif len(subject) > 255:
            errors.append("Subject is too long (maximum is 255 characters)")
        if issue.get("priority_id") not in self.priority_ids:
            errors.append("Priority cannot be blank")
        if errors:
            return json_response(422, {"errors": errors})
        t = self.new(issue)
        return json_response(201, {"issue": {"id": t.id, "subject": subject}})

    async def _update(self, request: web.Request) -> web.Response:
        got, bad = await self._auth(request)
        if bad is not None:
            return bad
        t = self.tickets.get(int(request.match_info["id"]))
        if t is None:
            return web.Response(status=404, text="")
        body = _json(got)
        issue = body.get("issue") if isinstance(body, dict) else None
        if not isinstance(issue, dict):
            return json_response(422, {"errors": ["Issue is invalid"]})
        if "status_id" in issue and issue["status_id"] not in self.status_ids:
            return json_response(422, {"errors": ["Status is not included in the list"]})
        if issue.get("notes"):
            t.comments.append(str(issue["notes"]))
        if "status_id" in issue:
            t.status = {3: "resolved", 5: "closed"}.get(issue["status_id"], "open")
        return web.Response(status=204)
