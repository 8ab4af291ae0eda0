"""zarrlayer.config answers zarr-python's calls: get(key), set({...}) for the process or a with block, reset."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from zarrlayer import config


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    before = config.get()
    yield
    config.set(**{f.name: getattr(before, f.name) for f in dataclasses.fields(before)})


def test_get_one_key_in_either_spelling() -> None:
    settings = config.get()
    assert config.get("max_concurrency") == settings.max_concurrency
    assert config.get("async.concurrency") == settings.max_concurrency
    assert config.get("threading.max_workers") == settings.decode_threads
    assert config.get("default_zarr_format") == settings.default_zarr_format
    assert config.get("array.order") == "C" and config.get("array.write_empty_chunks") is False
    assert config.get("no.such.key", 5) == 5
    with pytest.raises(KeyError, match="no.such.key"):
        config.get("no.such.key")


def test_set_a_dict_in_a_with_block_restores() -> None:
    before = config.get()
    with config.set({"async.concurrency": 3, "default_zarr_format": 2}) as inside:
        assert inside.max_concurrency == 3 and config.get("async.concurrency") == 3
        assert config.get().default_zarr_format == 2
    assert config.get() == before


def test_set_for_the_process_and_reset() -> None:
    applied = config.set(retries=1, async__concurrency=4)
    assert applied.retries == 1 and config.get().max_concurrency == 4
    config.set({"threading.max_workers": None})
    assert config.get().decode_threads >= 1
    fresh = config.reset()
    assert fresh == config.Settings.from_env() == config.get()


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"no.such.key": 1}, TypeError),
        ({"async.concurrency": 0}, ValueError),
        ({"array.write_empty_chunks": True}, ValueError),
        ({"array.order": "F"}, ValueError),
    ],
)
def test_bad_changes_change_nothing(changes: dict, error: type) -> None:
    before = config.get()
    with pytest.raises(error):
        config.set(changes)
    with pytest.raises(error):
        config.update(changes)
    assert config.get() == before


def test_update_priority_old_keeps_values() -> None:
    before = config.get()
    config.update({"retries": before.retries + 1}, priority="old")
    assert config.get() == before
    config.update({"retries": before.retries + 1})
    assert config.get().retries == before.retries + 1
    assert config.to_dict()["retries"] == before.retries + 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [("True", True), ("TRUE", True), ("true", True), ("1", True), ("yes", True), ("on", True),
     ("False", False), ("0", False), ("no", False), ("off", False), ("", False)],
)
def test_boolean_environment_values(monkeypatch: pytest.MonkeyPatch, value: str, expected: bool) -> None:
    monkeypatch.setenv("ZARRLAYER_ALLOW_UNSAFE_CODECS", value)
    assert config.Settings.from_env().allow_unsafe_codecs is expected


@pytest.mark.parametrize("value", ["maybe", "2", "tru"])
def test_bad_boolean_environment_value_names_the_variable(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("ZARRLAYER_ALLOW_UNSAFE_CODECS", value)
    with pytest.raises(ValueError, match="ZARRLAYER_ALLOW_UNSAFE_CODECS") as info:
        config.Settings.from_env()
    assert repr(value) in str(info.value)


def test_int_environment_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZARRLAYER_RETRIES", "2")
    monkeypatch.setenv("ZARRLAYER_DEFAULT_ZARR_FORMAT", "2")
    settings = config.Settings.from_env()
    assert (settings.retries, settings.default_zarr_format) == (2, 2)
    monkeypatch.setenv("ZARRLAYER_DEFAULT_ZARR_FORMAT", "4")
    with pytest.raises(ValueError, match="default_zarr_format"):
        config.Settings.from_env()


def test_issue_input_true_read_at_import() -> None:
    """Issue 11: ZARRLAYER_ALLOW_UNSAFE_CODECS=True was read as False."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "ZARRLAYER_ALLOW_UNSAFE_CODECS": "True"}
    code = "import zarrlayer; print(zarrlayer.config.get('allow_unsafe_codecs'))"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"
