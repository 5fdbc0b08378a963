"""The request gate (shared/request_gate.py): Host and request-target answers that every client,
in-process and on the wire, can ask for. The shapes only a raw socket can send (absolute-form,
no Host, Content-Length with Transfer-Encoding, broken chunks) are in tests/test_hardening_gate.py."""

from __future__ import annotations

from ..case import Case

__all__ = ["GATE_CASES"]


def _host(case_id: str, host: str, target: str = "/abs", method: str = "GET") -> Case:
    return Case(f"host-{case_id}", target, method=method, headers=(("Host", host),))


GATE_CASES: tuple[Case, ...] = (
    # RFC 3986 §3.2.2 and RFC 1035: refused before werkzeug binds a URL map (a 500 in Quart).
    _host("label-too-long", "a" * 64 + ".com", "/healthz"),
    _host("name-too-long", ".".join(["a" * 63] * 4) + ".com"),
    _host("with-space", "a b/c"),
    _host("with-quote", 'ev"il'),
    _host("empty-label", "a..b"),
    _host("ipvfuture", "[v1.x]"),
    _host("ipv6-zone", "[fe80::1%25eth0]"),
    _host("port-too-large", "localhost:65536"),
    _host("port-empty", "localhost:"),
    _host("port-text", "localhost:http"),
    _host("non-ascii", "bücher.example"),
    # Valid ones build their URLs, alike in both.
    _host("ipv6", "[::1]:8000"),
    _host("ipv4-port", "127.0.0.1:8000"),
    _host("trailing-dot", "example.com."),
    _host("label-63", "a" * 63 + ".com"),
    _host("refused-on-head", "a b", "/healthz", method="HEAD"),
    # RFC 9110 §9.3.7: the server-wide Allow.
    Case("options-asterisk", "*", method="OPTIONS"),
)
