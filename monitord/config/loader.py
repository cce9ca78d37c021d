"""Read a configuration directory into a validated :class:`~monitord.config.models.Config`.

``DIR/monitord.yml`` and every ``DIR/clients/*.yml`` / ``*.yaml`` (sorted) are read into data
that keeps the line and column of every key and value (:mod:`.reader`, :mod:`.nodes`), with
``${NAME}`` references resolved (:mod:`monitord.config.secrets`). The data is validated with the
pydantic models; each pydantic error is mapped back to the line:col of the offending key or
value and reworded as ``FILE:LINE:COL: dotted.path: what is wrong — how to fix``
(:mod:`.explain`). Checks across keys and files follow (:mod:`.crossref`: duplicate ids,
missing files, an smtp section when contacts exist, routes naming configured notifiers). Every
problem in every file is collected (:mod:`.issues`) and raised together as one
:class:`ConfigError`.

Paths in messages are dotted with list indexes: ``sites[0].checks[1].interval``.
"""

from __future__ import annotations

import os
import typing
from pathlib import Path

from monitord.config.crossref import (
    NotifierTypes,
    absolute,
    check_holidays,
    check_main,
    check_notifiers,
    check_paths,
    check_routing,
    cross_checks,
)
from monitord.config.explain import CHECK_TYPES, validate
from monitord.config.issues import MAX_SHOWN_VALUE, Issues
from monitord.config.models import ClientConfig, Config, HttpCheck, MainConfig
from monitord.config.nodes import Doc
from monitord.config.reader import MAX_CONFIG_DEPTH, parse_file
from monitord.contracts.config_checks import check_contracts
from monitord.errors import ConfigError, MonitordError

MAIN_FILE = "monitord.yml"
CLIENTS_DIR = "clients"
CLIENT_SUFFIXES = (".yml", ".yaml")
SYSTEM_CONFIG_DIR = Path("/etc/monitord")
CONFIG_DIR_ENV = "MONITORD_CONFIG"


def _remember_written_urls(doc: Doc, client: ClientConfig) -> None:
    """Give every site and http check URL that came from ``${NAME}`` references its display
    form, computed from the text as written (monitord.redact.display_url)."""
    for i, site in enumerate(client.sites):
        written = doc.secret_text(("sites", i, "url"))
        if written is not None and written.substituted:
            site.remember_written_url(written.text)
        for j, spec in enumerate(site.checks):
            written = doc.secret_text(("sites", i, "checks", j, "url"))
            if isinstance(spec, HttpCheck) and written is not None and written.substituted:
                spec.remember_written_url(written.text)


def load_config(
    directory: Path,
    *,
    environ: typing.Mapping[str, str] | None = None,
    notifier_types: NotifierTypes | None = None,
) -> Config:
    """Load and validate ``directory``; raise :class:`ConfigError` listing every problem.

    ``notifier_types`` checks each ``notifiers:`` entry's type and options: every command and
    the daemon pass :data:`monitord.notify.plugins.NOTIFIER_TYPES` (without it, the entries
    are only checked for what the configuration alone can tell). ``environ`` replaces
    ``os.environ`` for ``${NAME}`` references (tests). File names in
    messages are ``directory`` joined with the file's name, as given. Nothing else escapes:
    an unexpected exception while reading a file is a located problem of that file too.
    """
    issues = Issues()
    directory = Path(directory)
    try:
        return _load(directory, issues, environ, notifier_types)
    except ConfigError:
        raise
    except Exception as exc:  # a bug or an exhausted resource: still a located answer
        _unexpected(issues, issues.current or str(directory), exc)
        raise ConfigError(issues.result()) from exc


def _unexpected(issues: Issues, file: str, exc: Exception) -> None:
    if isinstance(exc, RecursionError):
        problem = f"lists and mappings nested more than {MAX_CONFIG_DEPTH} levels deep"
        fix = "a configuration is a few levels deep: check the brackets and the indentation"
    elif isinstance(exc, MemoryError):
        problem = "too large to read into memory"
        fix = "check that this is the right file; split a very large client list"
    else:
        detail = str(exc)
        if len(detail) > MAX_SHOWN_VALUE:
            detail = detail[: MAX_SHOWN_VALUE - 1] + "…"
        problem = f"could not be read ({type(exc).__name__}: {detail})"
        fix = (
            "this is a bug in monitord: report it with this message; meanwhile look for an "
            "unusual value in this file"
        )
    issues.add(None, file, 1, 1, (), problem, fix)


def _load(
    directory: Path,
    issues: Issues,
    environ: typing.Mapping[str, str] | None,
    notifier_types: NotifierTypes | None,
) -> Config:
    main_path = directory / MAIN_FILE
    if not directory.is_dir():
        issues.add(
            None,
            str(directory),
            1,
            1,
            (),
            f"the configuration directory does not exist (looked in {absolute(directory)})",
            "pass --config DIR with the directory that holds monitord.yml",
        )
        raise ConfigError(issues.result())
    if not main_path.is_file():
        issues.add(
            None,
            str(main_path),
            1,
            1,
            (),
            f"{MAIN_FILE} not found (looked for {absolute(main_path)})",
            "create it (start from the bundled config/monitord.yml), or pass --config DIR",
        )
        main_doc = None
    else:
        main_doc = parse_file(
            main_path,
            str(main_path),
            issues,
            environ,
            "add an `agency:` section with a `name:` (see the bundled config/monitord.yml)",
        )
    main: MainConfig | None = None
    if main_doc is not None:
        check_holidays(main_doc, issues)
        check_notifiers(main_doc, issues, notifier_types)
        main = validate(MainConfig, main_doc, issues)
        if main is not None:
            main = check_main(directory, main_doc, main, issues)

    clients: list[ClientConfig] = []
    client_docs: list[Doc] = []
    clients_dir = directory / CLIENTS_DIR
    files = (
        sorted(p for p in clients_dir.iterdir() if p.suffix in CLIENT_SUFFIXES and p.is_file())
        if clients_dir.is_dir()
        else []
    )
    for path in files:
        doc = parse_file(
            path,
            str(path),
            issues,
            environ,
            "add `client:`, `name:` and `sites:` (see the bundled config/clients/acme.yml), "
            "or delete the file",
        )
        if doc is None:
            continue
        client_docs.append(doc)
        client = validate(ClientConfig, doc, issues)
        if client is not None:
            client = check_paths(directory, doc, client, issues)
            _remember_written_urls(doc, client)
            client.remember_file(f"{CLIENTS_DIR}/{path.name}")
            clients.append(client)

    issues.current = str(directory)
    cross_checks(main_doc, client_docs, issues)
    check_routing(main_doc, issues)
    check_contracts(main_doc, client_docs, issues)
    result = issues.result()
    if result or main is None:
        raise ConfigError(result)
    config = Config(
        main=main,
        clients=tuple(clients),
        directory=absolute(directory),
    )
    docs = [d for d in (main_doc, *client_docs) if d is not None]
    config.remember_secret_values(v for d in docs for r in d.resolved.values() for v in r.secrets)
    return config


def resolve_config_dir(
    arg: str | None,
    *,
    environ: typing.Mapping[str, str] | None = None,
    system_dir: Path = SYSTEM_CONFIG_DIR,
    local_dir: Path = Path("config"),
) -> Path:
    """The configuration directory: ``arg`` (``--config``); else ``$MONITORD_CONFIG``; else
    ``/etc/monitord`` if it exists; else ``./config`` if it exists.

    Raises :class:`MonitordError` naming everything tried when none applies. An explicit
    ``arg`` or ``$MONITORD_CONFIG`` is returned as given; :func:`load_config` reports it if it
    does not exist.
    """
    if arg:
        return Path(arg)
    env = os.environ if environ is None else environ
    from_env = env.get(CONFIG_DIR_ENV)
    if from_env:
        return Path(from_env)
    if system_dir.is_dir():
        return system_dir
    if local_dir.is_dir():
        return local_dir
    raise MonitordError(
        f"no configuration directory: --config was not given, ${CONFIG_DIR_ENV} is not set, "
        f"and neither {system_dir} nor ./{local_dir} exists — pass --config DIR, set "
        f"{CONFIG_DIR_ENV}=DIR, or create {system_dir}"
    )


def summary(config: Config) -> tuple[int, int, int]:
    """(clients, sites, checks) of a loaded configuration."""
    sites = sum(len(c.sites) for c in config.clients)
    checks = sum(1 for _ in config.iter_checks())
    return len(config.clients), sites, checks


__all__ = [
    "CHECK_TYPES",
    "NotifierTypes",
    "load_config",
    "resolve_config_dir",
    "summary",
]
