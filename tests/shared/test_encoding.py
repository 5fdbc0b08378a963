"""Content coding (RFC 9110 §12.5.3, §8.4, §8.8.3): negotiation, deterministic bytes, and a coded
representation's own validator through the shared conditional logic."""

from __future__ import annotations

import gzip
import hashlib
import random
from datetime import UTC, datetime

import brotli  # type: ignore[import-untyped]
import pytest
from hypothesis import given, strategies as st

from shared.protocol.conditional import Validators
from shared.protocol.encoding import coded_etag, encode_body, negotiate_encoding, plan_encoded
from shared.protocol.etag import EntityTag
from shared.protocol.representation import Representation, plan_representation

NOW = datetime(2026, 1, 1, tzinfo=UTC)
TAG = EntityTag.from_version("item", 42, "v3")
# Compressible like a page of items: well above the 1 KiB threshold.
BODY = b'{"items":[' + b",".join(b'{"id":%d,"name":"Item %d"}' % (i, i) for i in range(1, 101)) + b"]}\n"


def identity_of(body: bytes, etag: EntityTag | None = TAG, headers: tuple[tuple[str, str], ...] = ()) -> Representation:
    return Representation(
        len(body),
        "application/json",
        Validators(etag),
        (("Cache-Control", "public, max-age=60"), *headers),
        accept_ranges=False,
    )


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        # The five examples of RFC 9110 §12.5.3.
        ("compress, gzip", "gzip"),
        ("", None),
        ("*", "br"),
        ("compress;q=0.5, gzip;q=1.0", "gzip"),
        ("gzip;q=1.0, identity; q=0.5, *;q=0", "gzip"),
        # No field: identity, although §12.5.3 would allow any coding.
        (None, None),
        # What browsers send; equal weights go to the server's preference.
        ("gzip, deflate, br, zstd", "br"),
        ("gzip;q=0.5, br;q=0.5", "br"),
        ("br;q=0.5, gzip", "gzip"),
        # Case-insensitive codings and "q" (§8.4.1, RFC 5234 §2.3); x-gzip is gzip (§8.4.1.3).
        ("GZIP", "gzip"),
        ("Gzip;Q=0.8", "gzip"),
        ("x-gzip", "gzip"),
        # Refusals: q=0 excludes; "*" covers only what is not listed.
        ("gzip;q=0", None),
        ("*;q=0", None),
        ("br;q=0, *", "gzip"),
        ("*;q=0.5, gzip", "gzip"),
        # Identity competes when weighed; a tie goes to the coding, an unlisted identity loses.
        ("identity", None),
        ("gzip;q=0.5, identity;q=0.8", None),
        ("gzip, identity", "gzip"),
        ("identity;q=0, gzip;q=0.1", "gzip"),
        ("identity;q=0", None),  # nothing acceptable at all: the field is disregarded (§12.1)
        # Malformed members are skipped, never guessed at.
        ("gzip;q=abc, br", "br"),
        ("gzip;q=1.5", None),
        ("gzip;q=1.0001", None),
        ("gzip;q=0.0001", None),
        ("gzip;q=-1", None),
        ("gzip;q = 0.5", None),
        ("gzip;level=9", None),
        ('"gzip"', None),
        # The grammar's edges: OWS around ";", empty list elements (§5.6.1.2), three decimals.
        ("gzip ; q=0.5", "gzip"),
        (" , gzip ,, ", "gzip"),
        ("gzip;q=0.001", "gzip"),
        ("gzip;q=1.000", "gzip"),
        # A coding listed twice: its first weight counts.
        ("gzip;q=0, gzip", None),
    ],
)
def test_negotiation_table(header: str | None, expected: str | None) -> None:
    assert negotiate_encoding(header).coding == expected


def test_only_available_codings_are_chosen_in_the_servers_order() -> None:
    assert negotiate_encoding("br, gzip", available=("gzip",)).coding == "gzip"
    assert negotiate_encoding("br", available=("gzip",)).coding is None
    assert negotiate_encoding("br, gzip", available=("gzip", "br")).coding == "gzip"


@given(st.text())
def test_negotiation_never_raises_and_picks_an_available_coding(header: str) -> None:
    assert negotiate_encoding(header).coding in ("br", "gzip", None)


@given(st.text(st.characters(max_codepoint=0x7F)))
def test_negotiation_ignores_case(header: str) -> None:
    assert negotiate_encoding(header.upper()) == negotiate_encoding(header.lower())


members = st.lists(
    st.tuples(
        st.sampled_from(["br", "gzip", "deflate", "zstd", "identity", "*"]),
        st.none() | st.sampled_from(["0", "0.2", "0.5", "0.999", "1"]),
    ),
    unique_by=lambda member: member[0],
    max_size=6,
)


@given(members, st.randoms())
def test_the_order_of_distinct_members_does_not_matter(
    listed: list[tuple[str, str | None]], shuffler: random.Random
) -> None:
    def render(items: list[tuple[str, str | None]]) -> str:
        return ", ".join(coding if q is None else f"{coding};q={q}" for coding, q in items)

    shuffled = list(listed)
    shuffler.shuffle(shuffled)
    assert negotiate_encoding(render(shuffled)) == negotiate_encoding(render(listed))


@given(members)
def test_an_explicit_refusal_is_respected(listed: list[tuple[str, str | None]]) -> None:
    header = ", ".join(coding if q is None else f"{coding};q={q}" for coding, q in listed)
    chosen = negotiate_encoding(header)
    assert chosen is None or (chosen, "0") not in listed


@given(st.binary(max_size=5000), st.sampled_from(["gzip", "br"]))
def test_encoding_round_trips_and_is_deterministic(body: bytes, coding: str) -> None:
    encoded = encode_body(body, coding)
    decompress = gzip.decompress if coding == "gzip" else brotli.decompress
    assert decompress(encoded) == body
    assert encode_body(body, coding) == encoded


def test_gzip_carries_no_timestamp() -> None:
    # RFC 1952 §2.3.1: MTIME is bytes 4..7; zero means "no time stamp".
    assert encode_body(BODY, "gzip")[4:8] == b"\x00\x00\x00\x00"


def test_unknown_coding_cannot_be_encoded() -> None:
    with pytest.raises(ValueError, match="zstd"):
        encode_body(BODY, "zstd")


opaque_tags = st.builds(
    EntityTag, st.text(st.characters(min_codepoint=0x23, max_codepoint=0x7E), max_size=30), st.booleans()
)


@given(opaque_tags)
def test_each_coding_has_its_own_tag_that_never_matches_another(tag: EntityTag) -> None:
    tags = [coded_etag(tag, coding) for coding in (None, "gzip", "br")]
    assert tags[0] == tag
    # If-None-Match compares weakly (§13.1.2): the tags must differ even then.
    assert not any(first.weak_match(second) for index, first in enumerate(tags) for second in tags[index + 1 :])
    assert [coded_etag(tag, coding) for coding in (None, "gzip", "br")] == tags  # stable


def test_coded_tags_are_readable_and_keep_weakness() -> None:
    assert coded_etag(TAG, "gzip").to_header() == '"item-42-v3-gzip"'
    assert coded_etag(TAG, "br").to_header() == '"item-42-v3-br"'
    assert coded_etag(EntityTag("x", weak=True), "gzip").to_header() == 'W/"x-gzip"'


def test_a_coded_representation_has_its_bytes_tag_and_headers() -> None:
    encoded = plan_encoded(BODY, identity_of(BODY, headers=(("Vary", "Authorization"),)), "gzip, deflate")
    assert encoded.coding == "gzip"
    assert gzip.decompress(encoded.body) == BODY
    assert encoded.etag == EntityTag("item-42-v3-gzip")
    representation = encoded.representation
    assert representation.size == len(encoded.body) < len(BODY)
    assert representation.headers == (
        ("Content-Encoding", "gzip"),
        ("Cache-Control", "public, max-age=60"),
        ("Vary", "Authorization, Accept-Encoding"),
    )
    assert representation.accept_ranges is False


def test_brotli_when_accepted() -> None:
    encoded = plan_encoded(BODY, identity_of(BODY), "gzip, br")
    assert (encoded.coding, encoded.etag) == ("br", EntityTag("item-42-v3-br"))
    assert brotli.decompress(encoded.body) == BODY


@pytest.mark.parametrize(
    ("body", "header", "why"),
    [
        (BODY, None, "the client did not ask"),
        (BODY, "identity", "the client prefers identity"),
        (b'{"id":42}\n', "gzip", "below the threshold"),
        (hashlib.shake_256(b"noise").digest(4000), "gzip, br", "coding would not make it smaller"),
    ],
)
def test_uncoded_answers_keep_the_identity_tag_and_still_vary(body: bytes, header: str | None, why: str) -> None:
    encoded = plan_encoded(body, identity_of(body), header)
    assert (encoded.coding, encoded.body, encoded.etag) == (None, body, TAG), why
    assert dict(encoded.representation.headers) == {"Cache-Control": "public, max-age=60", "Vary": "Accept-Encoding"}


def test_a_refused_identity_is_coded_whatever_the_size() -> None:
    small = b'{"id":42}\n'
    encoded = plan_encoded(small, identity_of(small), "identity;q=0, gzip")
    assert encoded.coding == "gzip"
    assert gzip.decompress(encoded.body) == small


def test_threshold_is_inclusive() -> None:
    body = BODY[:1024]
    assert plan_encoded(body, identity_of(body), "gzip", min_size=1024).coding == "gzip"
    assert plan_encoded(body, identity_of(body), "gzip", min_size=1025).coding is None


def test_without_an_etag_only_the_coding_changes() -> None:
    modified = datetime(2025, 10, 1, 12, 0, tzinfo=UTC)
    identity = Representation(len(BODY), "application/json", Validators(None, modified))
    encoded = plan_encoded(BODY, identity, "gzip")
    assert encoded.representation.validators == Validators(None, modified)
    assert encoded.etag is None


def test_the_identity_facts_must_describe_the_body() -> None:
    with pytest.raises(ValueError, match="bytes"):
        plan_encoded(BODY, identity_of(BODY[:-1]), "gzip")


def plan_for(accept_encoding: str | None, if_none_match: str | None) -> tuple[int, dict[str, str], bytes]:
    """What an adapter does: negotiate, plan the chosen representation, read its spans."""
    fields = [
        (name, value)
        for name, value in (("Accept-Encoding", accept_encoding), ("If-None-Match", if_none_match))
        if value is not None
    ]
    encoded = plan_encoded(BODY, identity_of(BODY), accept_encoding)
    plan = plan_representation("GET", fields, encoded.representation, now=NOW)
    body = b"".join(part if isinstance(part, bytes) else encoded.body[part.first : part.last + 1] for part in plan.body)
    return plan.status, dict(plan.headers), body


def test_the_gzip_tag_revalidates_the_gzip_representation_only() -> None:
    status, headers, body = plan_for("gzip", '"item-42-v3-gzip"')
    assert (status, body) == (304, b"")
    assert headers == {"ETag": '"item-42-v3-gzip"', "Cache-Control": "public, max-age=60", "Vary": "Accept-Encoding"}
    # The same tag from a client that now gets identity: another representation, so a 200.
    status, headers, body = plan_for(None, '"item-42-v3-gzip"')
    assert (status, headers["ETag"], body) == (200, '"item-42-v3"', BODY)


def test_the_identity_tag_revalidates_the_identity_representation_only() -> None:
    assert plan_for(None, '"item-42-v3"')[0] == 304
    status, headers, body = plan_for("gzip", '"item-42-v3"')
    assert (status, headers["Content-Encoding"], headers["ETag"]) == (200, "gzip", '"item-42-v3-gzip"')
    assert headers["Content-Length"] == str(len(body))
    assert gzip.decompress(body) == BODY


def test_a_cache_holding_several_variants_learns_which_one_is_current() -> None:
    # RFC 9111 §4.3.1: a cache sends the tags of all its stored variants; the 304's ETag picks one.
    status, headers, _ = plan_for("br, gzip", '"item-42-v3", "item-42-v3-gzip", "item-42-v3-br"')
    assert (status, headers["ETag"]) == (304, '"item-42-v3-br"')
