"""nginx as the reference for Range and conditional GET on a static file: request strategies,
the RFC-equivalent rewriting of a request for nginx, and the comparison of two answers.

nginx runs with ``if_modified_since before`` and ``max_ranges 64``. Where it departs from RFC 9110,
the request nginx gets is the one the RFC says is equivalent, one rewrite per departure
(``rfc_equivalent``):

1. ``bytes=0-9,``: nginx answers 416; §5.6.1.2 says empty list elements are ignored. An empty
   set (``bytes=``) is ignored entirely, as an unknown unit would be.
2. If-None-Match with If-Modified-Since: nginx wants both to match before a 304; §13.2.2 step 4
   says If-Modified-Since is not evaluated when If-None-Match is present.
3. If-Match with If-Unmodified-Since: nginx evaluates both; §13.2.2 step 2 evaluates
   If-Unmodified-Since only without If-Match.
4. An invalid If-Unmodified-Since: nginx answers 412; §13.1.4 says the field is ignored.
5. A range-spec whose last-pos is below its first-pos (``5-2``) is invalid (§14.1.1), and a set
   holding one is an invalid ranges-specifier, which §14.2 lets a server reject: twinport answers
   416 for the whole field. nginx skips just that spec and serves the others.
6. HEAD with Range: nginx answers 206; §14.2 defines Range for GET only. Only GET is compared.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from shared.protocol.dates import format_http_date, parse_http_date

__all__ = ["ETAG", "Answer", "differences", "render", "requests", "rfc_equivalent"]

# Header values name the resource's current tag as ETAG; ``render`` puts each server's own in.
ETAG = "{etag}"


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # lowercase names
    body: bytes


def render(headers: dict[str, str], etag: str) -> dict[str, str]:
    return {name: value.replace(ETAG, etag) for name, value in headers.items()}


def requests(size: int, modified: datetime) -> st.SearchStrategy[dict[str, str]]:
    """Any mix of Range, If-Range, If-None-Match, If-Modified-Since, If-Match, If-Unmodified-Since."""

    def date(delta: int) -> str:
        return format_http_date(modified + timedelta(seconds=delta))

    tag = st.sampled_from([ETAG, f"W/{ETAG}", '"other"', "*", f'"other", {ETAG}', "garbage"])
    dates = st.sampled_from([date(-1), date(0), date(1), "garbage"])
    return st.fixed_dictionaries(
        {},
        optional={
            "Range": _range_header(size),
            "If-Range": st.sampled_from([ETAG, f"W/{ETAG}", '"other"', date(0), date(1), "garbage"]),
            "If-None-Match": tag,
            "If-Modified-Since": dates,
            "If-Match": tag,
            "If-Unmodified-Since": dates,
        },
    )


def _range_header(size: int) -> st.SearchStrategy[str]:
    position = st.one_of(st.sampled_from([0, 1, size - 1, size, size + 1, 2 * size]), st.integers(0, 2 * size))
    spec = st.one_of(
        st.tuples(position, position).map(lambda pair: f"{pair[0]}-{pair[1]}"),
        position.map(lambda first: f"{first}-"),
        position.map(lambda length: f"-{length}"),
        st.sampled_from(["x", "-", "1-2-3", ""]),
    )
    separator = st.sampled_from([",", ", ", ",,", " , "])
    listed = st.tuples(st.lists(spec, min_size=1, max_size=5), separator).map(
        lambda pair: "bytes=" + pair[1].join(pair[0])
    )
    return st.one_of(listed, st.sampled_from(["items=0-1", "bytes=", "bytes=0-9,", "nonsense", "Bytes=0-0"]))


def rfc_equivalent(headers: dict[str, str]) -> dict[str, str]:
    """The request nginx should get so that its answer is the RFC's answer (see module doc)."""
    rewritten = dict(headers)
    if "Range" in rewritten:
        unit, _, ranges = rewritten["Range"].partition("=")
        elements = [element.strip() for element in ranges.split(",") if element.strip()]
        if unit.lower() == "bytes" and not elements:
            del rewritten["Range"]
        elif unit.lower() == "bytes" and any(_backwards(element) for element in elements):
            rewritten["Range"] = "bytes=x"  # a field nginx rejects with 416, as twinport does
        elif unit.lower() == "bytes":
            rewritten["Range"] = f"{unit}={','.join(elements)}"
    if "If-None-Match" in rewritten:
        rewritten.pop("If-Modified-Since", None)
    if "If-Match" in rewritten:
        rewritten.pop("If-Unmodified-Since", None)
    if (
        "If-Unmodified-Since" in rewritten
        and parse_http_date(rewritten["If-Unmodified-Since"], now=datetime.now(UTC)) is None
    ):
        del rewritten["If-Unmodified-Since"]
    return rewritten


def _backwards(element: str) -> bool:
    first, dash, last = element.partition("-")
    return bool(dash and first.isdigit() and last.isdigit() and int(last) < int(first))


def differences(ours: Answer, reference: Answer) -> list[str]:
    """Where our answer departs from nginx's in status, Content-Range, Content-Length or bytes.
    Multipart bodies are compared part by part (boundaries differ, and so lengths do)."""
    found: list[str] = []
    if ours.status != reference.status:
        return [f"status {ours.status} != nginx {reference.status}"]
    if ours.status in (200, 206):
        if ours.headers.get("content-range") != reference.headers.get("content-range"):
            found.append(
                f"Content-Range {ours.headers.get('content-range')} != nginx {reference.headers.get('content-range')}"
            )
        if ours.headers.get("content-length") != str(len(ours.body)):
            found.append("our Content-Length is not our body's length")
        if reference.headers.get("content-type", "").startswith("multipart/byteranges"):
            if multipart_parts(ours.headers.get("content-type", ""), ours.body) != multipart_parts(
                reference.headers["content-type"], reference.body
            ):
                found.append("multipart parts differ")
        else:
            if ours.headers.get("content-length") != reference.headers.get("content-length"):
                found.append(
                    f"Content-Length {ours.headers.get('content-length')} "
                    f"!= nginx {reference.headers.get('content-length')}"
                )
            if ours.body != reference.body:
                found.append("body differs")
    if ours.status == 416 and ours.headers.get("content-range") != reference.headers.get("content-range"):
        found.append(
            f"416 Content-Range {ours.headers.get('content-range')} != nginx {reference.headers.get('content-range')}"
        )
    return found


def multipart_parts(content_type: str, body: bytes) -> list[tuple[str, bytes]]:
    """(Content-Range, bytes) of each part of a multipart/byteranges body."""
    boundary = re.search(r"boundary=([^;\s]+)", content_type)
    if boundary is None:
        return [("(not multipart)", body)]
    delimiter = b"--" + boundary.group(1).encode()
    found = []
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, data = chunk.lstrip(b"\r\n").partition(b"\r\n\r\n")
        content_range = re.search(rb"Content-Range: ([^\r\n]+)", head)
        found.append(
            (
                content_range.group(1).decode() if content_range else "(none)",
                data[:-2] if data.endswith(b"\r\n") else data,
            )
        )
    return found
