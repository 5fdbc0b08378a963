"""A bearer token when tokens are configured, then a per-client token bucket: the guard in front
of ``/api/v1`` (``api.ApiGuard``) and of ``POST /events`` (``publish_guard``).

One implementation, so both answer alike: 401 with ``WWW-Authenticate: Bearer realm="twinport"``
(RFC 6750 §3) for a missing or unknown token, tokens compared in constant time, then 429 with
``Retry-After`` (RFC 6585 §4, RFC 9110 §10.2.3) when the client's bucket is empty. A refused token
does not take from any bucket.
"""

from __future__ import annotations

import hmac

from ._ratelimit import Limited, RateLimiter
from ._representation import ResponsePlan, plan_problem
from .settings import Settings

__all__ = ["BearerGuard", "bearer_token", "publish_guard", "rate_limited", "unauthorized"]


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


class BearerGuard:
    """``check`` lets a request through (None) or answers the 401/429 to send instead.

    ``subject`` names what needs the token in the 401's detail ("This API", "Publishing
    events"). The bucket is per client: its token when ``per_token`` and there is one, else its
    address.
    """

    def __init__(self, tokens: str, rate: float, burst: int, *, subject: str, per_token: bool) -> None:
        self._tokens = tuple(token for token in tokens.split(",") if token)
        self._limiter = RateLimiter(rate, burst)
        self._subject = subject
        self._per_token = per_token

    @property
    def authenticated(self) -> bool:
        return bool(self._tokens)

    def check(self, authorization: str | None, remote_address: str, now: float) -> ResponsePlan | None:
        client = remote_address
        if self._tokens:
            token = bearer_token(authorization)
            if token is None:
                return unauthorized(f"{self._subject} needs a bearer token (Authorization: Bearer <token>).")
            # Compare against every token in constant time: no timing hint of a near miss.
            if not any(hmac.compare_digest(token.encode(), known.encode()) for known in self._tokens):
                return unauthorized("The bearer token is not valid.")
            if self._per_token:
                client = f"token:{token}"
        limited = self._limiter.take(client, now)
        return None if limited is None else rate_limited(limited)


def publish_guard(settings: Settings) -> BearerGuard:
    """``POST /events``: ``publish_tokens``, then ``publish_rate``/``publish_burst`` per address
    (a publisher's bucket is its address even with a token, so one client cannot multiply its
    rate by holding several tokens)."""
    return BearerGuard(
        settings.publish_tokens,
        settings.publish_rate,
        settings.publish_burst,
        subject="Publishing events",
        per_token=False,
    )


def bearer_token(authorization: str | None) -> str | None:
    # RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token; the scheme is case-insensitive (RFC 9110 §11.1).
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip(" ")
    if scheme.lower() != "bearer" or not token or " " in token:
        return None
    return token
