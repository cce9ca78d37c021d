"""Checks that read across keys and files, on the data as written, so they run even when a file
has other problems: ids unique across files, paths that must exist (``ca_file``,
``composer_lock``), holiday regions, routes and on-call naming configured notifiers and windows,
and each ``notifiers:`` entry against its type's own options model.

The notifier types are not known here: the caller passes :class:`NotifierTypes` (the plugin
registry, :data:`monitord.notify.plugins.NOTIFIER_TYPES`), so that configuration does not
depend on the notifiers.
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path
from typing import Protocol

import holidays
from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from monitord.config.explain import did_you_mean, reword
from monitord.config.issues import Issues
from monitord.config.models import (
    EMAIL_NOTIFIER,
    ROUTE_PSEUDO_TARGETS,
    ROUTE_WHEN_BUILTIN,
    ClientConfig,
    HttpCheck,
    MainConfig,
    TlsCheck,
)
from monitord.config.nodes import Doc, Path_
from monitord.errors import NotifierTypeError


class NotifierTypes(Protocol):
    """The notifier types that can be configured, as the loader asks about them."""

    def options_model(self, type_name: str) -> type[BaseModel]:
        """The pydantic model of the options of ``type_name`` (an entry's keys besides
        ``type``); raises :class:`~monitord.errors.NotifierTypeError` when the type cannot be
        used (not installed, does not import, not a notifier)."""
        ...


def absolute(p: Path) -> Path:
    """Absolute and normalised, without following symlinks (what the user would type)."""
    return Path(os.path.abspath(p))


def _check_ca_file(
    config_dir: Path, doc: Doc, path: tuple[str | int, ...], ca_file: Path, issues: Issues
) -> Path:
    """A check's ``ca_file`` resolved against the config directory; it must be a PEM file of
    CA certificates (loaded here once, so a bad file is a located error, not a failed probe)."""
    full = absolute(ca_file if ca_file.is_absolute() else config_dir / ca_file)
    fix = "correct the path; a relative path is relative to the configuration directory"
    if not full.is_file():
        issues.at(doc, path, f"{str(ca_file)!r} is not a file (looked for {full})", fix)
        return full
    try:
        ssl.create_default_context(cafile=str(full))
    except (OSError, ssl.SSLError) as exc:
        issues.at(
            doc,
            path,
            f"{str(ca_file)!r} holds no usable CA certificate ({exc})",
            "give a PEM file with the -----BEGIN CERTIFICATE----- blocks of the CA",
        )
    return full


def check_paths(config_dir: Path, doc: Doc, client: ClientConfig, issues: Issues) -> ClientConfig:
    """Resolve every site's ``drupal.composer_lock`` and its checks' ``ca_file`` against the
    config directory; they must exist."""
    sites = []
    for i, site in enumerate(client.sites):
        if any(getattr(spec, "ca_file", None) is not None for spec in site.checks):
            checks = []
            for j, spec in enumerate(site.checks):
                ca = spec.ca_file if isinstance(spec, (HttpCheck, TlsCheck)) else None
                if ca is not None:
                    where = ("sites", i, "checks", j, "ca_file")
                    full = _check_ca_file(config_dir, doc, where, ca, issues)
                    spec = spec.model_copy(update={"ca_file": full})
                checks.append(spec)
            site = site.model_copy(update={"checks": tuple(checks)})
        lock = site.drupal.composer_lock if site.drupal else None
        if site.drupal is None or lock is None:
            sites.append(site)
            continue
        full = lock if lock.is_absolute() else (config_dir / lock)
        full = absolute(full)
        if not full.is_file():
            issues.at(
                doc,
                ("sites", i, "drupal", "composer_lock"),
                f"{str(lock)!r} is not a file (looked for {full})",
                "correct the path; a relative path is relative to the configuration directory",
            )
        drupal = site.drupal.model_copy(update={"composer_lock": full})
        sites.append(site.model_copy(update={"drupal": drupal}))
    return client.model_copy(update={"sites": tuple(sites)})


def check_holidays(doc: Doc, issues: Issues) -> None:
    """The holiday country and subdivision, as written, must be known to ``holidays``.

    Checked on the raw data so it is reported even when other agency settings are wrong.
    """
    agency = doc.data.get("agency") if isinstance(doc.data, dict) else None
    hol = agency.get("holidays") if isinstance(agency, dict) else None
    if not isinstance(hol, dict):
        return
    country = hol.get("country", "GB")
    subdivision = hol.get("subdivision")
    if not isinstance(country, str) or not isinstance(subdivision, str | None):
        return
    supported = holidays.list_supported_countries()
    base = ("agency", "holidays")
    try:
        holidays.country_holidays(country, years=[])
    except NotImplementedError:
        issues.at(
            doc,
            (*base, "country"),
            f"{country!r} is not a country the holidays package knows",
            f"{did_you_mean(country, [c for c in supported if len(c) == len(country)])}"
            "use an ISO 3166 code such as GB",
        )
        return
    if subdivision is None:
        return
    try:
        holidays.country_holidays(country, subdiv=subdivision, years=[])
    except NotImplementedError:
        subs = list(supported.get(country, []))
        issues.at(
            doc,
            (*base, "subdivision"),
            f"{subdivision!r} is not a subdivision of {country}",
            f"{did_you_mean(subdivision, subs)}use one of: {', '.join(subs) or 'none'}, "
            "or null for none",
        )


def check_notifiers(doc: Doc, issues: Issues, types: NotifierTypes | None) -> None:
    """Each ``notifiers:`` entry: its type can be used, and its options pass the type's own
    model (errors located like the rest). Checked on the raw data, so it runs even when other
    settings are wrong; only the types named are asked about. Without ``types``, only what the
    configuration alone tells is checked (the name ``email``, e-mail without ``smtp``)."""
    data = doc.data if isinstance(doc.data, dict) else {}
    section = data.get("notifiers")
    if not isinstance(section, dict):
        return
    for name, entry in section.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("type"), str):
            continue  # reported by the model: not a mapping, or no `type`
        base: Path_ = ("notifiers", name)
        type_name = entry["type"]
        if name == EMAIL_NOTIFIER and type_name != EMAIL_NOTIFIER:
            issues.at(
                doc,
                base,
                f"the name `{EMAIL_NOTIFIER}` is the built-in e-mail notifier",
                "give this notifier another name, such as `oncall-pager`",
                key=True,
            )
            continue
        options_model: type[BaseModel] | None = None
        if types is not None:
            try:
                options_model = types.options_model(type_name)
            except NotifierTypeError as exc:
                issues.at(doc, (*base, "type"), exc.problem, exc.fix)
                continue
        if type_name == EMAIL_NOTIFIER and data.get("smtp") is None:
            issues.at(
                doc,
                (*base, "type"),
                f"notifier `{name}` sends e-mail, but there is no `smtp` section",
                "add an smtp section (host, port, from) to monitord.yml",
            )
        if options_model is not None:
            _check_options(doc, issues, name, entry, options_model)


def _check_options(
    doc: Doc, issues: Issues, name: str, entry: dict[str, object], model: type[BaseModel]
) -> None:
    """Validate an entry's options as ``{notifiers: {name: options}}``, so that errors carry
    their full dotted path and the allowed keys."""
    section_model = create_model(
        f"{model.__name__}Notifiers",
        __config__=ConfigDict(extra="allow"),
        notifiers=(dict[str, model], ...),  # type: ignore[valid-type]
    )
    options = {k: v for k, v in entry.items() if k != "type"}
    try:
        section_model.model_validate({"notifiers": {name: options}})
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            reword(err, section_model, doc, issues)


def check_main(config_dir: Path, doc: Doc, main: MainConfig, issues: Issues) -> MainConfig:
    smtp = main.smtp
    if smtp is not None and smtp.ca_file is not None:
        full = smtp.ca_file if smtp.ca_file.is_absolute() else config_dir / smtp.ca_file
        full = absolute(full)
        if not full.is_file():
            issues.at(
                doc,
                ("smtp", "ca_file"),
                f"{str(smtp.ca_file)!r} is not a file (looked for {full})",
                "correct the path; a relative path is relative to the configuration directory",
            )
        main = main.model_copy(update={"smtp": smtp.model_copy(update={"ca_file": full})})
    return main


def cross_checks(main_doc: Doc | None, client_docs: list[Doc], issues: Issues) -> None:
    """Checks across files, on the data as written, so they run even when a file has other
    problems: unique client ids, site ids unique across all clients, smtp when contacts exist."""
    client_seen: dict[str, tuple[str, int, int]] = {}
    site_seen: dict[str, tuple[str, int, int]] = {}
    for doc in client_docs:
        data = doc.data if isinstance(doc.data, dict) else {}
        cid = data.get("client")
        if isinstance(cid, str):
            if cid in client_seen:
                f, line, col = client_seen[cid]
                issues.at(
                    doc,
                    ("client",),
                    f"client id {cid!r} is also used in {f}:{line}:{col}",
                    "give every client file its own `client:` id",
                )
            else:
                client_seen[cid] = (doc.file, *doc.where(("client",)))
        sites = data.get("sites")
        for i, site in enumerate(sites if isinstance(sites, list) else []):
            sid = site.get("id") if isinstance(site, dict) else None
            if not isinstance(sid, str):
                continue
            if sid in site_seen:
                f, line, col = site_seen[sid]
                issues.at(
                    doc,
                    ("sites", i, "id"),
                    f"site id {sid!r} is also used in {f}:{line}:{col}",
                    "site ids must be unique across all clients; rename one of them",
                )
            else:
                site_seen[sid] = (doc.file, *doc.where(("sites", i, "id")))
    if main_doc is None or not isinstance(main_doc.data, dict):
        return
    if main_doc.data.get("smtp") is None:
        with_contacts = [
            doc.file
            for doc in client_docs
            if isinstance(doc.data, dict) and doc.data.get("contacts")
        ]
        if with_contacts:
            issues.at(
                main_doc,
                ("smtp",),
                f"no `smtp` section, but {with_contacts[0]} lists contacts to e-mail",
                "add an smtp section (host, port, from) to monitord.yml",
            )


def check_routing(doc: Doc | None, issues: Issues) -> None:
    """Cross-references of ``routes:`` and ``oncall:`` (docs/routing.md), on the data
    as written: a route naming an unknown notifier or window, an override naming nobody in
    the rota, an on-call notifier that is not configured."""
    if doc is None or not isinstance(doc.data, dict):
        return
    data = doc.data
    notifiers = data.get("notifiers")
    names = {str(k) for k in notifiers} if isinstance(notifiers, dict) else set()
    if data.get("smtp") is not None:
        names.add(EMAIL_NOTIFIER)
    targets = sorted(names | set(ROUTE_PSEUDO_TARGETS))
    windows = data.get("windows")
    window_names = {str(k) for k in windows} if isinstance(windows, dict) else set()
    routes = data.get("routes")
    for i, r in enumerate(routes if isinstance(routes, list) else []):
        if not isinstance(r, dict):
            continue
        notify = r.get("notify")
        for j, target in enumerate(notify if isinstance(notify, list) else []):
            if isinstance(target, str) and target not in targets:
                issues.at(
                    doc,
                    ("routes", i, "notify", j),
                    f"{target!r} is neither a configured notifier nor a pseudo-target",
                    f"{did_you_mean(target, targets)}use one of: {', '.join(targets)}, "
                    "or add it under `notifiers:`",
                )
        when = r.get("when")
        if isinstance(when, str) and when not in ROUTE_WHEN_BUILTIN and when not in window_names:
            choices = sorted(set(ROUTE_WHEN_BUILTIN) | window_names)
            issues.at(
                doc,
                ("routes", i, "when"),
                f"{when!r} is not a time window",
                f"{did_you_mean(when, choices)}use always, office_hours, out_of_hours or "
                "a window defined under `windows:`",
            )
    security = data.get("security")
    page_via = security.get("oncall_notifier") if isinstance(security, dict) else None
    if isinstance(page_via, str) and page_via not in names:
        shown = sorted(names)
        issues.at(
            doc,
            ("security", "oncall_notifier"),
            f"{page_via!r} is not a configured notifier",
            f"{did_you_mean(page_via, shown)}use one of: {', '.join(shown) or 'none'}, "
            "or add it under `notifiers:`",
        )
    oncall = data.get("oncall")
    if not isinstance(oncall, dict):
        return
    rota = oncall.get("rota")
    people = {
        p.get("name") for p in (rota if isinstance(rota, list) else []) if isinstance(p, dict)
    }
    overrides = oncall.get("overrides")
    for k, ov in enumerate(overrides if isinstance(overrides, list) else []):
        name = ov.get("name") if isinstance(ov, dict) else None
        if isinstance(name, str) and name not in people:
            shown = sorted(str(p) for p in people if p)
            issues.at(
                doc,
                ("oncall", "overrides", k, "name"),
                f"{name!r} is not in the on-call rota",
                f"{did_you_mean(name, shown)}use one of: {', '.join(shown) or 'none'}, "
                "or add them to oncall.rota",
            )
    via = oncall.get("notifier", "email")
    if isinstance(via, str) and via not in names:
        issues.at(
            doc,
            ("oncall", "notifier"),
            f"{via!r} is not a configured notifier",
            f"{did_you_mean(via, sorted(names))}add it under `notifiers:`, or use email "
            "(with an smtp section)",
        )
