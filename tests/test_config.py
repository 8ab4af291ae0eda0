"""zarrlayer.config: process-wide settings, validated, with a scoped override."""

from __future__ import annotations

import pytest

from zarrlayer import config


def test_set_changes_and_override_restores() -> None:
    before = config.get()
    with config.override(max_concurrency=3, remote_backend="obstore") as inside:
        assert inside.max_concurrency == 3 and config.get().remote_backend == "obstore"
    assert config.get() == before


@pytest.mark.parametrize(
    "changes",
    [
        {"remote_backend": "ftp"},
        {"max_concurrency": 0},
        {"decode_threads": "4"},
        {"retries": -1},
        {"default_zarr_format": 7},
        {"allow_unsafe_codecs": "yes"},
    ],
)
def test_bad_values_are_refused_and_change_nothing(changes: dict) -> None:
    before = config.get()
    with pytest.raises(ValueError):
        config.set(**changes)
    assert config.get() == before


def test_unknown_setting_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="unknown zarrlayer setting"):
        config.set(max_connections=4)


def test_environment_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZARRLAYER_REMOTE_BACKEND", "obstore")
    monkeypatch.setenv("ZARRLAYER_MAX_CONCURRENCY", "7")
    monkeypatch.setenv("ZARRLAYER_ALLOW_UNSAFE_CODECS", "1")
    settings = config.Settings.from_env()
    assert (settings.remote_backend, settings.max_concurrency, settings.allow_unsafe_codecs) == ("obstore", 7, True)


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("ZARRLAYER_MAX_CONCURRENCY", "abc", "ZARRLAYER_MAX_CONCURRENCY"),
        ("ZARRLAYER_MAX_CONCURRENCY", "0", "max_concurrency"),
        ("ZARRLAYER_DECODE_THREADS", "-2", "decode_threads"),
        ("ZARRLAYER_REMOTE_BACKEND", "bogus", "remote_backend"),
    ],
)
def test_bad_environment_values_are_refused_naming_them(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, words: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=words) as info:
        config.Settings.from_env()
    assert value in str(info.value)
