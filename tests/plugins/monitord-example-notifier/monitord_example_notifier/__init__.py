"""An example monitord notifier plugin: one JSON line per notification, appended to a file.

Configure it in monitord.yml::

    notifiers:
      audit-log: {type: jsonl, path: var/notifications.jsonl}

A plugin is a class registered in the entry-point group ``monitord.notifiers`` with
``api_version``, an ``Options`` pydantic model (frozen, extra="forbid"), a constructor
``(name, options, ctx)`` and async ``send``/``aclose`` (see monitord's docs/notifiers.md).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, field_validator

from monitord.errors import PermanentError
from monitord.notify.base import NOTIFIER_API_VERSION, Notification
from monitord.notify.plugins import NotifierContext


class JsonLinesNotifier:
    api_version: ClassVar[int] = NOTIFIER_API_VERSION

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)

        path: Path
        """The file to append to; relative to the configuration directory."""

        @field_validator("path", mode="before")
        @classmethod
        def _not_a_directory(cls, v: object) -> object:
            if isinstance(v, str) and v.endswith("/"):
                raise ValueError(f"{v!r} is a directory; name a file, e.g. var/out.jsonl")
            return v

    def __init__(self, name: str, options: Options, ctx: NotifierContext) -> None:
        self.name = name
        self.path = options.path if options.path.is_absolute() else ctx.config_dir / options.path
        self._clock = ctx.clock

    def _append(self, line: str) -> None:
        with self.path.open("a", encoding="utf-8") as f:
            f.write(line + "\n")

    async def send(self, notification: Notification) -> str | None:
        record = {
            "notifier": self.name,
            "key": notification.key,
            "written_at": self._clock().isoformat(),
            "event": notification.event.to_json(),
        }
        try:
            await asyncio.to_thread(self._append, json.dumps(record, sort_keys=True))
        except OSError as exc:
            raise PermanentError(
                f"cannot append to {self.path} ({exc.strerror}) — check the directory exists "
                "and monitord may write there"
            ) from None
        return notification.key

    async def aclose(self) -> None:
        """Nothing held open."""


class OldApiNotifier(JsonLinesNotifier):
    """Written for an older monitord: the wrong api_version."""

    api_version: ClassVar[int] = NOTIFIER_API_VERSION + 41


class NoSendNotifier:
    """Forgot send()."""

    api_version: ClassVar[int] = NOTIFIER_API_VERSION
    Options = JsonLinesNotifier.Options

    async def aclose(self) -> None:
        """Nothing held open."""
