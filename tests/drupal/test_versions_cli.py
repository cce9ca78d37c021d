"""``monitord advisories affects`` through monitord.cli.main."""

from __future__ import annotations

import io

import pytest

from monitord.cli import main
from monitord.drupal.versions import affects

CASES = [
    ("10.3.1", "<10.2.11 || >=10.3.0 <10.3.9", "affected"),
    ("10.3.9", "<10.2.11 || >=10.3.0 <10.3.9", "not affected"),
    ("1.2.3-beta", "<=1.2.3", "affected"),
    ("1.2.3-beta", "<1.2.3", "not affected"),
    ("8.x-1.5", "<1.6.0", "affected"),
    ("7.x-3.4-beta2", "^3.4@beta", "affected"),
    ("11.2.4", "11.2.*", "affected"),
    ("dev-main", "<99", "not affected"),
]


@pytest.mark.parametrize(("version", "constraint", "expected"), CASES)
def test_single(
    version: str, constraint: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["advisories", "affects", version, constraint]) == 0
    out, err = capsys.readouterr()
    assert out == expected + "\n"
    assert err == ""
    assert (expected == "affected") is affects(version, constraint)


@pytest.mark.parametrize(
    ("version", "constraint", "named"),
    [("banana", "<1.0", '"banana"'), ("1.0", "<<1.0", '"<<1.0"'), ("1.0", "", "empty")],
)
def test_bad_input_exits_2(
    version: str, constraint: str, named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["advisories", "affects", version, constraint]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("error: ") and named in err


def test_missing_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["advisories", "affects", "1.0"]) == 2
    assert "give VERSION and CONSTRAINT" in capsys.readouterr().err


def test_batch(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [
        "10.3.1\t<10.2.11 || >=10.3.0 <10.3.9",
        "10.3.9\t<10.2.11 || >=10.3.0 <10.3.9",
        "no tab here",
        "banana\t<1.0",
        "1.0\t>=1.0 ||",
        "8.x-1.5\t<1.6",
        "1.0\t" + "9" * 20_000,
        "",
        "7.58\t>=7.0 <=7.86\r",
    ]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    assert main(["advisories", "affects", "--batch"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == len(lines)
    assert out[0] == "affected"
    assert out[1] == "not affected"
    assert out[2] == "error: line 3: expected VERSION<TAB>CONSTRAINT"
    assert out[3].startswith('error: line 4: "banana" is not a version')
    assert out[4].startswith('error: line 5: cannot use the constraint ">=1.0 ||"')
    assert out[5] == "affected"
    assert out[6] == "error: line 7: longer than 10000 characters"
    assert out[7] == "error: line 8: expected VERSION<TAB>CONSTRAINT"
    assert out[8] == "affected"


def test_batch_refuses_positional(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["advisories", "affects", "--batch", "1.0"]) == 2
    assert "--batch reads stdin" in capsys.readouterr().err
