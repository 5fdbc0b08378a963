"""Issue 8, "Done when": thousands of generated header mixes to each real server, and never a
5xx, a hang, or a connection dropped without an answer.

Each example is one request: a quick route (files, video, items, docs, the API and its paging,
``url_for`` pages, health; not the endless streams), GET or HEAD, and any mix of Range, the five
conditional fields with valid and hostile dates and tags, Accept-Encoding, Host (valid, labels
over 63, names over 253, characters no authority may hold), X-Forwarded-For/-Proto/-Host
(believed: one trusted hop), Last-Event-ID and Authorization (``api_tokens`` is set, so it
decides /api/v1). The servers are one module-scoped pair with the rate limit lifted.

Requests go over one keep-alive ``http.client`` connection per runtime, so 2,000 examples take
seconds. A send or read that fails on a reused connection is tried once more on a new one (the
server may have closed an idle or a ``Connection: close`` connection, as it may); failing on a
new connection is a drop. Hypothesis runs derandomized and without its database, so CI sees the
same inputs on every run.
"""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from parity_tests.servers import Serving, free_port, running_server
from shared.protocol.dates import format_http_date

TOKEN = "fuzz-token-1"
EXAMPLES = 2_000
TIMEOUT = 10.0
SETTINGS = {
    "trusted_proxy_hops": 1,
    "api_tokens": f"{TOKEN},fuzz-token-2",
    "rate_limit": 100_000.0,
    "rate_burst": 100_000,
    "publish_rate": 100_000.0,
    "publish_burst": 100_000,
}

ROUTES = st.one_of(
    st.sampled_from(
        [
            "/files/hello.txt",
            "/files/report.pdf",
            "/files/no-such-file.txt",
            "/video/sample.mp4",
            "/reports/pdf",
            "/docs/1",
            "/api",
            "/api/v1/items/1",
            "/api/v2/items/1",
            "/abs",
            "/links",
            "/healthz",
        ]
    ),
    st.integers(-1, 10_050).map(lambda n: f"/items/{n}"),
    st.integers(0, 200).map(lambda n: f"/docs/{n}"),
    st.integers(0, 10_050).map(lambda n: f"/api/v2/items/{n}"),
    st.tuples(st.integers(-1, 3000), st.integers(-1, 101)).map(
        lambda pair: f"/api/v1/items?page={pair[0]}&size={pair[1]}"
    ),
    st.tuples(st.integers(-1, 10_050), st.integers(0, 101)).map(
        lambda pair: f"/api/v1/items?after={pair[0]}&size={pair[1]}"
    ),
)

# Header values http.client can send: latin-1, no CR or LF (a field cannot hold them at all).
_LATIN1 = st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f") | st.sampled_from(
    ["\t", "\x00", "\x7f"]
)
GARBAGE = st.text(_LATIN1, max_size=40)
BIG = st.sampled_from([2**31 - 1, 2**31, 2**32, 2**63 - 1, 2**63, 2**64, 10**30]) | st.integers(0, 2**70)

_MOMENT = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC))
DATES = st.one_of(
    _MOMENT.map(format_http_date),
    st.just(format_http_date(datetime(2025, 10, 1, 12, tzinfo=UTC))),  # the samples' Last-Modified
    st.sampled_from(
        [
            "Fri, 31 Dec 9999 23:59:59 -0100",
            "Fri, 31 Dec 9999 23:59:59 GMT",
            "Mon, 01 Jan 0001 00:00:00 GMT",
            "Sat, 01 Jan 10000 00:00:00 GMT",
            "Fri, 32 Dec 2025 23:59:59 GMT",
            "Mon, 30 Feb 2026 00:00:00 GMT",
            "Wed, 31 Dec 2016 23:59:60 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "0",
            "-1",
            "",
        ]
    ),
    BIG.map(lambda n: f"Fri, 31 Dec {n} 23:59:59 GMT"),
    BIG.map(lambda n: f"Fri Dec 31 23:59:59 {n}"),
    BIG.map(lambda n: f"Friday, 31-Dec-{n} 23:59:59 GMT"),
    st.tuples(st.integers(0, 99), st.integers(0, 99), st.integers(-9999, 9999)).map(
        lambda parts: f"Fri, {parts[0]:02d} Dec 2025 {parts[1]:02d}:00:00 {parts[2]:+05d}"
    ),
    BIG.map(str),
    GARBAGE,
)
_OPAQUE = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters='"'), max_size=20)
_TAG = st.one_of(
    _OPAQUE.map(lambda opaque: f'"{opaque}"'),
    _OPAQUE.map(lambda opaque: f'W/"{opaque}"'),
    st.sampled_from(['"hello.txt-1-2"', '"item-1-v2"', '"', 'W/"', "W/", '""', "*"]),
    GARBAGE,
)
TAGS = st.one_of(_TAG, st.lists(_TAG, min_size=2, max_size=5).map(", ".join), st.just("*"))
_POSITION = st.one_of(st.integers(0, 2000), BIG, st.just(""))
_SPEC = st.one_of(
    st.tuples(_POSITION, _POSITION).map(lambda pair: f"{pair[0]}-{pair[1]}"),
    _POSITION.map(lambda n: f"-{n}"),
    st.sampled_from(["x", "-", "1-2-3", "", " 0 - 1 ", "-0"]),
)
RANGES = st.one_of(
    st.lists(_SPEC, min_size=1, max_size=80).map(lambda specs: "bytes=" + ",".join(specs)),
    st.sampled_from(["bytes=0-0", "bytes=-1", "bytes=0-", "items=0-1", "bytes=", "Bytes=0-3", "bytes = 0-3"]),
    GARBAGE,
)
_Q = st.one_of(st.sampled_from(["1", "0", "0.5", "0.001", "1.000", "1.0001", "2", "-1", "1e400", "nan", ""]), GARBAGE)
_CODING = st.sampled_from(["gzip", "br", "deflate", "identity", "*", "x-gzip", "compress", "GZIP"])
ACCEPT_ENCODINGS = st.one_of(
    st.lists(st.tuples(_CODING, st.none() | _Q), max_size=6).map(
        lambda items: ", ".join(coding if q is None else f"{coding};q={q}" for coding, q in items)
    ),
    GARBAGE,
)
_LABEL = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)
HOSTS = st.one_of(
    st.sampled_from(
        ["localhost", "127.0.0.1", "example.com", "example.com:8080", "[::1]", "[::1]:8000", "EXAMPLE.com."]
    ),
    st.lists(_LABEL, min_size=1, max_size=4).map(".".join),
    st.integers(63, 300).map(lambda n: "a" * n + ".com"),  # labels of 63 (allowed) and over
    st.integers(1, 70).map(lambda n: ".".join(["abc"] * n)),  # names up to 279 characters
    st.sampled_from(
        [
            "a b/c",
            'ev"il',
            "host:99999",
            "host:abc",
            "host:",
            ":80",
            "[::1",
            "[zz]",
            "a..b",
            "-a.com",
            "exämple.com",
            "a/b",
            "a?b",
            "a#b",
            "a@b",
            "a\\b",
        ]
    ),
    GARBAGE,
)
FORWARDED_FOR = st.one_of(
    st.lists(
        st.sampled_from(["203.0.113.7", "2001:db8::1", "unknown", "_hidden", "999.1.1.1", ""]), min_size=1, max_size=4
    ).map(", ".join),
    GARBAGE,
)
FORWARDED_PROTO = st.one_of(
    st.sampled_from(["http", "https", "HTTPS", "ftp", "https, http", "", "javascript"]), GARBAGE
)
LAST_EVENT_IDS = st.one_of(BIG.map(str), st.sampled_from(["0", "-1", "3", "boot-3", "", "1" * 300]), GARBAGE)
AUTHORIZATIONS = st.one_of(
    st.sampled_from(
        [
            f"Bearer {TOKEN}",
            "Bearer fuzz-token-2",
            "Bearer wrong",
            "Bearer",
            "Bearer ",
            f"bearer {TOKEN}",
            f"Bearer  {TOKEN}",
            "Basic Zm9vOmJhcg==",
            f"Bearer {TOKEN}x",
        ]
    ),
    GARBAGE.map(lambda text: f"Bearer {text}"),
    GARBAGE,
)

HEADER_MIXES = st.fixed_dictionaries(
    {},
    optional={
        "Range": RANGES,
        "If-Match": TAGS,
        "If-None-Match": TAGS,
        "If-Modified-Since": DATES,
        "If-Unmodified-Since": DATES,
        "If-Range": st.one_of(DATES, TAGS),
        "Accept-Encoding": ACCEPT_ENCODINGS,
        "Host": HOSTS,
        "X-Forwarded-For": FORWARDED_FOR,
        "X-Forwarded-Proto": FORWARDED_PROTO,
        "X-Forwarded-Host": HOSTS,
        "Last-Event-ID": LAST_EVENT_IDS,
        "Authorization": AUTHORIZATIONS,
    },
)


@dataclass(frozen=True, slots=True)
class Answered:
    status: int


@dataclass(frozen=True, slots=True)
class Dropped:
    """The server closed (or reset) a new connection without a status line, or never answered."""

    error: str


class KeepAliveClient:
    """One persistent connection; a request that fails on a reused connection is sent once more
    on a new one, since a server may close an idle connection at any time (RFC 9112 §9.5)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.connection: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def send(self, method: str, target: str, headers: dict[str, str]) -> Answered | Dropped:
        reused = self.connection is not None
        outcome = self._attempt(method, target, headers)
        if isinstance(outcome, Dropped) and reused:
            outcome = self._attempt(method, target, headers)
        return outcome

    def _attempt(self, method: str, target: str, headers: dict[str, str]) -> Answered | Dropped:
        if self.connection is None:
            self.connection = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT)
        connection = self.connection
        try:
            connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            connection.putheader("Host", headers.get("Host", "localhost"))
            for name, value in headers.items():
                if name != "Host":
                    connection.putheader(name, value)
            connection.endheaders()
            response = connection.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as error:  # socket.timeout is an OSError
            self.close()
            return Dropped(f"{type(error).__name__}: {error}")
        if response.will_close:
            self.close()
        return Answered(response.status)


@pytest.fixture(scope="session")
def fuzz_server(serving: Serving) -> Iterator[tuple[str, int]]:
    with running_server(serving.runtime, SETTINGS, serving) as server:
        yield server.host, server.port


@pytest.fixture
def keep_alive(fuzz_server: tuple[str, int]) -> Iterator[KeepAliveClient]:
    client = KeepAliveClient(*fuzz_server)
    try:
        yield client
    finally:
        client.close()


def test_the_fuzz_client_sees_a_drop(keep_alive: KeepAliveClient) -> None:
    """The check below has teeth: no answer is a Dropped (here: nothing listens on the port)."""
    nobody = KeepAliveClient("127.0.0.1", free_port())
    try:
        assert isinstance(nobody.send("GET", "/healthz", {}), Dropped)
    finally:
        nobody.close()
    assert keep_alive.send("GET", "/healthz", {}) == Answered(200)


@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(method=st.sampled_from(["GET", "GET", "GET", "HEAD"]), target=ROUTES, headers=HEADER_MIXES)
def test_no_header_mix_gets_a_5xx_or_a_dropped_connection(
    keep_alive: KeepAliveClient, method: str, target: str, headers: dict[str, str]
) -> None:
    outcome = keep_alive.send(method, target, headers)
    assert isinstance(outcome, Answered), f"{method} {target} {headers!r}: {outcome}"
    assert outcome.status < 500, f"{method} {target} {headers!r}: {outcome.status}"
