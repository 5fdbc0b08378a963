"""What counts as a difference between two exchanges, and the few things that do not.

Compared: the status code, every header (names case-insensitively, values exactly, repeated
fields such as Set-Cookie in order), and the body byte for byte. Normalized, each for a reason:

- ``Date``: its presence is compared, its value is the clock (servers add it, RFC 9110 §6.6.1).
- ``Server``: its presence is compared, its value names the server (gunicorn, hypercorn-h11),
  which is the point of running two.
- Hop-by-hop framing, RFC 9110 §7.6.1: ``Connection``, ``Keep-Alive``, ``Transfer-Encoding``,
  ``TE``, ``Trailer``, ``Upgrade``, ``Proxy-Connection`` describe one connection, not the
  response: gunicorn says ``Connection: keep-alive``, hypercorn says nothing, and both decide
  chunking themselves when there is no Content-Length.
- The reason phrase is not compared (gunicorn sends ``304 NOT MODIFIED``, hypercorn none);
  RFC 9112 §4 says clients should ignore it and HTTP/2 has none. It is not a header.
- The event hub's boot token (``without_boot``): event ids are ``<boot>-<n>``, and the boot is
  made from the process's start time so that ids survive a restart (``shared.edge.events``). Two
  runtimes are two processes, so their boots always differ. Learned per runtime, as Diffy learns
  noise: the harness reads each runtime's boot from ``/ops/stats`` (``sse_boot``), writes it into
  the request where a case says ``<boot>`` (a Last-Event-ID of that runtime), and replaces it by
  ``<boot>`` in both answers: only where an id (``<boot>-``) or the stats member (``"<boot>"``)
  holds it. The serials, the format and everything around them are still compared exactly.

Nothing else is normalized: a difference anywhere else is a defect in the code.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from .clients import Exchange
from .rules import DEFAULT_RULES, Rules

__all__ = [
    "BOOT",
    "FieldDifference",
    "diff_exchanges",
    "fingerprint",
    "with_boot",
    "without_boot",
]

BOOT = "<boot>"


@dataclass(frozen=True, slots=True)
class FieldDifference:
    """One field that differs: ``status``, ``header <name>`` or ``body``, and both sides."""

    field: str
    left: str
    right: str


def fingerprint(exchange: Exchange, rules: Rules = DEFAULT_RULES) -> dict[str, object]:
    """The exchange as compared: status, headers grouped by lowercase name, body."""
    headers: dict[str, list[str]] = {}
    for name, value in exchange.headers:
        key = name.lower()
        rule = rules.header(key)
        if rule is not None and rule.kind == "ignore":
            continue
        headers.setdefault(key, []).append("<present>" if rule is not None and rule.kind == "presence" else value)
    return {"status": exchange.status, "headers": headers, "body": exchange.body}


def with_boot(headers: tuple[tuple[str, str], ...], boot: str) -> tuple[tuple[str, str], ...]:
    """A case's request headers for one runtime: ``<boot>`` replaced by that runtime's boot."""
    return tuple((name, value.replace(BOOT, boot)) for name, value in headers)


def without_boot(exchange: Exchange, boot: str) -> Exchange:
    """The exchange with this runtime's boot written ``<boot>`` where ids and /ops/stats hold it."""
    if not boot:
        return exchange

    def text(value: str) -> str:
        return value.replace(f"{boot}-", f"{BOOT}-").replace(f'"{boot}"', f'"{BOOT}"')

    body = exchange.body.replace(f"{boot}-".encode(), f"{BOOT}-".encode()).replace(
        f'"{boot}"'.encode(), f'"{BOOT}"'.encode()
    )
    return Exchange(exchange.status, tuple((name, text(value)) for name, value in exchange.headers), body)


def diff_exchanges(left: Exchange, right: Exchange, rules: Rules = DEFAULT_RULES) -> list[FieldDifference]:
    a, b = fingerprint(left, rules), fingerprint(right, rules)
    differences: list[FieldDifference] = []
    if a["status"] != b["status"]:
        differences.append(FieldDifference("status", str(a["status"]), str(b["status"])))
    a_headers, b_headers = a["headers"], b["headers"]
    assert isinstance(a_headers, dict) and isinstance(b_headers, dict)
    for name in sorted(set(a_headers) | set(b_headers)):
        if a_headers.get(name) != b_headers.get(name):
            differences.append(
                FieldDifference(f"header {name}", _show_values(a_headers.get(name)), _show_values(b_headers.get(name)))
            )
    if left.body != right.body:
        differences.append(FieldDifference("body", *_show_bodies(left.body, right.body)))
    return differences


def _show_values(values: list[str] | None) -> str:
    if values is None:
        return "(absent)"
    return " | ".join(values)


def _show_bodies(left: bytes, right: bytes) -> tuple[str, str]:
    if len(left) <= 120 and len(right) <= 120:
        return repr(left), repr(right)
    offset = next((i for i, (x, y) in enumerate(zip(left, right, strict=False)) if x != y), min(len(left), len(right)))

    def describe(body: bytes) -> str:
        digest = hashlib.sha256(body).hexdigest()[:12]
        return f"{len(body)} bytes sha256:{digest}, from byte {offset}: {body[offset : offset + 24]!r}"

    return describe(left), describe(right)
