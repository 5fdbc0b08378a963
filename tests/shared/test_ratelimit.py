"""The token bucket behind api_v1's rate limit."""

from __future__ import annotations

from hypothesis import given, strategies as st

from shared.edge.counters import RateLimiter
from shared.service.guard import Limited


def test_burst_then_refill_at_the_rate() -> None:
    limiter = RateLimiter(rate=2.0, burst=3)
    assert [limiter.take("a", 0.0) for _ in range(3)] == [None, None, None]
    assert limiter.take("a", 0.0) == Limited(1)
    assert limiter.take("b", 0.0) is None  # another client has its own bucket
    assert limiter.take("a", 0.5) is None  # half a second at 2/s is one token
    assert limiter.take("a", 0.5) == Limited(1)


def test_retry_after_is_whole_seconds_rounded_up() -> None:
    limiter = RateLimiter(rate=0.25, burst=1)
    assert limiter.take("a", 0.0) is None
    assert limiter.take("a", 0.0) == Limited(4)
    assert limiter.take("a", 1.0) == Limited(3)


def test_memory_is_bounded() -> None:
    limiter = RateLimiter(rate=1.0, burst=1, max_clients=10)
    for client in range(100):
        limiter.take(str(client), 0.0)
    assert len(limiter._buckets) == 10


@given(
    st.lists(st.floats(min_value=0, max_value=0.5), min_size=1, max_size=200), st.floats(0.1, 50), st.integers(1, 20)
)
def test_never_more_than_burst_plus_rate_times_elapsed(gaps: list[float], rate: float, burst: int) -> None:
    limiter = RateLimiter(rate=rate, burst=burst)
    now, allowed = 0.0, 0
    for gap in gaps:
        now += gap
        allowed += limiter.take("a", now) is None
    assert allowed <= burst + rate * now + 1e-9
