"""The built-in notifiers are registered the way a new one must be (docs/ARCHITECTURE.md's
recipe): every notifier class in ``monitord/notify/`` is an entry point of the
``monitord.notifiers`` group, and every ticket system among them is a ticket type, so the
``tickets`` route target finds it. A notifier added without its registration fails here, not
at a user's first ``type:``."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from importlib import metadata

import monitord.notify
from monitord.notify.names import TICKET_TYPES
from monitord.notify.plugins import ENTRY_POINT_GROUP
from monitord.notify.ticketing import TicketNotifier


def _registered() -> dict[str, str]:
    """Entry-point value (``module:Class``) → type name, for this package's notifiers."""
    return {
        ep.value: ep.name
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)
        if ep.value.startswith("monitord.")
    }


def _notifier_classes() -> dict[str, type[object]]:
    """``module:Class`` → class, for every public class defined in monitord/notify/ that has
    a plugin's ``api_version`` and ``send``."""
    out: dict[str, type[object]] = {}
    for info in pkgutil.iter_modules(monitord.notify.__path__):
        module = importlib.import_module(f"monitord.notify.{info.name}")
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if (
                cls.__module__ == module.__name__
                and not name.startswith("_")
                and not inspect.isabstract(cls)
                and hasattr(cls, "api_version")
                and callable(getattr(cls, "send", None))
            ):
                out[f"{module.__name__}:{name}"] = cls
    return out


def test_every_builtin_notifier_is_an_entry_point() -> None:
    classes = _notifier_classes()
    assert len(classes) >= 12
    missing = sorted(set(classes) - set(_registered()))
    assert missing == [], (
        f"add these to [project.entry-points.{ENTRY_POINT_GROUP!r}] in pyproject.toml "
        f"(then reinstall: pip install -e .): {missing}"
    )


def test_every_builtin_ticket_system_is_a_ticket_type() -> None:
    registered = _registered()
    ticket_systems = {
        registered[value]
        for value, cls in _notifier_classes().items()
        if issubclass(cls, TicketNotifier) and value in registered
    }
    assert ticket_systems >= {"jira", "zendesk", "freshdesk", "redmine"}
    assert sorted(ticket_systems - TICKET_TYPES) == [], "add them to notify/names.TICKET_TYPES"
    assert sorted(TICKET_TYPES - set(registered.values())) == []
