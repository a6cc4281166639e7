"""The general request limit against §13.2 and §13.4 of the contract."""

from __future__ import annotations

import pytest

from snyk_export.errors import Throttled
from snyk_export.ratelimit import SlidingWindowLimiter


class Clock:
    """A clock that moves only when told to."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


def retry_after(limiter: SlidingWindowLimiter, key: str) -> int:
    with pytest.raises(Throttled) as caught:
        limiter.hit(key)
    error = caught.value
    assert (error.status, error.code) == (429, "SNYK-0001")
    return int(error.headers["retry-after"])


def test_requests_up_to_the_limit_pass(clock: Clock) -> None:
    limiter = SlidingWindowLimiter(3, 60, clock=clock)

    for _ in range(3):
        limiter.hit("token")


def test_the_request_over_the_limit_is_429(clock: Clock) -> None:
    limiter = SlidingWindowLimiter(3, 60, clock=clock)
    for _ in range(3):
        limiter.hit("token")

    assert retry_after(limiter, "token") == 60


def test_the_default_limit_of_section_13_2(clock: Clock) -> None:
    limiter = SlidingWindowLimiter(1620, 60, clock=clock)
    for _ in range(1620):
        limiter.hit("token")

    with pytest.raises(Throttled):
        limiter.hit("token")


def test_refused_requests_do_not_count(clock: Clock) -> None:
    limiter = SlidingWindowLimiter(2, 60, clock=clock)
    limiter.hit("token")
    limiter.hit("token")
    for _ in range(5):
        clock.advance(1)
        retry_after(limiter, "token")

    clock.advance(55)

    limiter.hit("token")


def test_the_window_slides(clock: Clock) -> None:
    limiter = SlidingWindowLimiter(2, 60, clock=clock)
    limiter.hit("token")
    clock.advance(30)
    limiter.hit("token")

    clock.advance(29.5)
    assert retry_after(limiter, "token") == 1

    clock.advance(0.5)
    limiter.hit("token")
    assert retry_after(limiter, "token") == 30

    clock.advance(30)
    limiter.hit("token")


def test_retry_after_is_the_time_until_the_oldest_leaves_rounded_up(
    clock: Clock,
) -> None:
    limiter = SlidingWindowLimiter(1, 60, clock=clock)
    limiter.hit("token")

    clock.advance(10.2)

    assert retry_after(limiter, "token") == 50


def test_retry_after_is_at_least_one_second(clock: Clock) -> None:
    limiter = SlidingWindowLimiter(1, 60, clock=clock)
    limiter.hit("token")

    clock.advance(59.999)

    assert retry_after(limiter, "token") == 1


def test_retry_after_is_whole_seconds(clock: Clock) -> None:
    limiter = SlidingWindowLimiter(1, 2.5, clock=clock)
    limiter.hit("token")

    with pytest.raises(Throttled) as caught:
        limiter.hit("token")

    assert caught.value.headers["retry-after"] == "3"


def test_none_disables_the_limit(clock: Clock) -> None:
    limiter = SlidingWindowLimiter(None, 60, clock=clock)

    for _ in range(10_000):
        limiter.hit("token")


def test_a_limit_of_zero_refuses_everything(clock: Clock) -> None:
    limiter = SlidingWindowLimiter(0, 60, clock=clock)

    assert retry_after(limiter, "token") == 60


def test_keys_are_independent(clock: Clock) -> None:
    limiter = SlidingWindowLimiter(2, 60, clock=clock)
    limiter.hit("alice")
    limiter.hit("alice")

    limiter.hit("bob")
    limiter.hit("bob")

    retry_after(limiter, "alice")
    retry_after(limiter, "bob")
    limiter.hit("carol")


def test_the_body_is_a_valid_error_document(clock: Clock) -> None:
    limiter = SlidingWindowLimiter(0, 60, clock=clock)

    with pytest.raises(Throttled) as caught:
        limiter.hit("token")

    item = caught.value.document()["errors"][0]
    assert item["status"] == "429"
    assert item["code"] == "SNYK-0001"
    assert item["links"]["about"].endswith("#snyk-0001")
