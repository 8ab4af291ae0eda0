"""Adaptive remote concurrency (issue 15): start high, halve on transient failures, creep back up."""

from __future__ import annotations

import asyncio

from zarrlayer.storage._remote import Limiter


def test_limiter_halves_once_per_round_and_recovers() -> None:
    async def scenario() -> list[int]:
        limiter = Limiter(64)
        seen = [limiter.limit]
        for _ in range(10):  # a burst of 503s from one round of requests halves once
            limiter.backoff()
        seen.append(limiter.limit)
        for _ in range(32):  # a round later, failures halve again
            limiter.backoff()
        seen.append(limiter.limit)
        for _ in range(16 + 17):  # one more slot per `limit` successes
            limiter.succeeded()
        seen.append(limiter.limit)
        return seen

    assert asyncio.run(scenario()) == [64, 32, 16, 18]


def test_limiter_never_grants_more_than_its_limit_after_a_backoff() -> None:
    async def scenario() -> tuple[int, int]:
        limiter = Limiter(8)
        held = [await limiter.acquire() for _ in range(8)]
        limiter.backoff()  # 8 -> 4 while all 8 are held
        for count in held:
            limiter.release(count)
        taken = [await limiter.acquire() for _ in range(4)]
        blocked = asyncio.ensure_future(limiter.acquire())
        await asyncio.sleep(0)
        extra = blocked.done()
        limiter.release(taken[0])
        await asyncio.sleep(0)
        return len(taken), int(extra) + 10 * int(blocked.done())

    assert asyncio.run(scenario()) == (4, 10)  # the 5th waits until one of the 4 is given back
