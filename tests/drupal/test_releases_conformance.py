"""Conformance: core's own release-history fixtures and the outcomes core's tests expect.

Reads ../shared/data/drupal/release-history (or $MONITORD_SHARED_DATA); skipped when absent.
The expected outcomes are the table in ../shared/data/README.md.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from monitord.drupal.releases import UpdateState, parse_release_history, update_status

pytestmark = pytest.mark.conformance


def shared_data() -> Path:
    env = os.environ.get("MONITORD_SHARED_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


HISTORY = shared_data() / "drupal" / "release-history"

# (installed, fixture, state, security releases listed or None for "not checked")
README_TABLE = [
    ("8.0.0", "drupal.sec.8.0.2", UpdateState.NOT_SECURE, None),
    ("8.0.0", "drupal.sec.8.1.2", UpdateState.UPDATE_AVAILABLE, None),
    ("8.0.0", "drupal.sec.8.1.2_insecure-unsupported", UpdateState.NOT_SECURE, None),
    ("8.0.2", "drupal.sec.8.2.0-rc2", UpdateState.UPDATE_AVAILABLE, {"8.1.2", "8.2.0-rc2"}),
    ("8.1.2", "drupal.sec.8.2.0-rc2", UpdateState.CURRENT, set()),
    ("8.x-1.0", "aaa_update_test.sec.8.x-2.2_1.x_secure", UpdateState.UPDATE_AVAILABLE, None),
    ("8.x-2.0", "aaa_update_test.sec.8.x-1.2_8.x-2.2", UpdateState.NOT_SECURE, None),
    # core's UpdateCalculateProjectDataTest: the project itself is labelled insecure
    ("8.0.1", "drupal.project_status.insecure.0.2", UpdateState.NOT_SECURE, None),
]


@pytest.mark.skipif(not HISTORY.is_dir(), reason="../shared/data is absent")
@pytest.mark.parametrize(("installed", "fixture", "state", "security"), README_TABLE)
def test_core_fixtures(
    installed: str, fixture: str, state: UpdateState, security: set[str] | None
) -> None:
    project = parse_release_history((HISTORY / f"{fixture}.xml").read_bytes(), source=fixture)
    status = update_status(project, installed)
    assert status.state is state, status.reason
    if security is not None:
        assert set(status.security_versions) == security


@pytest.mark.skipif(not HISTORY.is_dir(), reason="../shared/data is absent")
def test_every_core_fixture_parses() -> None:
    files = sorted(HISTORY.glob("*.xml"))
    assert files
    for path in files:
        project = parse_release_history(path.read_bytes(), source=path.name)
        assert project.releases, path.name
        for release in project.releases:
            assert release.version and release.release_link
