"""Notifier plugins: find, check and build the notifiers the configuration names.

Built-in notifiers and third-party ones load the same way: through the entry-point group
``monitord.notifiers``, whose entry names are the ``type:`` values of ``notifiers:`` entries in
``monitord.yml``. Only the types the configuration uses are imported.

A plugin class must have (see docs/notifiers.md):

- ``api_version: ClassVar[int]`` equal to :data:`~monitord.notify.base.NOTIFIER_API_VERSION`;
- ``Options``: a pydantic model, frozen, ``extra="forbid"``, for its options (the keys of its
  ``notifiers:`` entry besides ``type``); secrets as ``SecretStr``;
- ``async def send(self, notification) -> str | None`` and ``async def aclose(self)``;
- a constructor ``cls(name: str, options: Options, ctx: NotifierContext)``.

A class that falls short (or an entry point that does not import) is a configuration error
naming the plugin, reported by the loader at the entry's ``type:`` line.

The built-in ``email`` predates this constructor: it is adapted here (:data:`_ADAPTERS`). It is
always present, named ``email``, when ``smtp:`` is configured.
"""

from __future__ import annotations

import inspect
import ssl
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import structlog
from pydantic import BaseModel, ConfigDict, ValidationError, create_model
from structlog.typing import FilteringBoundLogger

from monitord.clock import Clock, utcnow
from monitord.config.models import Agency, Config, SmtpConfig
from monitord.errors import ConfigError, ConfigIssue, NotifierTypeError
from monitord.notify.base import NOTIFIER_API_VERSION, Notifier
from monitord.notify.names import EMAIL as EMAIL
from monitord.notify.names import TICKET_TYPES as TICKET_TYPES
from monitord.notify.names import TICKETS as TICKETS
from monitord.notify.names import TICKETS_LOCAL as TICKETS_LOCAL
from monitord.notify.names import configured_types as configured_types
from monitord.redact import display_host

# What a notifier plugin and its tests may use (docs/notifiers.md); the rest is monitord's loader.
__all__ = [
    "ENTRY_POINT_GROUP",
    "NotifierContext",
    "make_context",
]

if TYPE_CHECKING:
    from monitord.store.base import Store

ENTRY_POINT_GROUP = "monitord.notifiers"


@dataclass(frozen=True, slots=True)
class NotifierContext:
    """What every notifier is built with, besides its name and options."""

    agency: Agency
    smtp: SmtpConfig | None
    ssl_context: ssl.SSLContext | None
    """Trust for HTTPS/SMTPS (tests pass their CA); None means the system's trust store."""
    clock: Clock
    """The time now (UTC, aware); use it instead of reading the clock (tests drive it)."""
    log: FilteringBoundLogger
    config_dir: Path
    """Relative paths in a notifier's options resolve against this."""
    store: Store | None = None
    """The daemon's store, for notifiers that keep state in it (tickets-local); None in
    ``check-config`` and when a notifier is built outside a daemon."""
    site_hosts: Mapping[tuple[str, str], str] = field(default_factory=dict)
    """(client id, site id) → the host of the site's URL as it may be shown, for notifiers
    that name the affected host of an event that carries no URL (PagerDuty's ``source``)."""


class PluginError(NotifierTypeError):
    """A notifier type cannot be used: ``problem`` and ``fix`` as in a config message."""


# ---------------------------------------------------------------- the built-in e-mail adapter


class EmailOptions(BaseModel):
    """``type: email`` takes no options: it mails through ``smtp:`` to each recipient."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _build_email(name: str, options: BaseModel, ctx: NotifierContext) -> Notifier:
    from monitord.notify.email import EmailNotifier

    if ctx.smtp is None:
        raise PluginError(
            f"notifier {name!r} is of type email but there is no smtp section",
            "add an smtp section (host, port, from) to monitord.yml",
        )
    return EmailNotifier(name, ctx.smtp, ctx.agency, ctx.ssl_context, clock=ctx.clock)


_ADAPTERS: dict[str, tuple[str, type[BaseModel], Callable[..., Notifier]]] = {
    "monitord.notify.email:EmailNotifier": ("monitord.notify.email", EmailOptions, _build_email),
}
"""Classes with their own constructor: ``module:qualname`` → (module, Options, builder)."""


def _adapter(cls: type[Any]) -> tuple[str, type[BaseModel], Callable[..., Notifier]] | None:
    return _ADAPTERS.get(f"{cls.__module__}:{cls.__qualname__}")


# ---------------------------------------------------------------- discovery and checks


def _entry_points() -> dict[str, metadata.EntryPoint]:
    """Entry points of the group by name (the first wins if two packages claim one name)."""
    out: dict[str, metadata.EntryPoint] = {}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        out.setdefault(ep.name, ep)
    return out


def available_types() -> list[str]:
    """Every notifier type installed (nothing is imported)."""
    return sorted(_entry_points())


def _is_async(obj: Any) -> bool:
    return inspect.iscoroutinefunction(obj)


def protocol_problems(cls: Any) -> list[str]:
    """What ``cls`` lacks to be a notifier plugin (empty when it is one)."""
    if not isinstance(cls, type):
        return [f"it is a {type(cls).__name__}, not a class"]
    problems: list[str] = []
    version = getattr(cls, "api_version", None)
    if version is None:
        problems.append("it has no api_version")
    elif version != NOTIFIER_API_VERSION:
        problems.append(
            f"its api_version is {version!r}, but this monitord speaks {NOTIFIER_API_VERSION}"
        )
    for method in ("send", "aclose"):
        fn = getattr(cls, method, None)
        if fn is None:
            problems.append(f"it has no {method}() method")
        elif not _is_async(fn):
            problems.append(f"its {method}() is not an async def")
    if _adapter(cls) is None:
        options = getattr(cls, "Options", None)
        if not (isinstance(options, type) and issubclass(options, BaseModel)):
            problems.append("it has no Options (a pydantic model of its options)")
        else:
            cfg = options.model_config
            if cfg.get("extra") != "forbid" or not cfg.get("frozen"):
                problems.append(
                    "its Options model must be ConfigDict(extra='forbid', frozen=True), so a "
                    "mistyped option is an error and options cannot change"
                )
    return problems


def load_plugin_class(type_name: str) -> type[Any]:
    """Import the class registered as ``type_name`` and check it; raises :class:`PluginError`."""
    eps = _entry_points()
    ep = eps.get(type_name)
    if ep is None:
        from difflib import get_close_matches

        close = get_close_matches(type_name, list(eps), n=1, cutoff=0.6)
        hint = f"did you mean `{close[0]}`? " if close else ""
        raise PluginError(
            f"unknown notifier type {type_name!r}",
            f"{hint}use one of: {', '.join(sorted(eps)) or '(none installed)'}, or install the "
            f"package that provides it (entry point group {ENTRY_POINT_GROUP})",
        )
    where = f"{ep.value}" + (f" from {ep.dist.name}" if ep.dist is not None else "")
    try:
        cls = ep.load()
    except Exception as exc:
        raise PluginError(
            f"notifier plugin {type_name!r} ({where}) cannot be imported: "
            f"{type(exc).__name__}: {exc}",
            "reinstall or upgrade the plugin package, or remove the notifiers using it",
        ) from None
    problems = protocol_problems(cls)
    if problems:
        raise PluginError(
            f"notifier plugin {type_name!r} ({where}) is not a monitord notifier: "
            + "; ".join(problems),
            "upgrade the plugin to a version made for this monitord (see docs/notifiers.md), "
            "or remove the notifiers using it",
        )
    return cast(type[Any], cls)


def options_model(cls: type[Any]) -> type[BaseModel]:
    adapter = _adapter(cls)
    if adapter is not None:
        return adapter[1]
    return cast(type[BaseModel], cls.Options)


def options_section_model(cls: type[Any]) -> type[BaseModel]:
    """A model of ``{notifiers: {name: options}}`` for this plugin, so the loader can report
    option errors with their full dotted path and allowed keys."""
    entries: Any = dict[str, options_model(cls)]  # type: ignore[misc]
    return create_model(
        f"{cls.__name__}Notifiers", __config__=ConfigDict(extra="allow"), notifiers=(entries, ...)
    )


class _Registry:
    """The installed notifier types, as the configuration loader asks about them
    (:class:`monitord.config.crossref.NotifierTypes`)."""

    def options_model(self, type_name: str) -> type[BaseModel]:
        return options_model(load_plugin_class(type_name))


NOTIFIER_TYPES = _Registry()
"""Pass to :func:`monitord.config.load_config` so that each ``notifiers:`` entry's type is
loaded and its options checked, located like every configuration error."""


def validate_options(cls: type[Any], options: Mapping[str, Any]) -> BaseModel:
    """The plugin's Options from an entry's keys (without ``type``); raises ValidationError."""
    return options_model(cls).model_validate(dict(options))


def build_notifier(name: str, cls: type[Any], options: BaseModel, ctx: NotifierContext) -> Notifier:
    adapter = _adapter(cls)
    if adapter is not None:
        return adapter[2](name, options, ctx)
    return cast(Notifier, cls(name, options, ctx))


# ---------------------------------------------------------------- the daemon's entry point


def make_context(
    config: Config,
    ssl_context: ssl.SSLContext | None = None,
    clock: Clock = utcnow,
    *,
    store: Store | None = None,
    log: FilteringBoundLogger | None = None,
) -> NotifierContext:
    return NotifierContext(
        agency=config.main.agency,
        smtp=config.main.smtp,
        ssl_context=ssl_context,
        clock=clock,
        log=log or structlog.get_logger("monitord.notify"),
        config_dir=config.directory,
        store=store,
        site_hosts=site_hosts(config),
    )


def site_hosts(config: Config) -> dict[tuple[str, str], str]:
    """(client id, site id) → host of the site's display URL (none when masked)."""
    out: dict[tuple[str, str], str] = {}
    for client in config.clients:
        for site in client.sites:
            if host := display_host(site.display_url):
                out[(client.client, site.id)] = host
    return out


def build_notifiers(
    config: Config,
    ssl_context: ssl.SSLContext | None = None,
    clock: Clock = utcnow,
    *,
    store: Store | None = None,
    only: Collection[str] | None = None,
    log: FilteringBoundLogger | None = None,
) -> dict[str, Notifier]:
    """Every notifier the configuration names (or those in ``only``), built and ready.

    The loader has already checked each entry; a problem found here anyway (a plugin
    uninstalled since) raises :class:`ConfigError` naming the notifier.
    """
    ctx = make_context(config, ssl_context, clock, store=store, log=log)
    file = str(config.directory / "monitord.yml")
    out: dict[str, Notifier] = {}
    issues: list[ConfigIssue] = []
    entries = config.main.notifiers
    for name, type_name in configured_types(config).items():
        if only is not None and name not in only:
            continue
        path = f"notifiers.{name}"
        try:
            cls = load_plugin_class(type_name)
            raw = entries[name].options if name in entries else {}
            options = validate_options(cls, raw)
            out[name] = build_notifier(name, cls, options, ctx)
        except PluginError as exc:
            issues.append(ConfigIssue(file, 1, 1, path, exc.problem, exc.fix))
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                where = ".".join(str(p) for p in err["loc"])
                issues.append(
                    ConfigIssue(
                        file,
                        1,
                        1,
                        f"{path}.{where}" if where else path,
                        err["msg"],
                        "correct the notifier's options (monitord check-config shows the line)",
                    )
                )
    if issues:
        raise ConfigError(issues)
    return out
