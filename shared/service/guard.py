"""A bearer token when tokens are configured, then a per-client token bucket: the guard in front
of ``/api/v1`` (``items.ApiGuard``) and of ``POST /events`` (``shared.compose.publish_guard``).

One implementation, so both answer alike: 401 with ``WWW-Authenticate: Bearer realm="twinport"``
(RFC 6750 §3) for a missing or unknown token, tokens compared in constant time, then 429 with
``Retry-After`` (RFC 6585 §4, RFC 9110 §10.2.3) when the client's bucket is empty. A refused token
does not take from any bucket.

Flask's views take from their limiter synchronously (``check``); Quart's await it (``check_async``),
so a limiter shared through Redis (``shared.edge.redis_limits``) never blocks the event loop. The
guard is generic in its limiter: a ``BearerGuard[Limiter]`` has ``check``, a
``BearerGuard[AsyncLimiter]`` has ``check_async``, and the in-process bucket is both.
"""

from __future__ import annotations

import hmac
import math
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from ..protocol.representation import ResponsePlan, plan_problem

__all__ = [
    "AsyncLimiter",
    "BearerGuard",
    "Limited",
    "Limiter",
    "LimiterT",
    "bearer_token",
    "rate_limited",
    "unauthorized",
]


@dataclass(frozen=True, slots=True)
class Limited:
    """A request refused by a client's bucket: whole seconds until a token is back (Retry-After)."""

    retry_after: int

    @classmethod
    def short_of(cls, tokens: float, rate: float) -> Limited:
        """A bucket holding ``tokens`` (< 1) refilled at ``rate``/s: the whole seconds until it
        holds one, rounded up (RFC 9110 §10.2.3), and never 0. Every limiter rounds here, so the
        in-process and the Redis buckets answer alike."""
        return cls(max(1, math.ceil((1 - tokens) / rate)))


class Limiter(Protocol):
    """Per-client rate limiting: None lets a request go on. ``shared.edge.counters.RateLimiter``
    is the in-process one (a token bucket per client); the clock is the caller's (monotonic): a
    limiter shared through Redis keeps its buckets on Redis's own clock and uses the caller's
    only for its in-process fallback."""

    def take(self, client: str, now: float) -> Limited | None: ...


class AsyncLimiter(Protocol):
    """``Limiter`` for an event loop: the same answers, awaited."""

    async def take_async(self, client: str, now: float) -> Limited | None: ...


LimiterT = TypeVar("LimiterT", bound="Limiter | AsyncLimiter", covariant=True)


def unauthorized(detail: str) -> ResponsePlan:
    # RFC 6750 §3: a request without a usable token gets a challenge naming the scheme.
    return plan_problem(401, detail, headers=(("WWW-Authenticate", 'Bearer realm="twinport"'),))


def rate_limited(limited: Limited) -> ResponsePlan:
    # RFC 6585 §4 and RFC 9110 §10.2.3.
    return plan_problem(
        429,
        "Too many requests from this client; try again later.",
        headers=(("Retry-After", str(limited.retry_after)),),
    )


class BearerGuard(Generic[LimiterT]):
    """``check`` (or ``check_async``) lets a request through (None) or answers the 401/429 to send instead.

    ``subject`` names what needs the token in the 401's detail ("This API", "Publishing
    events"). The bucket is per client: its token when ``per_token`` and there is one, else its
    address.
    """

    def __init__(self, tokens: str, limiter: LimiterT, *, subject: str, per_token: bool) -> None:
        self._tokens = tuple(token for token in tokens.split(",") if token)
        self._limiter = limiter
        self._subject = subject
        self._per_token = per_token

    @property
    def authenticated(self) -> bool:
        return bool(self._tokens)

    @property
    def limiter(self) -> LimiterT:
        return self._limiter

    def check(
        self: BearerGuard[Limiter], authorization: str | None, remote_address: str, now: float
    ) -> ResponsePlan | None:
        client = self._client(authorization, remote_address)
        if isinstance(client, ResponsePlan):
            return client
        limited = self._limiter.take(client, now)
        return None if limited is None else rate_limited(limited)

    async def check_async(
        self: BearerGuard[AsyncLimiter], authorization: str | None, remote_address: str, now: float
    ) -> ResponsePlan | None:
        """``check``, for Quart: the bucket is awaited (a Redis round trip off the loop's back)."""
        client = self._client(authorization, remote_address)
        if isinstance(client, ResponsePlan):
            return client
        limited = await self._limiter.take_async(client, now)
        return None if limited is None else rate_limited(limited)

    def _client(self, authorization: str | None, remote_address: str) -> str | ResponsePlan:
        """Whose bucket the request takes from, or the 401 that refuses it before any bucket."""
        if not self._tokens:
            return remote_address
        token = bearer_token(authorization)
        if token is None:
            return unauthorized(f"{self._subject} needs a bearer token (Authorization: Bearer <token>).")
        # Compare against every token in constant time: no timing hint of a near miss.
        if not any(hmac.compare_digest(token.encode(), known.encode()) for known in self._tokens):
            return unauthorized("The bearer token is not valid.")
        return f"token:{token}" if self._per_token else remote_address


def bearer_token(authorization: str | None) -> str | None:
    # RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token; the scheme is case-insensitive (RFC 9110 §11.1).
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip(" ")
    if scheme.lower() != "bearer" or not token or " " in token:
        return None
    return token
