"""Unit tests of _remote: credential redaction, the shared request limiter, the retry loop."""

from __future__ import annotations

import asyncio

import pytest

from zarrlayer.errors import RemoteStoreError
from zarrlayer.storage._remote import (
    Failure,
    Limiter,
    RetryPolicy,
    call_with_retries,
    collect_secrets,
    get_limiter,
    is_secret_name,
    redact_options,
    redact_text,
    redact_url,
    status_failure,
)

# -- redaction ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["key", "secret", "token", "password", "session_token", "aws_secret_access_key", "access_key_id",
             "client_secret", "sas_token", "Authorization", "account_key", "passwd"],
)
def test_secret_names_are_recognised(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["endpoint_url", "region_name", "anon", "use_ssl", "bucket", "requester_pays", 1])
def test_ordinary_names_are_not_secret(name: object) -> None:
    assert not is_secret_name(name)


def test_redact_options_masks_nested_secrets_and_keeps_the_rest() -> None:
    options = {
        "key": "AKIAEXAMPLE",
        "secret": "s3cr3t-value",
        "client_kwargs": {"endpoint_url": "http://127.0.0.1:9", "aws_session_token": "tok-123"},
        "config_kwargs": [{"password": "hunter2"}],
        "anon": False,
    }
    redacted = redact_options(options)
    text = repr(redacted)
    for secret in ("AKIAEXAMPLE", "s3cr3t-value", "tok-123", "hunter2"):
        assert secret not in text
    assert redacted["client_kwargs"]["endpoint_url"] == "http://127.0.0.1:9"
    assert redacted["anon"] is False
    assert options["key"] == "AKIAEXAMPLE"  # the caller's dict is untouched


def test_collect_secrets_finds_every_secret_value() -> None:
    options = {"key": "AKIAEXAMPLE", "client_kwargs": {"aws_secret_access_key": "abcdef"}, "region": "us-east-1"}
    assert collect_secrets(options) == {"AKIAEXAMPLE", "abcdef"}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:hunter2@example.org/data.zarr", "https://example.org/data.zarr"),
        ("s3://AKIA:SECRET@bucket/x", "s3://bucket/x"),
        ("https://host/x?sig=abc123&v=2", "https://host/x?sig=***&v=2"),
        ("https://host/x?X-Amz-Signature=abc&X-Amz-Credential=AKIA", "https://host/x?X-Amz-Signature=***&X-Amz-Credential=***"),
        ("s3://bucket/plain/path", "s3://bucket/plain/path"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_redact_text_masks_known_secrets_and_userinfo() -> None:
    text = "GET http://bob:pw@127.0.0.1/x failed; signature for key AKIAEXAMPLE did not match"
    out = redact_text(text, {"AKIAEXAMPLE"})
    assert "AKIAEXAMPLE" not in out and "bob:pw" not in out
    assert "127.0.0.1/x" in out


# -- HTTP status handling ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [(404, Failure.PASS), (416, Failure.PASS), (429, Failure.TRANSIENT), (500, Failure.TRANSIENT),
     (503, Failure.TRANSIENT), (403, Failure.FATAL), (400, Failure.FATAL), (200, None), (None, None)],
)
def test_status_failure(status: int | None, expected: Failure | None) -> None:
    assert status_failure(status) is expected


# -- the limiter -----------------------------------------------------------------------------


def test_limiter_never_exceeds_capacity_and_serves_everyone() -> None:
    async def scenario() -> tuple[int, int]:
        limiter = Limiter(3)
        peak = 0
        done = 0

        async def worker(wanted: int) -> None:
            nonlocal peak, done
            async with limiter.slots(wanted) as taken:
                assert 1 <= taken <= min(wanted, 3)
                peak = max(peak, limiter.in_use)
                await asyncio.sleep(0.001)
            done += 1

        await asyncio.gather(*(worker(1 + i % 4) for i in range(40)))
        return peak, done

    peak, done = asyncio.run(scenario())
    assert peak <= 3
    assert done == 40


def test_limiter_cancelled_waiter_does_not_leak_slots() -> None:
    async def scenario() -> int:
        limiter = Limiter(1)
        await limiter.acquire()
        waiter = asyncio.ensure_future(limiter.acquire())
        await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        limiter.release()
        taken = await asyncio.wait_for(limiter.acquire(), timeout=5)
        limiter.release(taken)
        return limiter.in_use

    assert asyncio.run(scenario()) == 0


def test_get_limiter_is_shared_per_identity_and_loop() -> None:
    async def pair() -> tuple[Limiter, Limiter, Limiter]:
        return get_limiter(("S", "s3://b/x"), 4), get_limiter(("S", "s3://b/x"), 4), get_limiter(("S", "s3://b/y"), 4)

    a, b, c = asyncio.run(pair())
    assert a is b and a is not c
    d, _, _ = asyncio.run(pair())  # another loop gets its own limiter
    assert d is not a


def test_limiter_rejects_zero_capacity() -> None:
    with pytest.raises(ValueError):
        Limiter(0)


# -- the retry loop ------------------------------------------------------------------------------


class _Flaky:
    """A request that fails `failures` times with `error` and then returns 'ok'."""

    def __init__(self, failures: int, error: BaseException) -> None:
        self.failures, self.error, self.calls = failures, error, 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "ok"


def _classify(exc: BaseException) -> Failure:
    return {TimeoutError: Failure.TRANSIENT, PermissionError: Failure.FATAL}.get(type(exc), Failure.PASS)


def _retry(request: _Flaky, retries: int) -> str:
    async def run() -> str:
        return await call_with_retries(
            request, limiter=Limiter(2), policy=RetryPolicy(retries=retries, base_delay=0.001, max_delay=0.01),
            classify=_classify, where="s3://bucket/x key 'c/0'", secrets={"AKIASECRET"},
        )

    return asyncio.run(run())


def test_transient_errors_are_retried_until_success() -> None:
    request = _Flaky(3, TimeoutError("slow"))
    assert _retry(request, retries=5) == "ok"
    assert request.calls == 4


def test_exhausted_retries_raise_remote_store_error_naming_url_and_key() -> None:
    request = _Flaky(10, TimeoutError("timed out talking with AKIASECRET"))
    with pytest.raises(RemoteStoreError) as info:
        _retry(request, retries=2)
    assert request.calls == 3
    message = str(info.value)
    assert "s3://bucket/x" in message and "'c/0'" in message and "3 attempts" in message
    assert "AKIASECRET" not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_fatal_errors_are_not_retried() -> None:
    request = _Flaky(10, PermissionError("403 Forbidden"))
    with pytest.raises(RemoteStoreError, match="not retried"):
        _retry(request, retries=5)
    assert request.calls == 1


def test_passed_errors_propagate_unchanged() -> None:
    request = _Flaky(10, FileNotFoundError("missing"))
    with pytest.raises(FileNotFoundError):
        _retry(request, retries=5)
    assert request.calls == 1


def test_retry_policy_defaults_to_the_setting() -> None:
    from zarrlayer import config

    with config.override(retries=2):
        assert RetryPolicy().attempts == 3
    assert RetryPolicy(retries=0).attempts == 1
    delays = [RetryPolicy(base_delay=0.1, max_delay=0.3).delay(n) for n in range(6)]
    assert all(0 <= d <= 0.3 for d in delays)


def test_backoff_is_exponential_with_full_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    bounds: list[tuple[float, float]] = []

    def fake_uniform(low: float, high: float) -> float:
        bounds.append((low, high))
        return high / 2

    monkeypatch.setattr("zarrlayer.storage._remote.random.uniform", fake_uniform)
    policy = RetryPolicy(base_delay=0.1, max_delay=1.0)
    assert [policy.delay(n) for n in range(6)] == pytest.approx([0.05, 0.1, 0.2, 0.4, 0.5, 0.5])
    assert [low for low, _ in bounds] == [0.0] * 6
    assert [high for _, high in bounds] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])


def test_the_retry_loop_sleeps_the_policy_delay_between_attempts(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    real_sleep = asyncio.sleep

    async def recording_sleep(delay: float) -> None:
        slept.append(delay)
        await real_sleep(0)

    monkeypatch.setattr("zarrlayer.storage._remote.random.uniform", lambda low, high: high)
    monkeypatch.setattr("zarrlayer.storage._remote.asyncio.sleep", recording_sleep)
    request = _Flaky(3, TimeoutError("slow"))
    assert _retry(request, retries=5) == "ok"
    assert slept == pytest.approx([0.001, 0.002, 0.004])
