"""Entity tags (RFC 9110 §8.8.3): making, parsing lists, strong and weak comparison."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from shared.protocol.etag import ANY, EntityTag, parse_tag_condition

opaque = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, blacklist_characters='"'), max_size=20)
tags = st.builds(EntityTag, opaque, st.booleans())


def test_from_version_is_strong_quoted_and_readable() -> None:
    tag = EntityTag.from_version("item", 42, "v3")
    assert tag.to_header() == '"item-42-v3"'
    assert not tag.weak


def test_from_version_hashes_what_cannot_be_read_and_changes_with_the_version() -> None:
    first, second = EntityTag.from_version("보고서.pdf", 1), EntityTag.from_version("보고서.pdf", 2)
    assert first != second
    assert first.opaque.isascii() and first.opaque.isalnum()
    assert EntityTag.from_version("보고서.pdf", 1) == first  # stable across calls and processes


def test_seed_style_unquoted_tags_are_not_entity_tags() -> None:
    assert EntityTag.parse("d41d8cd98f00b204e9800998ecf8427e") is None
    assert parse_tag_condition("d41d8cd98f00b204e9800998ecf8427e") == ()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("*", ANY),
        (' "a" ', (EntityTag("a"),)),
        ('"a", W/"b"', (EntityTag("a"), EntityTag("b", weak=True))),
        ('"a,b"', (EntityTag("a,b"),)),  # a comma inside the quotes is part of the tag
        (',, "a" ,,', (EntityTag("a"),)),  # §5.6.1.2: empty elements are ignored
        ('"a", garbage, "b"', (EntityTag("a"), EntityTag("b"))),
        ('"a" "b"', ()),  # two tags without a comma: one malformed element
        ('w/"a"', ()),  # the weak prefix is case-sensitive: %s"W/"
        ('*, "a"', (EntityTag("a"),)),  # "*" only stands alone
        ("", ()),
    ],
)
def test_parse_tag_condition(value: str, expected: object) -> None:
    assert parse_tag_condition(value) == expected


def test_comparison_table_of_rfc_9110_section_8_8_3_2() -> None:
    # The four rows of the RFC's example table.
    w1, w2, s1 = EntityTag("1", weak=True), EntityTag("2", weak=True), EntityTag("1")
    assert (w1.strong_match(w1), w1.weak_match(w1)) == (False, True)
    assert (w1.strong_match(w2), w1.weak_match(w2)) == (False, False)
    assert (w1.strong_match(s1), w1.weak_match(s1)) == (False, True)
    assert (s1.strong_match(s1), s1.weak_match(s1)) == (True, True)


@given(st.lists(tags, max_size=6), st.sampled_from([",", ", ", " ,", ",,", "\t,\t"]))
def test_a_list_of_tags_parses_back_to_itself(values: list[EntityTag], separator: str) -> None:
    header = separator.join(tag.to_header() for tag in values)
    assert parse_tag_condition(header) == tuple(values)


@given(tags, tags)
def test_strong_match_implies_weak_match_and_both_are_symmetric(a: EntityTag, b: EntityTag) -> None:
    assert a.strong_match(b) == b.strong_match(a)
    assert a.weak_match(b) == b.weak_match(a)
    if a.strong_match(b):
        assert a.weak_match(b)


@given(st.text(max_size=40))
def test_parsing_never_fails_and_only_returns_valid_tags(value: str) -> None:
    condition = parse_tag_condition(value)
    if condition is not ANY:
        assert isinstance(condition, tuple)
        for tag in condition:
            assert tag.to_header() in value


def test_invalid_opaque_is_rejected() -> None:
    with pytest.raises(ValueError):
        EntityTag('a"b')
