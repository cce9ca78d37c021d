"""Drupal version strings and Composer constraints, with Composer's own meaning.

Pure functions over strings; no I/O. The grammar follows composer/semver's
``VersionParser::normalize`` / ``parseConstraints`` and ``Constraint::versionCompare``
closely enough that drupal.org's "Affected versions" mean here what they mean to Composer:

* A version normalises to four numbers plus an optional modifier (``alpha``, ``beta``,
  ``RC``, ``patch``) with an optional number, plus an optional ``-dev``:
  ``1.2`` is ``1.2.0.0``, ``v1.2.3-b2`` is ``1.2.3.0-beta2``, ``1.x-dev`` is
  ``1.9999999.9999999.9999999-dev``, ``dev-main`` is a branch.
* Ordering is PHP's ``version_compare`` on those strings: dev < alpha < beta < RC <
  stable < patch, and a modifier without a number sorts *below* the same modifier with
  number 0 (``1.0-beta`` < ``1.0-beta0``; :mod:`packaging` calls those equal). We order
  through :class:`packaging.version.Version` by shifting modifier numbers up by one, which
  reproduces PHP's order exactly for every version Composer can normalise here.
* ``<1.2.3`` means ``< 1.2.3.0-dev`` and ``>=1.2.3`` means ``>= 1.2.3.0-dev`` (Composer
  appends ``-dev`` to a bare ``<``/``>=`` bound), so ``1.2.3-beta`` satisfies ``<=1.2.3``
  and ``>=1.2.3`` but not ``<1.2.3``.
* A branch (``dev-main``) only satisfies ``==dev-main``, ``!=…`` and ``*``; every ordered
  comparison with a branch is false, as in Composer.

Drupal's own version strings are accepted too: ``8.x-1.5`` is ``1.5.0`` and
``7.x-3.4-beta2`` is ``3.4.0-beta2`` (:func:`normalize_drupal_version`).

Not supported (a clear :class:`~monitord.errors.VersionError`, never a silent match):
date-based versions (``20230101``), modifier numbers with several parts
(``1.0-beta1.2``), and more than four numeric parts.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal

from packaging.version import Version

from monitord.errors import VersionError

__all__ = [
    "Comparison",
    "ComposerVersion",
    "Constraint",
    "affects",
    "normalize_drupal_version",
    "parse_constraint",
    "parse_version",
]

Op = Literal["==", "!=", "<", "<=", ">", ">="]
Modifier = Literal["alpha", "beta", "RC", "patch"]

MAX_VERSION_TEXT = 200
"""Characters of a version or a single constraint part we look at. Real ones are under 30;
the cap keeps a hostile feed from making the regular expressions below do silly work."""

MAX_CONSTRAINT_TEXT = 4000
"""Characters of a whole constraint. drupal.org's longest (SA-CORE-2023-005) is about 300."""

BRANCH_NUMBER = 9999999
"""Composer's stand-in for ``x`` in a numeric branch: 1.x-dev is 1.9999999.9999999.9999999-dev."""

_EXPECTED_VERSION = (
    "expected a Composer or Drupal version such as 10.3.1, 7.58, 1.5.0-beta2, 8.x-1.5, "
    "7.x-3.4-beta2, 1.x-dev or dev-main"
)
_EXPECTED_CONSTRAINT = (
    'expected a Composer constraint such as "<10.2.11 || >=10.3.0 <10.3.9", "11.2.*", "*", '
    '"^8.0", "~1.2", "1.0 - 2.0" or "!=1.2.3"'
)

# composer/semver VersionParser::$modifierRegex, verbatim (Python 3.11 has possessive *+).
_MODIFIER = r"[._-]?(?:(stable|beta|b|RC|alpha|a|patch|pl|p)((?:[.-]?\d+)*+)?)?([.-]?dev)?"
_STABILITIES = r"stable|RC|beta|alpha|dev"

_CLASSICAL = re.compile(r"^v?(\d{1,5})(\.\d+)?(\.\d+)?(\.\d+)?" + _MODIFIER + r"\Z", re.I)
_DATE = re.compile(r"^v?(\d{4}(?:[.:-]?\d{2}){1,6}(?:[.:-]?\d{1,3})?)" + _MODIFIER + r"\Z", re.I)
_ALIAS = re.compile(r"^([^,\s]++) ++as ++([^,\s]++)\Z")
_FLAG = re.compile(r"@(?:" + _STABILITIES + r")\Z", re.I)
_BUILD = re.compile(r"^([^,\s+]++)\+[^\s]++\Z")
_DEV_SUFFIX = re.compile(r"^(.*?)[.-]?dev\Z", re.I)
_BRANCH = re.compile(r"^v?(\d++)(\.(?:\d++|[xX*]))?(\.(?:\d++|[xX*]))?(\.(?:\d++|[xX*]))?\Z", re.I)
_DRUPAL_CORE_PREFIX = re.compile(r"^(\d+)\.x-(.+)\Z")
_DRUPAL_LEGACY = re.compile(r"^(\d+)\.(\d+)(?=\Z|[-+])(.*)\Z")

_OR_SPLIT = re.compile(r"\s*\|\|?\s*")
# composer's (?<!^|as|[=>< ,]) written as three fixed-width look-behinds for Python.
_AND_SPLIT = re.compile(r"(?<!^)(?<!as)(?<![=>< ,]) *(?<!-)[, ](?!-) *(?!,|as|\Z)")
_C_FLAG = re.compile(r"^([^,\s]*?)@(" + _STABILITIES + r")\Z", re.I)
_C_REF = re.compile(r"^(dev-[^,\s@]+?|[^,\s@]+?\.x-dev)#.+\Z", re.I)
_C_ANY = re.compile(r"^(v)?[xX*](\.[xX*])*\Z", re.I)
_VREGEX = (
    r"v?(\d++)(?:\.(\d++))?(?:\.(\d++))?(?:\.(\d++))?(?:"
    + _MODIFIER
    + r"|\.([xX*][.-]?dev))(?:\+[^\s]+)?"
)
_C_TILDE = re.compile(r"^~>?" + _VREGEX + r"\Z", re.I)
_C_CARET = re.compile(r"^\^" + _VREGEX + r"()\Z", re.I)
_C_XRANGE = re.compile(r"^v?(\d++)(?:\.(\d++))?(?:\.(\d++))?(?:\.[xX*])++\Z")
_C_HYPHEN = re.compile(r"^(?P<from>" + _VREGEX + r") +- +(?P<to>" + _VREGEX + r")()\Z", re.I)
_C_BASIC = re.compile(r"^(<>|!=|>=?|<=?|==?)?\s*(.*)\Z", re.S)
_C_HAS_MODIFIER = re.compile(r"-" + _MODIFIER + r"\Z")  # case-sensitive, as in Composer
_C_RECOVER = re.compile(r"^[0-9a-zA-Z\-./]+\Z")

_EXPAND = {"a": "alpha", "b": "beta", "p": "patch", "pl": "patch", "rc": "RC"}
_PRE_LETTER = {"alpha": "a", "beta": "b", "RC": "rc"}


def normalize_drupal_version(s: str) -> str:
    """A drupal.org version string in Composer's terms (as packages.drupal.org publishes it).

    ``8.x-1.5`` → ``1.5.0``, ``7.x-3.4-beta2`` → ``3.4.0-beta2``, ``8.x-1.x-dev`` →
    ``1.x-dev``; core and semantic versions (``10.3.1``, ``7.58``, ``2.0.3``), ``7.x-dev``
    and branches (``dev-main``) are returned unchanged apart from surrounding white space.
    Nothing is validated here: :func:`parse_version` does that.
    """
    text = s.strip()
    m = _DRUPAL_CORE_PREFIX.match(text)
    if m is None or m.group(2).lower() == "dev":
        return text
    rest = m.group(2)
    legacy = _DRUPAL_LEGACY.match(rest)
    if legacy is not None:
        return f"{legacy.group(1)}.{legacy.group(2)}.0{legacy.group(3)}"
    return rest


@functools.total_ordering
@dataclass(frozen=True, slots=True)
class ComposerVersion:
    """A version as Composer normalises it; hashable and ordered like Composer.

    ``release`` is four numbers; ``modifier`` one of alpha/beta/RC/patch or None;
    ``number`` the modifier's number when one was written (``beta`` has None, ``beta0`` 0);
    ``dev`` the ``-dev`` suffix; ``branch`` the name of a ``dev-<name>`` branch (then the
    other fields are unused). ``text`` is what was parsed and takes no part in comparisons.
    """

    release: tuple[int, int, int, int]
    modifier: Modifier | None = None
    number: int | None = None
    dev: bool = False
    branch: str | None = None
    text: str = field(default="", compare=False)

    @property
    def is_branch(self) -> bool:
        """True for ``dev-<name>`` branches, which Composer cannot order against versions."""
        return self.branch is not None

    @property
    def stability(self) -> Literal["dev", "alpha", "beta", "RC", "stable"]:
        """Composer's ``VersionParser::parseStability``: patch releases count as stable."""
        if self.branch is not None or self.dev:
            return "dev"
        if self.modifier is None or self.modifier == "patch":
            return "stable"
        return self.modifier

    @property
    def normalized(self) -> str:
        """Composer's normalised form, e.g. ``1.2.3.0-beta2`` or ``dev-main``."""
        if self.branch is not None:
            return f"dev-{self.branch}"
        out = ".".join(str(p) for p in self.release)
        if self.modifier is not None:
            out += f"-{self.modifier}{'' if self.number is None else self.number}"
        if self.dev:
            out += "-dev"
        return out

    @property
    def packaging(self) -> Version:
        """The :mod:`packaging` version that orders exactly as Composer orders this one.

        Modifier numbers are shifted up by one so that "no number" (0 here) sorts below
        number 0 (1 here), as PHP's ``version_compare`` does. Branches have none.
        """
        if self.branch is not None:
            raise VersionError(
                f'"{self.normalized}" is a branch, which has no place in the version order; '
                "compare it with == or != only"
            )
        return _packaging_of(self.release, self.modifier, self.number, self.dev)

    def _key(self) -> tuple[int, Version, str]:
        # Numeric versions first, then branches by name: a total order for sorting. Matching
        # never relies on where branches sort (see Comparison.matches).
        if self.branch is not None:
            return (1, _ZERO, self.branch)
        return (0, self.packaging, "")

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, ComposerVersion):
            return NotImplemented
        return self._key() < other._key()

    def __str__(self) -> str:
        return self.normalized


_ZERO = Version("0")


@functools.lru_cache(maxsize=4096)
def _packaging_of(
    release: tuple[int, int, int, int], modifier: str | None, number: int | None, dev: bool
) -> Version:
    text = ".".join(str(p) for p in release)
    shifted = 0 if number is None else number + 1
    if modifier == "patch":
        text += f".post{shifted}"
    elif modifier is not None:
        text += f"{_PRE_LETTER[modifier]}{shifted}"
    if dev:
        text += ".dev0"
    return Version(text)


def _bad_version(s: str, why: str = "") -> VersionError:
    shown = s if len(s) <= MAX_VERSION_TEXT else s[:MAX_VERSION_TEXT] + "…"
    detail = f" ({why})" if why else ""
    return VersionError(f'"{shown}" is not a version{detail}: {_EXPECTED_VERSION}')


def _modifier_version(
    release: tuple[int, int, int, int], mod: str | None, num: str | None, dev: str | None, text: str
) -> ComposerVersion:
    if mod and mod.lower() == "stable":
        # Composer: "1.0-stable" is 1.0.0.0, and a -dev after it is dropped.
        return ComposerVersion(release, text=text)
    modifier: Modifier | None = None
    number: int | None = None
    if mod:
        modifier = _EXPAND.get(mod.lower(), mod.lower())  # type: ignore[assignment]
        digits = (num or "").lstrip(".-")
        if digits:
            if not digits.isdigit():
                raise _bad_version(
                    text, "a pre-release number with several parts such as beta1.2 is not supported"
                )
            number = int(digits)
    return ComposerVersion(release, modifier, number, bool(dev), text=text)


def _normalize(raw: str, original: str) -> ComposerVersion:
    """composer/semver ``VersionParser::normalize``, producing a structured value."""
    version = raw.strip()
    if not version:
        raise _bad_version(original, "it is empty")
    if len(version) > MAX_VERSION_TEXT or any(ord(c) < 32 for c in version):
        raise _bad_version(original, "too long or contains control characters")
    m = _ALIAS.match(version)
    if m:
        version = m.group(1)
    m = _FLAG.search(version)
    if m:
        version = version[: m.start()]
    if version in ("master", "trunk", "default"):
        version = "dev-" + version
    if version[:4].lower() == "dev-":
        name = version[4:]
        if not name:
            raise _bad_version(original, "a branch needs a name after dev-")
        return ComposerVersion((0, 0, 0, 0), branch=name, text=original)
    m = _BUILD.match(version)
    if m:
        version = m.group(1)
    m = _CLASSICAL.match(version)
    if m:
        parts = [m.group(1), m.group(2), m.group(3), m.group(4)]
        release = tuple(int(p.lstrip(".")) if p else 0 for p in parts)
        return _modifier_version(
            release,  # type: ignore[arg-type]
            m.group(5),
            m.group(6),
            m.group(7),
            original,
        )
    if _DATE.match(version):
        raise _bad_version(original, "date-based versions are not supported")
    m = _DEV_SUFFIX.match(version)
    if m:
        b = _BRANCH.match(m.group(1).strip())
        if b:
            nums: list[int] = [int(b.group(1))]
            for g in (b.group(2), b.group(3), b.group(4)):
                part = (g or ".x")[1:]
                nums.append(BRANCH_NUMBER if part in ("x", "X", "*") else int(part))
            return ComposerVersion(tuple(nums), dev=True, text=original)  # type: ignore[arg-type]
    raise _bad_version(original)


@functools.lru_cache(maxsize=4096)
def parse_version(s: str) -> ComposerVersion:
    """Parse a Composer or Drupal version string; :class:`VersionError` if it is not one."""
    if not isinstance(s, str):
        raise VersionError(f"{s!r} is not a version string: {_EXPECTED_VERSION}")
    return _normalize(normalize_drupal_version(s), s)


@dataclass(frozen=True, slots=True)
class Comparison:
    """One ``operator version`` term of a constraint, after Composer's rewriting."""

    op: Op
    version: ComposerVersion

    def matches(self, v: ComposerVersion) -> bool:
        """composer/semver ``Constraint::versionCompare(v, self.version, op)``."""
        a_branch, b_branch = v.is_branch, self.version.is_branch
        if self.op == "!=" and (a_branch or b_branch):
            return v.normalized != self.version.normalized
        if a_branch and b_branch:
            return self.op == "==" and v.normalized == self.version.normalized
        if a_branch or b_branch:
            return False
        a, b = v.packaging, self.version.packaging
        match self.op:
            case "==":
                return a == b
            case "!=":
                return a != b
            case "<":
                return a < b
            case "<=":
                return a <= b
            case ">":
                return a > b
            case ">=":
                return a >= b
        raise AssertionError(self.op)  # pragma: no cover

    def __str__(self) -> str:
        return f"{self.op} {self.version.normalized}"


@dataclass(frozen=True, slots=True)
class Constraint:
    """A parsed constraint: OR of AND-groups of :class:`Comparison`.

    An empty AND-group matches everything (Composer's ``MatchAllConstraint``, from ``*``).
    ``str()`` gives the text as written; :attr:`normalized` the expanded form.
    """

    text: str
    alternatives: tuple[tuple[Comparison, ...], ...]

    def matches(self, version: ComposerVersion | str) -> bool:
        """True when ``version`` satisfies the constraint (strings are parsed first)."""
        v = parse_version(version) if isinstance(version, str) else version
        return any(all(c.matches(v) for c in group) for group in self.alternatives)

    @property
    def normalized(self) -> str:
        """Composer-style rendering, e.g. ``[>= 1.0.0.0-dev < 2.0.0.0-dev] || [== 3.0.0.0]``."""
        rendered = []
        for group in self.alternatives:
            if not group:
                rendered.append("*")
            elif len(group) == 1:
                rendered.append(str(group[0]))
            else:
                rendered.append("[" + " ".join(str(c) for c in group) + "]")
        return " || ".join(rendered)

    def __str__(self) -> str:
        return self.text


class _ConstraintError(VersionError):
    """A VersionError whose message already names the constraint."""


def _bad_constraint(whole: str, part: str, why: str) -> VersionError:
    shown = whole if len(whole) <= 200 else whole[:200] + "…"
    where = f' (in "{part}")' if part and part != whole.strip() else ""
    return _ConstraintError(
        f'cannot use the constraint "{shown}"{where}: {why}; {_EXPECTED_CONSTRAINT}'
    )


def _raw(release: list[str]) -> tuple[int, int, int, int]:
    return tuple(int(p) if p else 0 for p in release)  # type: ignore[return-value]


def _manipulate(matches: list[str], position: int, increment: int = 0) -> tuple[int, int, int, int]:
    """composer/semver ``manipulateVersionString`` (increments are always positive here)."""
    parts = list(matches)
    for i in range(4, 0, -1):
        if i > position:
            parts[i] = "0"
        elif i == position and increment:
            parts[i] = str(int(parts[i] or "0") + increment)
    return _raw(parts[1:5])


def _dev(release: tuple[int, int, int, int]) -> ComposerVersion:
    return ComposerVersion(release, dev=True, text=".".join(map(str, release)) + "-dev")


def _g(m: re.Match[str], i: int) -> str:
    return m.group(i) or ""


def _strip_flags(part: str) -> tuple[str, str | None]:
    """The constraint without an alias, a ``@flag`` or a ``#ref``; and the stability flag
    (None when absent or ``stable``)."""
    constraint = part
    stability_modifier: str | None = None
    m = _ALIAS.match(constraint)
    if m:
        constraint = m.group(1)
    m = _C_FLAG.match(constraint)
    if m:
        constraint = m.group(1) or "*"
        if m.group(2).lower() != "stable":
            stability_modifier = m.group(2)
    m = _C_REF.match(constraint)
    if m:
        constraint = m.group(1)
    return constraint, stability_modifier


def _tilde(m: re.Match[str], constraint: str, part: str, whole: str) -> list[Comparison]:
    if constraint.startswith("~>"):
        raise _bad_constraint(whole, part, 'the operator "~>" does not exist, use "~"')
    position = 4 if m.group(4) else 3 if m.group(3) else 2 if m.group(2) else 1
    if m.group(8):
        position += 1
    suffix = "" if (m.group(5) or m.group(7) or m.group(8)) else "-dev"
    low = _normalize(constraint[1:] + suffix, part)
    groups = [""] + [_g(m, i) for i in range(1, 5)]
    high = _manipulate(groups, max(1, position - 1), 1)
    return [Comparison(">=", low), Comparison("<", _dev(high))]


def _caret(m: re.Match[str], constraint: str, part: str, whole: str) -> list[Comparison]:
    if m.group(1) != "0" or not m.group(2):
        position = 1
    elif m.group(2) != "0" or not m.group(3):
        position = 2
    else:
        position = 3
    suffix = "" if (m.group(5) or m.group(7) or m.group(8)) else "-dev"
    low = _normalize(constraint[1:] + suffix, part)
    groups = [""] + [_g(m, i) for i in range(1, 5)]
    high = _manipulate(groups, position, 1)
    return [Comparison(">=", low), Comparison("<", _dev(high))]


def _xrange(m: re.Match[str], constraint: str, part: str, whole: str) -> list[Comparison]:
    position = 3 if m.group(3) else 2 if m.group(2) else 1
    groups = ["", _g(m, 1), _g(m, 2), _g(m, 3), ""]
    floor = _manipulate(groups, position)
    high = _manipulate(groups, position, 1)
    if floor == (0, 0, 0, 0):
        return [Comparison("<", _dev(high))]
    return [Comparison(">=", _dev(floor)), Comparison("<", _dev(high))]


def _hyphen(m: re.Match[str], constraint: str, part: str, whole: str) -> list[Comparison]:
    low = _normalize(m.group("from"), part)
    if not (m.group(6) or m.group(8) or m.group(9)):
        low = replace(low, dev=True)
    if (_g(m, 12) and _g(m, 13)) or m.group(15) or m.group(17) or m.group(18):
        return [Comparison(">=", low), Comparison("<=", _normalize(m.group("to"), part))]
    _normalize(m.group("to"), part)  # validate
    high_groups = ["", _g(m, 11), _g(m, 12), _g(m, 13), _g(m, 14)]
    high = _manipulate(high_groups, 1 if not _g(m, 12) else 2, 1)
    return [Comparison(">=", low), Comparison("<", _dev(high))]


_RANGE_FORMS: tuple[
    tuple[re.Pattern[str], Callable[[re.Match[str], str, str, str], list[Comparison]]], ...
] = (
    (_C_TILDE, _tilde),
    (_C_CARET, _caret),
    (_C_XRANGE, _xrange),
    (_C_HYPHEN, _hyphen),
)
"""composer/semver's range forms, tried in its order after ``*``."""


def _basic_target(target: str, part: str, whole: str) -> ComposerVersion:
    try:
        return _normalize(target, target)
    except VersionError:
        if target.endswith("-dev") and _C_RECOVER.match(target):
            return _normalize("dev-" + target[:-4], target)
        raise _bad_constraint(
            whole, part, f'"{target}" is not a version' if target else "a version is missing"
        ) from None


def _basic(constraint: str, part: str, whole: str, stability_modifier: str | None) -> Comparison:
    """An operator (or none) and a version."""
    m = _C_BASIC.match(constraint)
    if m is None:  # pragma: no cover - the pattern matches every string
        raise _bad_constraint(whole, part, "unrecognised")
    raw_op, target = m.group(1) or "", m.group(2)
    version = _basic_target(target, part, whole)
    op: Op = {"": "==", "=": "==", "==": "==", "<>": "!=", "!=": "!="}.get(raw_op, raw_op)  # type: ignore[assignment]
    if op != "==" and stability_modifier and version.stability == "stable":
        # Composer appends "-<flag>" to the normalised version: ">=1.0@beta" is >= 1.0.0.0-beta.
        # (On a patch release that would be an unorderable "-patch1-beta": left unchanged.)
        if version.modifier is None:
            flag = stability_modifier.lower()
            if flag == "dev":
                version = replace(version, dev=True)
            else:
                version = replace(version, modifier=_EXPAND.get(flag, flag))  # type: ignore[arg-type]
    elif (
        op in ("<", ">=")
        and not _C_HAS_MODIFIER.search(target.lower())
        and not target.startswith("dev-")
    ):
        version = replace(version, dev=True)
    return Comparison(op, version)


def _parse_single(part: str, whole: str) -> list[Comparison]:
    """composer/semver ``VersionParser::parseConstraint`` for one AND-term."""
    constraint, stability_modifier = _strip_flags(part)
    m = _C_ANY.match(constraint)
    if m:
        if m.group(1) or m.group(2):
            return [Comparison(">=", _dev((0, 0, 0, 0)))]
        return []  # match all
    for pattern, form in _RANGE_FORMS:
        m = pattern.match(constraint)
        if m:
            return form(m, constraint, part, whole)
    return [_basic(constraint, part, whole, stability_modifier)]


@functools.lru_cache(maxsize=2048)
def parse_constraint(s: str) -> Constraint:
    """Parse a Composer constraint as drupal.org writes it; :class:`VersionError` if unusable."""
    if not isinstance(s, str):
        raise VersionError(f"{s!r} is not a constraint string; {_EXPECTED_CONSTRAINT}")
    if len(s) > MAX_CONSTRAINT_TEXT or any(ord(c) < 32 and c not in "\t" for c in s):
        raise _bad_constraint(s, "", "too long or contains control characters")
    text = s.strip()
    if not text:
        raise _bad_constraint(s, "", "it is empty")
    groups: list[tuple[Comparison, ...]] = []
    for or_part in _OR_SPLIT.split(text):
        if not or_part:
            raise _bad_constraint(s, or_part, "an alternative around || or | is empty")
        terms: list[Comparison] = []
        for and_part in _AND_SPLIT.split(or_part):
            if not and_part:
                raise _bad_constraint(s, or_part, "a term is empty")
            try:
                terms.extend(_parse_single(and_part, s))
            except _ConstraintError:
                raise
            except VersionError:
                raise _bad_constraint(s, and_part, f'"{and_part}" is not a valid term') from None
        groups.append(tuple(terms))
    return Constraint(s, tuple(groups))


def affects(version: str, constraint: str) -> bool:
    """True when ``version`` (Composer or Drupal form) satisfies ``constraint``."""
    return parse_constraint(constraint).matches(parse_version(version))
