"""Whole response plans for a representation: the headers of 200, 206, 304, 412 and 416."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, strategies as st

from shared.protocol.conditional import Validators
from shared.protocol.etag import EntityTag
from shared.protocol.representation import Representation, allow_header, plan_representation

MODIFIED = datetime(2025, 10, 1, 12, 0, tzinfo=UTC)
NOW = datetime(2026, 1, 1, tzinfo=UTC)
REPRESENTATION = Representation(
    1000,
    "video/mp4",
    Validators(EntityTag.from_version("sample", 7), MODIFIED),
    headers=(
        ("Cache-Control", "public, max-age=60"),
        ("Vary", "Accept-Encoding"),
        ("Content-Disposition", "inline"),
        ("Expires", "x"),
    ),
)


def plan(*fields: tuple[str, str], method: str = "GET", representation: Representation = REPRESENTATION):  # type: ignore[no-untyped-def]
    return plan_representation(method, fields, representation, now=NOW)


def test_200_carries_validators_type_length_and_accept_ranges() -> None:
    result = plan()
    assert result.status == 200
    assert dict(result.headers) == {
        "Content-Type": "video/mp4",
        "Content-Length": "1000",
        "ETag": '"sample-7"',
        "Last-Modified": "Wed, 01 Oct 2025 12:00:00 GMT",
        "Accept-Ranges": "bytes",
        "Cache-Control": "public, max-age=60",
        "Vary": "Accept-Encoding",
        "Content-Disposition": "inline",
        "Expires": "x",
    }


def test_304_carries_exactly_what_rfc_9110_section_15_4_5_lists_and_no_body() -> None:
    result = plan(("If-None-Match", '"sample-7"'))
    assert result.status == 304
    assert result.body == ()
    assert [name for name, _ in result.headers] == ["ETag", "Cache-Control", "Vary", "Expires"]


def test_412_and_416_are_problem_documents() -> None:
    failed = plan(("If-Match", '"other"'))
    assert (failed.status, failed.header("Content-Type")) == (412, "application/problem+json")
    unsatisfiable = plan(("Range", "bytes=5000-"))
    assert (unsatisfiable.status, unsatisfiable.header("Content-Range")) == (416, "bytes */1000")
    malformed = plan(("Range", "bytes=9-1"))
    assert (malformed.status, malformed.header("Content-Range")) == (416, "bytes */1000")


def test_single_range_is_a_plain_206() -> None:
    result = plan(("Range", "bytes=-100"))
    assert (result.status, result.header("Content-Range"), result.header("Content-Length")) == (
        206,
        "bytes 900-999/1000",
        "100",
    )
    assert result.header("Content-Type") == "video/mp4"


def test_multipart_boundary_is_deterministic_per_representation_and_changes_with_it() -> None:
    first = plan(("Range", "bytes=0-9,20-29"))
    again = plan(("Range", "bytes=0-9,20-29"))
    changed = plan(
        ("Range", "bytes=0-9,20-29"),
        representation=Representation(1000, "video/mp4", Validators(EntityTag.from_version("sample", 8), MODIFIED)),
    )
    assert first == again
    assert first.header("Content-Type") != changed.header("Content-Type")
    assert (first.header("Content-Type") or "").startswith("multipart/byteranges; boundary=twinport-")


def test_head_has_get_headers_and_no_body() -> None:
    get, head = plan(), plan(method="HEAD").for_method("HEAD")
    assert head.headers == get.headers and head.body == ()
    # HEAD ignores Range (§14.2): the same headers as a plain GET.
    assert plan(("Range", "bytes=0-9"), method="HEAD").for_method("HEAD").headers == get.headers


def test_allow_is_in_a_fixed_order() -> None:
    assert allow_header({"OPTIONS", "head", "GET", "BREW", "POST"}) == "GET, HEAD, POST, OPTIONS, BREW"


@given(st.text(max_size=40), st.text(max_size=40), st.text(max_size=40))
def test_content_length_always_matches_the_planned_body(range_value: str, if_range: str, inm: str) -> None:
    result = plan(("Range", range_value), ("If-Range", if_range), ("If-None-Match", inm))
    if result.status in (200, 206):
        length = sum(part.length if not isinstance(part, bytes) else len(part) for part in result.body)
        assert result.header("Content-Length") == str(length)
    assert result.status in (200, 206, 304, 412, 416)
