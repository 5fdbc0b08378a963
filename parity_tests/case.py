"""One parity case: a request sent alike to both sides.

A module of its own, outside ``cases/`` (twinport's own cases): a run of any pair needs ``Case``
without loading those (and both apps they import).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .rules import Rules

__all__ = ["Case", "get_and_head"]


@dataclass(frozen=True, slots=True)
class Case:
    """A request (method, target, headers, body) and how much of the answer to read: for an
    endless stream, ``read_limit`` bytes or the first ``events`` server-sent events (see
    ``clients.enough``). ``repeatable=False`` marks a case with side effects, which the harness
    does not send twice to learn noise. ``profile`` names the app settings the case needs
    (``harness.PROFILES``: e.g. "guarded", with bearer tokens and a tiny rate limit), and
    ``prelude`` sends the same request that many times first, uncompared (to empty a token
    bucket before the request that must get 429). ``after`` names the cases with side effects
    whose state this one reads (the replay cases read what the publish cases published): the
    harness sends those first, to the same pair, if they have not been sent yet, so a case
    selected alone (``pytest -k replay``) answers as it does in the whole run. ``rules``: the
    case's own comparison rules, on top of the run's (a case file's ``rules`` table)."""

    id: str
    target: str
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    read_limit: int | None = None
    events: int | None = None
    repeatable: bool = True
    profile: str = "default"
    prelude: int = 0
    after: tuple[str, ...] = ()
    rules: Rules | None = None


def get_and_head(case_id: str, target: str, headers: tuple[tuple[str, str], ...] = ()) -> list[Case]:
    return [Case(case_id, target, headers=headers), Case(f"{case_id}-head", target, method="HEAD", headers=headers)]
