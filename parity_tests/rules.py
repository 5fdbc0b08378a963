"""What a comparison ignores or loosens: rules per header and per JSON path, each with its reason.

``DEFAULT_RULES`` are the built-in normalizations (``compare`` says why each exists); a user's
rules come on top (``Rules.extended``), from a case file or the command line (``parse_rule``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["DEFAULT_RULES", "HOP_BY_HOP", "HeaderRule", "Rules"]

HeaderKind = Literal["ignore", "presence", "regex", "set"]

#: RFC 9110 §7.6.1: fields that describe one connection, not the response.
HOP_BY_HOP = ("connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade")


@dataclass(frozen=True, slots=True)
class HeaderRule:
    """How one header (by lowercase name) is compared: ``ignore`` it, compare its ``presence``
    only, compare what a ``regex`` matches (the whole match, or its groups when it has any), or
    compare its values as a ``set`` (order and repeats aside; comma-separated list members
    count as values)."""

    name: str
    kind: HeaderKind
    pattern: str | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Rules:
    headers: tuple[HeaderRule, ...] = ()

    def header(self, name: str) -> HeaderRule | None:
        """The rule for header ``name``: the last one given wins (a user's over a default)."""
        wanted = name.lower()
        for rule in reversed(self.headers):
            if rule.name == wanted:
                return rule
        return None

    def extended(self, other: Rules) -> Rules:
        """These rules with ``other``'s on top."""
        return Rules(headers=self.headers + other.headers)


DEFAULT_RULES = Rules(
    headers=(
        HeaderRule("date", "presence", reason="the clock: servers add it (RFC 9110 §6.6.1)"),
        HeaderRule("server", "presence", reason="it names the server, which is the point of running two"),
        *(HeaderRule(name, "ignore", reason="hop-by-hop framing (RFC 9110 §7.6.1)") for name in HOP_BY_HOP),
    )
)
