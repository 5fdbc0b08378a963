"""URL building (seed §2.6): the views call ``url_for`` exactly as the seed does and hand the strings
over; these decide the bodies. Parity cases: ``build``, ``user-detail``, ``search`` and the ``api-*``
version cases (parity_tests/cases/data.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..protocol.representation import ResponsePlan, plan_json

__all__ = ["abs_urls", "build_urls", "links", "search", "user_detail", "versions"]


def versions(v1_url: str, v2_url: str) -> ResponsePlan:
    """``/api``: where each version lives."""
    return plan_json({"versions": {"v1": v1_url, "v2": v2_url}})


def build_urls(user_url: str, q_url: str) -> ResponsePlan:
    return plan_json({"user_url": user_url, "q_url": q_url})


def abs_urls(self_url: str, doc_url: str) -> ResponsePlan:
    return plan_json({"self": self_url, "doc": doc_url})


def links(v1_url: str, v2_url: str) -> ResponsePlan:
    return plan_json({"v1": v1_url, "v2": v2_url})


def user_detail(user_id: int, self_url: str) -> ResponsePlan:
    return plan_json({"id": user_id, "url": self_url})


def search(arguments: Sequence[tuple[str, str]]) -> ResponsePlan:
    """Echo the first ``q`` and ``page`` as given (strings): the seed's search has no engine."""
    found: dict[str, str] = {}
    for name, value in arguments:
        if name in ("q", "page"):
            found.setdefault(name, value)
    return plan_json({"q": found.get("q", ""), "page": found.get("page")})
