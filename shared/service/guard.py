"""A bearer token when tokens are configured, then a per-client token bucket: the guard in front
of ``/api/v1`` (``items.ApiGuard``) and of ``POST /events`` (``shared.compose.publish_guard``).

One implementation, so both answer alike: 401 with ``WWW-Authenticate: Bearer realm="twinport"``
(RFC 6750 §3) for a missing or unknown token, tokens compared in constant time, then 429 with
``Retry-After`` (RFC 6585 §4, RFC 9110 §10.2.3) when the client's bucket is empty. A refused token
does not take from any bucket.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Protocol

from ..protocol.representation import ResponsePlan, plan_problem

__all__ = ["BearerGuard", "Limited", "Limiter", "bearer_token", "rate_limited", "unauthorized"]


@dataclass(frozen=True, slots=True)
class Limited:
    """A request refused by a client's bucket: whole seconds until a token is back (Retry-After)."""

    retry_after: int


class Limiter(Protocol):
    """Per-client rate limiting: None lets a request go on. ``shared.edge.counters.RateLimiter``
    is the in-process one (a token bucket per client); the clock is the caller's."""

    def take(self, client: str, now: float) -> Limited | None: ...


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

    def __init__(self, tokens: str, limiter: Limiter, *, subject: str, per_token: bool) -> None:
        self._tokens = tuple(token for token in tokens.split(",") if token)
        self._limiter = limiter
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


def bearer_token(authorization: str | None) -> str | None:
    # RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token; the scheme is case-insensitive (RFC 9110 §11.1).
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip(" ")
    if scheme.lower() != "bearer" or not token or " " in token:
        return None
    return token
