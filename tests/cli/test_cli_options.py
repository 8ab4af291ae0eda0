"""Storage options from the command line, and redaction of secrets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zarrlayer._cli.options import CLIUsageError, parse_storage_options, redact


def test_values_are_json_when_they_parse(tmp_path: Path) -> None:
    options = parse_storage_options(
        ["anon=true", "retries=3", 'client_kwargs={"region_name": "eu-west-1"}', "profile=work", "empty="], None
    )
    assert options == {
        "anon": True,
        "retries": 3,
        "client_kwargs": {"region_name": "eu-west-1"},
        "profile": "work",
        "empty": "",
    }


def test_file_is_merged_and_command_line_wins(tmp_path: Path) -> None:
    file = tmp_path / "opts.json"
    file.write_text(json.dumps({"anon": False, "profile": "from-file"}))
    assert parse_storage_options(["anon=true"], str(file)) == {"anon": True, "profile": "from-file"}


@pytest.mark.parametrize(
    ("pairs", "content", "message"),
    [
        (["novalue"], None, "KEY=VALUE"),
        (["=3"], None, "KEY=VALUE"),
        ([], "[1, 2]", "JSON object"),
        ([], "{not json", "invalid JSON"),
    ],
)
def test_bad_options_are_refused(tmp_path: Path, pairs: list[str], content: str | None, message: str) -> None:
    file = None
    if content is not None:
        file = tmp_path / "opts.json"
        file.write_text(content)
    with pytest.raises(CLIUsageError, match=message):
        parse_storage_options(pairs, str(file) if file else None)


def test_missing_options_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CLIUsageError, match="cannot read storage options file"):
        parse_storage_options([], str(tmp_path / "absent.json"))


def test_redact_hides_secret_values_and_url_userinfo() -> None:
    options = {"key": "AKIAEXAMPLE", "client_kwargs": {"aws_secret_access_key": "s3cr3t-value"}, "anon": "false"}
    text = "failed https://alice:pw@host/x with key AKIAEXAMPLE and s3cr3t-value; anon=false"
    out = redact(text, options)
    assert "AKIAEXAMPLE" not in out and "s3cr3t-value" not in out and "alice" not in out and ":pw@" not in out
    assert "https://***@host/x" in out
    assert "anon=false" in out
