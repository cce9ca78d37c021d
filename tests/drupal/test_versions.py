"""Drupal version strings and Composer constraints.

Expected values come from composer/semver's own rules (VersionParser::normalize,
parseConstraint, Constraint::versionCompare, PHP's version_compare) as read in its source;
the ordering is also checked against an independent port of PHP's version_compare below.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import Version

from monitord.drupal.versions import (
    ComposerVersion,
    affects,
    normalize_drupal_version,
    parse_constraint,
    parse_version,
)
from monitord.errors import VersionError

# --------------------------------------------------------------------------- Drupal strings

DRUPAL_NORMALIZE = [
    ("8.x-1.5", "1.5.0"),
    ("8.x-1.0", "1.0.0"),
    ("8.x-2.12", "2.12.0"),
    ("7.x-3.4-beta2", "3.4.0-beta2"),
    ("7.x-3.4", "3.4.0"),
    ("7.x-1.0-rc1", "1.0.0-rc1"),
    ("7.x-2.0-alpha10", "2.0.0-alpha10"),
    ("6.x-1.3", "1.3.0"),
    ("8.x-1.x-dev", "1.x-dev"),
    ("7.x-2.x-dev", "2.x-dev"),
    ("8.x-1.5+3-dev", "1.5.0+3-dev"),
    ("8.x-dev", "8.x-dev"),
    ("7.x-dev", "7.x-dev"),
    ("10.3.1", "10.3.1"),
    ("11.2.0-rc1", "11.2.0-rc1"),
    ("7.58", "7.58"),
    ("7.101", "7.101"),
    ("9.5.x-dev", "9.5.x-dev"),
    ("2.0.3", "2.0.3"),
    ("dev-main", "dev-main"),
    ("dev-1.x", "dev-1.x"),
    ("  8.x-1.5 ", "1.5.0"),
    ("1.x-dev", "1.x-dev"),
]


@pytest.mark.parametrize(("given_", "expected"), DRUPAL_NORMALIZE)
def test_normalize_drupal_version(given_: str, expected: str) -> None:
    assert normalize_drupal_version(given_) == expected


# --------------------------------------------------------------------------- normalize

NORMALIZED = [
    ("1.0.0", "1.0.0.0"),
    ("1.2.3.4", "1.2.3.4"),
    ("1", "1.0.0.0"),
    ("1.2", "1.2.0.0"),
    ("0", "0.0.0.0"),
    ("v1.0.0", "1.0.0.0"),
    ("V2.1", "2.1.0.0"),
    ("1.0.0RC1dev", "1.0.0.0-RC1-dev"),
    ("1.0.0-rC15-dev", "1.0.0.0-RC15-dev"),
    ("1.0.0.RC.15-dev", "1.0.0.0-RC15-dev"),
    ("1.0.0-rc1", "1.0.0.0-RC1"),
    ("1.0.0.pl3-dev", "1.0.0.0-patch3-dev"),
    ("1.0-dev", "1.0.0.0-dev"),
    ("10.4.13-beta", "10.4.13.0-beta"),
    ("10.4.13beta2", "10.4.13.0-beta2"),
    ("10.4.13beta.2", "10.4.13.0-beta2"),
    ("10.4.13-beta-2", "10.4.13.0-beta2"),
    ("10.4.13-b", "10.4.13.0-beta"),
    ("10.4.13-b5", "10.4.13.0-beta5"),
    ("1.0.0-alpha", "1.0.0.0-alpha"),
    ("1.0.0-a3", "1.0.0.0-alpha3"),
    ("1.0.0_alpha3", "1.0.0.0-alpha3"),
    ("1.0.0-p1", "1.0.0.0-patch1"),
    ("1.0.0-patch", "1.0.0.0-patch"),
    ("1.0-stable", "1.0.0.0"),
    ("1.0.0+foo", "1.0.0.0"),
    ("1.0.0-rc1+foo", "1.0.0.0-RC1"),
    ("1.0.0+foo as 2.0", "1.0.0.0"),
    ("1.0.0@dev", "1.0.0.0"),
    ("1.0.0-beta2@beta", "1.0.0.0-beta2"),
    ("1.x-dev", "1.9999999.9999999.9999999-dev"),
    ("1.2.x-dev", "1.2.9999999.9999999-dev"),
    ("v2.0.x-dev", "2.0.9999999.9999999-dev"),
    ("2.X-dev", "2.9999999.9999999.9999999-dev"),
    ("1.2.3.x-dev", "1.2.3.9999999-dev"),
    ("2.0.3-dev", "2.0.3.0-dev"),
    ("master", "dev-master"),
    ("trunk", "dev-trunk"),
    ("dev-master", "dev-master"),
    ("dev-main", "dev-main"),
    ("dev-feature/foo", "dev-feature/foo"),
    ("DEV-Feature", "dev-Feature"),
    # Drupal forms go through normalize_drupal_version first.
    ("8.x-1.5", "1.5.0.0"),
    ("7.x-3.4-beta2", "3.4.0.0-beta2"),
    ("8.x-1.x-dev", "1.9999999.9999999.9999999-dev"),
    ("7.58", "7.58.0.0"),
    ("8.x-2.0-rc3", "2.0.0.0-RC3"),
    ("8.x-1.5+3-dev", "1.5.0.0"),  # Composer drops +build metadata, -dev included
]


@pytest.mark.parametrize(("given_", "expected"), NORMALIZED)
def test_parse_version_normalized(given_: str, expected: str) -> None:
    v = parse_version(given_)
    assert v.normalized == expected
    assert str(v) == expected
    assert v.text == given_


BAD_VERSIONS = [
    ("", "empty"),
    ("   ", "empty"),
    ("a", ""),
    ("1.0.0-meh", ""),
    ("1.0.0.0.0", ""),
    ("1.0.0+foo bar", ""),
    ("1.0.0-SNAPSHOT", ""),
    ("feature-dev", ""),
    ("dev-", "branch needs a name"),
    ("8.x-1.0-unstable1", ""),
    ("20100102", "date-based"),
    ("1.0-beta1.2", "several parts"),
    ("1.0\x07", "control characters"),
    ("x" * 500, "too long"),
    ("<1.0", ""),
    ("1.0 || 2.0", ""),
    ("^1.0", ""),
    ("123456.0", ""),
]


@pytest.mark.parametrize(("bad", "why"), BAD_VERSIONS)
def test_bad_versions_raise_and_name_the_string(bad: str, why: str) -> None:
    with pytest.raises(VersionError) as info:
        parse_version(bad)
    msg = str(info.value)
    assert bad.strip()[:50] in msg
    assert "expected a Composer or Drupal version" in msg
    assert why in msg


def test_stability() -> None:
    table = {
        "1.0": "stable",
        "1.0-patch1": "stable",
        "1.0-RC1": "RC",
        "1.0-b2": "beta",
        "1.0-alpha": "alpha",
        "1.0-beta1-dev": "dev",
        "1.x-dev": "dev",
        "dev-main": "dev",
    }
    for text, stability in table.items():
        assert parse_version(text).stability == stability, text


# --------------------------------------------------------------------------- ordering

# (lower, higher) pairs: lower < higher in Composer's order.
ORDERED = [
    ("1.0.0-dev", "1.0.0-alpha"),
    ("1.0.0-alpha", "1.0.0-alpha0"),
    ("1.0.0-alpha-dev", "1.0.0-alpha"),
    ("1.0.0-alpha1", "1.0.0-alpha2"),
    ("1.0.0-alpha2", "1.0.0-alpha10"),
    ("1.0.0-alpha10", "1.0.0-beta"),
    ("1.0.0-beta", "1.0.0-beta0"),  # packaging says equal; Composer does not
    ("1.0.0-beta", "1.0.0-beta0-dev"),  # packaging says the opposite
    ("1.0.0-beta-dev", "1.0.0-beta"),
    ("1.0.0-beta1-dev", "1.0.0-beta1"),
    ("1.0.0-beta0", "1.0.0-beta1-dev"),
    ("1.0.0-beta2", "1.0.0-RC1"),
    ("1.0.0-RC", "1.0.0-RC1"),
    ("1.0.0-RC9", "1.0.0-RC10"),
    ("1.0.0-RC10", "1.0.0"),
    ("1.0.0", "1.0.0-patch"),
    ("1.0.0-patch", "1.0.0-patch0"),
    ("1.0.0-patch-dev", "1.0.0-patch"),
    ("1.0.0", "1.0.0-patch-dev"),
    ("1.0.0-p1", "1.0.0-pl2"),
    ("1.0.0-patch9", "1.0.1-dev"),
    ("1.0.0", "1.0.1"),
    ("1.0.9", "1.0.10"),
    ("1.9", "1.10"),
    ("9.5.11", "10.0.0-alpha1"),
    ("10.2.11", "10.3.0-dev"),
    ("1.0.0.1", "1.0.1"),
    ("1.2.9999999.9999999-dev", "1.3.0-dev"),
    ("1.2.0", "1.2.x-dev"),
    ("1.99.99", "1.x-dev"),
    ("1.x-dev", "2.0.0-dev"),
    ("0", "0.0.0.1"),
    ("7.58", "7.59"),
    ("7.x-3.4-beta2", "8.x-3.4"),
    ("8.x-1.5", "1.5.1"),
    ("2.0.0-alpha11", "2.0.0-beta1"),
    ("13.0.0-alpha1", "13.0.0-alpha11"),
    ("1.0.0-alpha1", "1.0.0-b1"),
    ("1.0.0-a9", "1.0.0-beta"),
    ("v3.0", "3.0.0.1"),
]

EQUAL = [
    ("1.0", "1.0.0.0"),
    ("v1.0", "1"),
    ("1.0.0-b2", "1.0-beta2"),
    ("1.0-beta.2", "1.0.0-beta-2"),
    ("1.0.0-rc1", "1.0.0-RC1"),
    ("1.0.0-p3", "1.0.0-patch3"),
    ("1.0.0-pl3", "1.0.0-patch3"),
    ("1.0.0-a1", "1.0.0-alpha1"),
    ("8.x-1.5", "1.5.0"),
    ("7.x-3.4-beta2", "3.4.0-beta2"),
    ("1.0+build.1", "1.0"),
    ("1.0-stable", "1.0"),
    ("8.x-1.x-dev", "1.x-dev"),
    ("01.2", "1.2"),
]


@pytest.mark.parametrize(("low", "high"), ORDERED)
def test_ordering(low: str, high: str) -> None:
    a, b = parse_version(low), parse_version(high)
    assert a < b and b > a and a <= b and a != b
    assert not (b < a)
    assert php_version_compare(a.normalized, b.normalized) == -1


@pytest.mark.parametrize(("left", "right"), EQUAL)
def test_equality_and_hash(left: str, right: str) -> None:
    a, b = parse_version(left), parse_version(right)
    assert a == b and hash(a) == hash(b) and not (a < b) and not (b < a)
    assert len({a, b}) == 1


def test_where_packaging_and_composer_differ() -> None:
    # packaging treats a missing pre-release number as 0; Composer (PHP) sorts it below 0.
    assert Version("1.0b") == Version("1.0b0")
    assert parse_version("1.0-beta") < parse_version("1.0-beta0")
    assert Version("1.0.post0") == Version("1.0.post")
    assert parse_version("1.0-patch") < parse_version("1.0-patch0")
    # packaging puts 1.0b0.dev0 below 1.0b0; in Composer 1.0-beta0-dev is above 1.0-beta.
    assert Version("1.0b0.dev0") < Version("1.0b0")
    assert parse_version("1.0-beta") < parse_version("1.0-beta0-dev")
    # Where they agree, our packaging value is the plain one.
    assert parse_version("1.2.3-RC2").packaging > Version("1.2.3rc1")


def test_branches_sort_after_numbers_and_are_not_ordered_by_matching() -> None:
    versions = [parse_version(v) for v in ["dev-main", "1.0", "dev-a", "0.1"]]
    assert [v.normalized for v in sorted(versions)] == ["0.1.0.0", "1.0.0.0", "dev-a", "dev-main"]
    with pytest.raises(VersionError, match="branch"):
        _ = parse_version("dev-main").packaging


# An independent port of PHP's version_compare (ext/standard/versioning.c), the function
# Composer's Constraint::versionCompare calls on normalised strings.
_SPECIAL = [("dev", 0), ("alpha", 1), ("a", 1), ("beta", 2), ("b", 2), ("RC", 3), ("rc", 3)]
_SPECIAL += [("#", 4), ("pl", 5), ("p", 5)]


def _php_canon(v: str) -> str:
    out = [v[0]]
    lp = v[0]

    def isdig(c: str) -> bool:
        return c.isdigit()

    def isndig(c: str) -> bool:
        return not c.isdigit() and c != "."

    for ch in v[1:]:
        if ch in "-_+":
            if out[-1] != ".":
                out.append(".")
        elif (isndig(lp) and isdig(ch)) or (isdig(lp) and isndig(ch)):
            if out[-1] != ".":
                out.append(".")
            out.append(ch)
        elif not ch.isalnum():
            if out[-1] != ".":
                out.append(".")
        else:
            out.append(ch)
        lp = ch
    return "".join(out)


def _special(form: str) -> int:
    for name, order in _SPECIAL:
        if form.startswith(name):
            return order
    return -1


def _cmp_special(a: str, b: str) -> int:
    x, y = _special(a), _special(b)
    return (x > y) - (x < y)


def php_version_compare(a: str, b: str) -> int:
    pa, pb = _php_canon(a).split("."), _php_canon(b).split(".")
    i = 0
    while i < len(pa) and i < len(pb):
        x, y = pa[i], pb[i]
        if x.isdigit() and y.isdigit():
            c = (int(x) > int(y)) - (int(x) < int(y))
        elif not x.isdigit() and not y.isdigit():
            c = _cmp_special(x, y)
        elif x.isdigit():
            c = _cmp_special("#N#", y)
        else:
            c = _cmp_special(x, "#N#")
        if c:
            return c
        i += 1
    if i < len(pa):
        return 1 if pa[i].isdigit() else _cmp_special(pa[i], "#N#")
    if i < len(pb):
        return -1 if pb[i].isdigit() else _cmp_special("#N#", pb[i])
    return 0


def test_php_port_against_known_php_results() -> None:
    # Results documented for PHP's version_compare.
    assert php_version_compare("5.2", "5.2.0") == -1
    assert php_version_compare("1.0rc1", "1.0") == -1
    assert php_version_compare("1.0", "1.0pl1") == -1
    assert php_version_compare("1.0-dev", "1.0a1") == -1
    assert php_version_compare("1.0.0.0-beta", "1.0.0.0-beta0") == -1


_COMPOSER_VERSIONS = st.builds(
    lambda rel, mod, num, dev: (
        ".".join(map(str, rel))
        + (f"-{mod}{'' if num is None else num}" if mod else "")
        + ("-dev" if dev else "")
    ),
    st.tuples(*[st.integers(0, 3)] * 3, st.sampled_from([0, 0, 1, 9999999])),
    st.sampled_from([None, "alpha", "beta", "RC", "patch"]),
    st.one_of(st.none(), st.integers(0, 12)),
    st.booleans(),
)


@settings(max_examples=400, deadline=None)
@given(_COMPOSER_VERSIONS, _COMPOSER_VERSIONS)
def test_order_equals_php_version_compare(a: str, b: str) -> None:
    va, vb = parse_version(a), parse_version(b)
    expected = php_version_compare(va.normalized, vb.normalized)
    got = (va > vb) - (va < vb)
    assert got == expected, (va.normalized, vb.normalized)
    assert (va == vb) == (expected == 0)


# --------------------------------------------------------------------------- constraints

# (constraint, Composer's expansion as rendered by Constraint.normalized)
EXPANSIONS = [
    ("<1.2.3", "< 1.2.3.0-dev"),
    ("<=1.2.3", "<= 1.2.3.0"),
    (">1.2.3", "> 1.2.3.0"),
    (">=1.2.3", ">= 1.2.3.0-dev"),
    ("=1.2.3", "== 1.2.3.0"),
    ("==1.2.3", "== 1.2.3.0"),
    ("1.2.3", "== 1.2.3.0"),
    ("!=1.2.3", "!= 1.2.3.0"),
    ("<>1.2.3", "!= 1.2.3.0"),
    ("<1.2.3-beta2", "< 1.2.3.0-beta2"),
    (">=1.2.3-beta2", ">= 1.2.3.0-beta2"),
    ("<1.2.3-dev", "< 1.2.3.0-dev"),
    ("<1.0-rc1", "< 1.0.0.0-RC1-dev"),  # Composer's case-sensitive check misses "-rc1"
    (">= 1.2.3", ">= 1.2.3.0-dev"),
    ("< 1.2.4", "< 1.2.4.0-dev"),
    ("v1.2.3", "== 1.2.3.0"),
    ("<v1.2", "< 1.2.0.0-dev"),
    ("*", "*"),
    ("x", "*"),
    ("X", "*"),
    ("*.*", ">= 0.0.0.0-dev"),
    ("v*", ">= 0.0.0.0-dev"),
    ("11.2.*", "[>= 11.2.0.0-dev < 11.3.0.0-dev]"),
    ("11.2.x", "[>= 11.2.0.0-dev < 11.3.0.0-dev]"),
    ("8.x", "[>= 8.0.0.0-dev < 9.0.0.0-dev]"),
    ("8.*.*", "[>= 8.0.0.0-dev < 9.0.0.0-dev]"),
    ("0.*", "< 1.0.0.0-dev"),
    ("0.0.*", "< 0.1.0.0-dev"),
    ("1.2.3.*", "[>= 1.2.3.0-dev < 1.2.4.0-dev]"),
    ("^8.0", "[>= 8.0.0.0-dev < 9.0.0.0-dev]"),
    ("^1.2.3", "[>= 1.2.3.0-dev < 2.0.0.0-dev]"),
    ("^0.3", "[>= 0.3.0.0-dev < 0.4.0.0-dev]"),
    ("^0.3.1", "[>= 0.3.1.0-dev < 0.4.0.0-dev]"),
    ("^0.0.3", "[>= 0.0.3.0-dev < 0.0.4.0-dev]"),
    ("^0", "[>= 0.0.0.0-dev < 1.0.0.0-dev]"),
    ("^0.0", "[>= 0.0.0.0-dev < 0.1.0.0-dev]"),
    ("^1.2.3-beta2", "[>= 1.2.3.0-beta2 < 2.0.0.0-dev]"),
    ("^1", "[>= 1.0.0.0-dev < 2.0.0.0-dev]"),
    ("~1.2", "[>= 1.2.0.0-dev < 2.0.0.0-dev]"),
    ("~1.2.3", "[>= 1.2.3.0-dev < 1.3.0.0-dev]"),
    ("~1.2.3.4", "[>= 1.2.3.4-dev < 1.2.4.0-dev]"),
    ("~1", "[>= 1.0.0.0-dev < 2.0.0.0-dev]"),
    ("~1.0-beta2", "[>= 1.0.0.0-beta2 < 2.0.0.0-dev]"),
    ("~1.2-dev", "[>= 1.2.0.0-dev < 2.0.0.0-dev]"),
    ("~1.2.x-dev", "[>= 1.2.9999999.9999999-dev < 1.3.0.0-dev]"),
    ("1.0 - 2.0", "[>= 1.0.0.0-dev < 2.1.0.0-dev]"),
    ("1.2.3 - 2.3.4.5", "[>= 1.2.3.0-dev <= 2.3.4.5]"),
    ("1.2 - 2.3.0", "[>= 1.2.0.0-dev <= 2.3.0.0]"),
    ("1.2 - 2", "[>= 1.2.0.0-dev < 3.0.0.0-dev]"),
    ("1.2-beta - 2.3", "[>= 1.2.0.0-beta < 2.4.0.0-dev]"),
    ("1.2 - 2.3-dev", "[>= 1.2.0.0-dev <= 2.3.0.0-dev]"),
    ("1.0 - 2.0.0-beta1", "[>= 1.0.0.0-dev <= 2.0.0.0-beta1]"),
    ("1.2 - 2.0.0", "[>= 1.2.0.0-dev <= 2.0.0.0]"),
    (">=1.0@beta", ">= 1.0.0.0-beta"),
    ("<2.0@dev", "< 2.0.0.0-dev"),
    (">1.0@RC", "> 1.0.0.0-RC"),
    ("1.0@dev", "== 1.0.0.0"),
    ("@dev", "*"),
    ("1.2.*@dev", "[>= 1.2.0.0-dev < 1.3.0.0-dev]"),
    ("dev-main", "== dev-main"),
    ("dev-main#abc123", "== dev-main"),
    ("feature-dev", "== dev-feature"),
    ("!=dev-main", "!= dev-main"),
    ("1.x-dev", "== 1.9999999.9999999.9999999-dev"),
    ("1.0.0 as 2.0.0", "== 1.0.0.0"),
    (">=1.0,<2.0", "[>= 1.0.0.0-dev < 2.0.0.0-dev]"),
    (">=1.0, <2.0", "[>= 1.0.0.0-dev < 2.0.0.0-dev]"),
    (">=1.0 <2.0", "[>= 1.0.0.0-dev < 2.0.0.0-dev]"),
    (">=1.0  <2.0", "[>= 1.0.0.0-dev < 2.0.0.0-dev]"),
    ("<1.0 || >=2.0", "< 1.0.0.0-dev || >= 2.0.0.0-dev"),
    ("<1.0 | >=2.0", "< 1.0.0.0-dev || >= 2.0.0.0-dev"),
    ("<1.0||>=2.0", "< 1.0.0.0-dev || >= 2.0.0.0-dev"),
    ("^1 <= 1.0.0", "[>= 1.0.0.0-dev < 2.0.0.0-dev <= 1.0.0.0]"),
    (
        "<10.2.11 || >=10.3.0 <10.3.9",
        "< 10.2.11.0-dev || [>= 10.3.0.0-dev < 10.3.9.0-dev]",
    ),
    ("  ^8.0  ", "[>= 8.0.0.0-dev < 9.0.0.0-dev]"),
]


@pytest.mark.parametrize(("text", "expanded"), EXPANSIONS)
def test_constraint_expansion(text: str, expanded: str) -> None:
    c = parse_constraint(text)
    assert c.normalized == expanded
    assert str(c) == text


# (version, constraint, affected?)
MATCHES = [
    # plain comparisons
    ("1.2.2", "<1.2.3", True),
    ("1.2.3", "<1.2.3", False),
    ("1.2.3-beta", "<1.2.3", False),
    ("1.2.3-beta", "<=1.2.3", True),
    ("1.2.3-beta", ">=1.2.3", True),
    ("1.2.3-beta", ">1.2.3", False),
    ("1.2.3-dev", "<1.2.3", False),
    ("1.2.3-dev", ">=1.2.3", True),
    ("1.2.3-alpha1", ">=1.2.3-beta1", False),
    ("1.2.3-RC1", ">=1.2.3-beta1", True),
    ("1.2.3-RC1", "<1.2.3-RC2", True),
    ("1.2.3-RC2", "<1.2.3-RC2", False),
    ("1.2.3-RC1-dev", "<1.0-rc1", False),
    ("1.0.0-RC1-dev", "<1.0-rc1", False),
    ("1.0.0-beta9", "<1.0-rc1", True),
    ("1.2.3", "<=1.2.3", True),
    ("1.2.4", "<=1.2.3", False),
    ("1.2.3-patch1", "<=1.2.3", False),
    ("1.2.3-patch1", ">1.2.3", True),
    ("1.2.3", ">1.2.3", False),
    ("1.2.3.1", ">1.2.3", True),
    ("1.2.3", ">=1.2.3", True),
    ("1.2.2", ">=1.2.3", False),
    ("1.2.3", "=1.2.3", True),
    ("1.2.3", "==1.2.3", True),
    ("1.2.3", "1.2.3", True),
    ("1.2.3.0", "1.2.3", True),
    ("1.2.3-beta", "1.2.3", False),
    ("1.2.3", "!=1.2.3", False),
    ("1.2.4", "!=1.2.3", True),
    ("1.2.4", "<>1.2.3", True),
    ("1.2.3", "<>1.2.3", False),
    ("1.2.3-beta", "!=1.2.3", True),
    ("v1.2.3", "1.2.3", True),
    ("1.2.3", "v1.2.3", True),
    # Drupal versions
    ("8.x-1.5", "<1.6.0", True),
    ("8.x-1.6", "<1.6.0", False),
    ("7.x-3.4-beta2", "<3.4.0", False),  # Composer: <3.4.0 is < 3.4.0.0-dev
    ("7.x-3.4-beta2", ">=3.4.0 <3.5.0", True),
    ("7.58", "<7.58", False),
    ("7.57", "<7.58", True),
    ("7.57", ">=7.0 <=7.86", True),
    ("7.86", ">=7.0 <=7.86", True),
    ("7.87", ">=7.0 <=7.86", False),
    ("8.x-1.x-dev", "<1.6.0", False),
    ("8.x-1.x-dev", ">=1.0 <2.0", True),
    ("8.x-1.x-dev", "^1.0", True),
    ("8.x-2.x-dev", "^1.0", False),
    ("1.2.x-dev", "~1.2.3", True),
    ("1.3.x-dev", "~1.2.3", False),
    # OR and AND
    ("10.2.10", "<10.2.11 || >=10.3.0 <10.3.9", True),
    ("10.2.11", "<10.2.11 || >=10.3.0 <10.3.9", False),
    ("10.2.12", "<10.2.11 || >=10.3.0 <10.3.9", False),
    ("10.3.0", "<10.2.11 || >=10.3.0 <10.3.9", True),
    ("10.3.0-rc1", "<10.2.11 || >=10.3.0 <10.3.9", True),
    ("10.3.8", "<10.2.11 || >=10.3.0 <10.3.9", True),
    ("10.3.9", "<10.2.11 || >=10.3.0 <10.3.9", False),
    ("11.0.0", "<10.2.11 || >=10.3.0 <10.3.9", False),
    ("10.3.9", "<10.2.11 | >=10.3.0 <10.3.9", False),
    ("10.3.1", ">=10.3.0,<10.3.9", True),
    ("10.3.1", ">=10.3.0, <10.3.9", True),
    ("10.3.9", ">=10.3.0, <10.3.9", False),
    ("3.0.1", "<2.5.0 || 3.0.0 || 3.0.1", True),
    ("3.0.2", "<2.5.0 || 3.0.0 || 3.0.1", False),
    ("2.4.9", "<2.5.0 || 3.0.0 || 3.0.1", True),
    # wildcards
    ("11.2.0", "11.2.*", True),
    ("11.2.9", "11.2.*", True),
    ("11.2.0-beta1", "11.2.*", True),
    ("11.2.0-dev", "11.2.*", True),
    ("11.3.0-alpha1", "11.2.*", False),
    ("11.1.9", "11.2.*", False),
    ("8.9.20", "8.x", True),
    ("9.0.0", "8.x", False),
    ("9.0.0-alpha1", "8.x", False),
    ("8.0.0", "8.*", True),
    ("0.9", "0.*", True),
    ("1.0", "0.*", False),
    ("5.0.0", "*", True),
    ("5.0.0-alpha1", "*", True),
    ("dev-main", "*", True),
    ("dev-main", "*.*", False),
    ("0.0.0", "*.*", True),
    # caret
    ("8.0.0", "^8.0", True),
    ("8.9.99", "^8.0", True),
    ("9.0.0", "^8.0", False),
    ("8.0.0-beta1", "^8.0", True),
    ("7.99", "^8.0", False),
    ("0.3.5", "^0.3", True),
    ("0.4.0", "^0.3", False),
    ("0.0.3", "^0.0.3", True),
    ("0.0.4", "^0.0.3", False),
    ("1.2.2", "^1.2.3", False),
    ("1.9.0", "^1.2.3", True),
    ("1.2.3-beta1", "^1.2.3-beta2", False),
    ("1.2.3-beta3", "^1.2.3-beta2", True),
    # tilde
    ("1.2.0", "~1.2", True),
    ("1.9.9", "~1.2", True),
    ("2.0.0", "~1.2", False),
    ("1.1.9", "~1.2", False),
    ("1.2.3", "~1.2.3", True),
    ("1.2.99", "~1.2.3", True),
    ("1.3.0", "~1.2.3", False),
    ("1.3.0-alpha1", "~1.2.3", False),
    ("1.2.3.5", "~1.2.3.4", True),
    ("1.2.4", "~1.2.3.4", False),
    ("1.0.0-beta1", "~1.0-beta2", False),
    ("1.0.0-beta2", "~1.0-beta2", True),
    # hyphen ranges
    ("1.0.0", "1.0 - 2.0", True),
    ("2.0.5", "1.0 - 2.0", True),
    ("2.1.0", "1.0 - 2.0", False),
    ("2.1.0-alpha1", "1.0 - 2.0", False),
    ("0.9", "1.0 - 2.0", False),
    ("1.0.0-beta1", "1.0 - 2.0", True),
    ("2.3.4.5", "1.2.3 - 2.3.4.5", True),
    ("2.3.4.6", "1.2.3 - 2.3.4.5", False),
    ("2.3.0", "1.2 - 2.3.0", True),
    ("2.3.1", "1.2 - 2.3.0", False),
    ("2.9", "1.2 - 2", True),
    ("3.0.0", "1.2 - 2", False),
    ("1.2.0-alpha1", "1.2-beta - 2.3", False),
    ("1.2.0-beta", "1.2-beta - 2.3", True),
    # stability flags
    ("1.0.0-beta1", ">=1.0@beta", True),
    ("1.0.0-alpha1", ">=1.0@beta", False),
    ("1.0.0", "1.0@dev", True),
    ("1.0.0-beta1", "1.0@dev", False),
    ("3.0.0-alpha1", "@dev", True),
    # branches
    ("dev-main", "dev-main", True),
    ("dev-main", "==dev-main", True),
    ("dev-main", "dev-other", False),
    ("dev-main", "!=dev-other", True),
    ("dev-main", "!=dev-main", False),
    ("dev-main", "<10.0", False),
    ("dev-main", ">=0", False),
    ("dev-main", "!=1.0", True),
    ("1.0.0", "dev-main", False),
    ("1.0.0", "!=dev-main", True),
    ("master", "dev-master", True),
    ("dev-feature", "feature-dev", True),
    # pre-release bounds drupal.org writes
    ("1.3.0-beta1", ">=1.3.0-beta1 <1.3.0-rc3", True),
    ("1.3.0-rc2", ">=1.3.0-beta1 <1.3.0-rc3", True),
    ("1.3.0-rc3", ">=1.3.0-beta1 <1.3.0-rc3", False),
    ("1.3.0-alpha9", ">=1.3.0-beta1 <1.3.0-rc3", False),
    ("13.0.0-alpha10", ">=13.0.0-alpha1 <13.0.0-alpha11", True),
    ("13.0.0-alpha11", ">=13.0.0-alpha1 <13.0.0-alpha11", False),
    ("2.0.0-beta2", "<1.8.0 || >=2.0.0-beta1 <2.0.0-beta3", True),
    ("2.0.0-beta3", "<1.8.0 || >=2.0.0-beta1 <2.0.0-beta3", False),
    ("12.0.5", "<12.0.5", False),
    ("12.0.4", "<12.0.5", True),
]


@pytest.mark.parametrize(("version", "constraint", "expected"), MATCHES)
def test_affects_table(version: str, constraint: str, expected: bool) -> None:
    assert affects(version, constraint) is expected
    assert parse_constraint(constraint).matches(parse_version(version)) is expected
    assert parse_constraint(constraint).matches(version) is expected


def test_tables_are_big() -> None:
    assert len(MATCHES) >= 100
    assert len(EXPANSIONS) + len(NORMALIZED) + len(ORDERED) + len(DRUPAL_NORMALIZE) >= 100


BAD_CONSTRAINTS = [
    ("", "empty"),
    ("   ", "empty"),
    ("<", "a version is missing"),
    ("abc", '"abc" is not a version'),
    (">=1.0 ||", "empty"),
    ("|| <1.0", "empty"),
    ("<1.0 || || >2.0", "empty"),
    ("~>1.2", '"~>" does not exist'),
    (">=x1", "not a version"),
    ("=>1.0", "not a version"),
    ("1.0.0.0.0", "not a version"),
    ("<1.0-foo", "not a version"),
    ("^", "not a version"),
    ("~", "not a version"),
    ("1.0 -", "not a version"),
    ("1.0 - ", "not a version"),
    ("<1.0\n>2.0", "control characters"),
    (">=1.0 <" + "9" * 5000, "too long"),
    ("8.x-1.5", "not a version"),
    ("^1.0-beta1.2", "not a valid term"),
    ("1.0-beta1.2 - 2.0", "not a valid term"),
]


@pytest.mark.parametrize(("bad", "why"), BAD_CONSTRAINTS)
def test_bad_constraints_raise_and_name_the_string(bad: str, why: str) -> None:
    with pytest.raises(VersionError) as info:
        parse_constraint(bad)
    msg = str(info.value)
    assert why in msg
    assert f'"{bad[:40]}' in msg
    assert "expected a Composer constraint" in msg


def test_bad_version_in_affects_never_matches_silently() -> None:
    with pytest.raises(VersionError, match="not a version"):
        affects("banana", "*")
    with pytest.raises(VersionError, match="cannot use the constraint"):
        affects("1.0", "banana")


# --------------------------------------------------------------------------- properties

_REL = st.tuples(st.integers(0, 4), st.integers(0, 4), st.integers(0, 4))
_VERSION_TEXT = st.builds(
    lambda rel, pre: ".".join(map(str, rel)) + pre,
    _REL,
    st.sampled_from(["", "", "-alpha1", "-beta", "-beta2", "-RC1", "-dev", "-patch1", "-p"]),
)
_BOUND_TEXT = st.builds(
    lambda rel, pre: ".".join(map(str, rel)) + pre,
    _REL,
    st.sampled_from(["", "", "", "-beta2", "-RC1", "-dev"]),
)
_OPS = st.sampled_from(["<", "<=", ">", ">=", "=", "==", "!=", "<>", ""])


@settings(max_examples=300, deadline=None)
@given(_VERSION_TEXT, _OPS, _BOUND_TEXT, _OPS, _BOUND_TEXT)
def test_and_is_conjunction_and_or_is_disjunction(
    v: str, op1: str, a: str, op2: str, b: str
) -> None:
    left, right = f"{op1}{a}", f"{op2}{b}"
    one, two = affects(v, left), affects(v, right)
    assert affects(v, f"{left} {right}") is (one and two)
    assert affects(v, f"{left},{right}") is (one and two)
    assert affects(v, f"{left}, {right}") is (one and two)
    assert affects(v, f"{left} || {right}") is (one or two)
    assert affects(v, f"{left}|{right}") is (one or two)


@settings(max_examples=300, deadline=None)
@given(_VERSION_TEXT, _BOUND_TEXT)
def test_operators_against_the_order(v: str, bound: str) -> None:
    x, b = parse_version(v), parse_version(bound)
    dev_b = parse_version(re.sub(r"(-dev)?$", "-dev", bound, count=1))
    explicit = bool(re.search(r"-(beta|RC|dev)", bound))
    assert affects(v, f"<={bound}") is (x <= b)
    assert affects(v, f">{bound}") is (x > b)
    assert affects(v, f"=={bound}") is (x == b)
    assert affects(v, f"!={bound}") is (x != b)
    # Composer widens a bare < / >= bound to its -dev version; an explicit suffix stays.
    assert affects(v, f"<{bound}") is (x < (b if explicit else dev_b))
    assert affects(v, f">={bound}") is (x >= (b if explicit else dev_b))
    assert affects(v, f"!={bound}") is not affects(v, f"=={bound}")


def _caret_expansion(major: int, minor: int, patch: int) -> str:
    if major != 0:
        upper = f"{major + 1}.0.0"
    elif minor != 0:
        upper = f"0.{minor + 1}.0"
    else:
        upper = f"0.0.{patch + 1}"
    return f">={major}.{minor}.{patch} <{upper}"


@settings(max_examples=300, deadline=None)
@given(_REL, _VERSION_TEXT)
def test_caret_equals_its_expansion(rel: tuple[int, int, int], v: str) -> None:
    major, minor, patch = rel
    assert affects(v, f"^{major}.{minor}.{patch}") is affects(
        v, _caret_expansion(major, minor, patch)
    )


@settings(max_examples=300, deadline=None)
@given(_REL, _VERSION_TEXT)
def test_tilde_and_wildcard_equal_their_expansions(rel: tuple[int, int, int], v: str) -> None:
    major, minor, patch = rel
    assert affects(v, f"~{major}.{minor}.{patch}") is affects(
        v, f">={major}.{minor}.{patch} <{major}.{minor + 1}"
    )
    assert affects(v, f"~{major}.{minor}") is affects(v, f">={major}.{minor} <{major + 1}")
    star = affects(v, f"{major}.{minor}.*")
    if (major, minor) == (0, 0):
        assert star is affects(v, "<0.1")
    else:
        assert star is affects(v, f">={major}.{minor} <{major}.{minor + 1}")
    # a hyphen range with a full upper bound is inclusive
    assert affects(v, f"{major}.{minor} - {major + 1}.{minor}.{patch}") is affects(
        v, f">={major}.{minor} <={major + 1}.{minor}.{patch}"
    )


@settings(max_examples=200, deadline=None)
@given(_VERSION_TEXT)
def test_drupal_and_composer_forms_agree(v: str) -> None:
    parsed = parse_version(v)
    m = re.fullmatch(r"(\d+)\.(\d+)\.0(-.*)?", v)
    if m:
        drupal = f"8.x-{m.group(1)}.{m.group(2)}{m.group(3) or ''}"
        assert parse_version(drupal) == parsed
    assert isinstance(parsed, ComposerVersion)
