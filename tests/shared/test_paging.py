"""Paging decisions (seed §2.8): query parsing, RFC 8288 links, page validators."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from shared.service.paging import (
    MAX_PAGE_SIZE,
    BadParameter,
    KeysetQuery,
    PageQuery,
    keyset_links,
    page_etag,
    page_links,
    parse_page_query,
)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ([], PageQuery(1, 20)),
        ([("page", "3"), ("size", "50")], PageQuery(3, 50)),
        ([("size", str(MAX_PAGE_SIZE))], PageQuery(1, MAX_PAGE_SIZE)),
        ([("after", "120"), ("size", "10")], KeysetQuery(120, 10)),
        ([("after", "0")], KeysetQuery(0, 20)),
        ([("sort", "name"), ("page", "2")], PageQuery(2, 20)),  # unknown parameters are ignored
    ],
)
def test_valid_queries(query: list[tuple[str, str]], expected: object) -> None:
    assert parse_page_query(query) == expected


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ([("page", "0")], "page"),
        ([("page", "-1")], "page"),
        ([("page", "abc")], "page"),
        ([("page", "")], "page"),
        ([("page", "1.5")], "page"),
        ([("page", " 2")], "page"),
        ([("page", "٣")], "page"),  # an Arabic-Indic digit: int() would take it
        ([("page", "9" * 40)], "page"),
        ([("size", "0")], "size"),
        ([("size", "-5")], "size"),
        ([("size", "x")], "size"),
        ([("size", str(MAX_PAGE_SIZE + 1))], "size"),
        ([("after", "-1")], "after"),
        ([("after", "1"), ("page", "2")], "page"),
        ([("page", "1"), ("page", "2")], "page"),
    ],
)
def test_bad_queries_name_the_parameter(query: list[tuple[str, str]], name: str) -> None:
    outcome = parse_page_query(query)
    assert isinstance(outcome, BadParameter)
    assert outcome.name == name
    assert f"'{name}'" in outcome.detail


@given(st.lists(st.tuples(st.sampled_from(["page", "size", "after", "q"]), st.text(max_size=12)), max_size=5))
def test_any_query_gets_a_decision(query: list[tuple[str, str]]) -> None:
    outcome = parse_page_query(query)
    if isinstance(outcome, PageQuery):
        assert outcome.page >= 1 and 1 <= outcome.size <= MAX_PAGE_SIZE
    elif isinstance(outcome, KeysetQuery):
        assert outcome.after >= 0 and 1 <= outcome.size <= MAX_PAGE_SIZE


def url(page: int) -> str:
    return f"http://x/items?page={page}&size=10"


def rels(query: PageQuery, total: int) -> dict[str, str]:
    return {link.rel: link.target for link in page_links(query, total, url)}


def test_links_on_first_middle_last_and_beyond() -> None:
    assert rels(PageQuery(1, 10), 95) == {"first": url(1), "next": url(2), "last": url(10)}
    assert rels(PageQuery(5, 10), 95) == {"first": url(1), "prev": url(4), "next": url(6), "last": url(10)}
    assert rels(PageQuery(10, 10), 95) == {"first": url(1), "prev": url(9), "last": url(10)}
    assert rels(PageQuery(30, 10), 95) == {"first": url(1), "prev": url(10), "last": url(10)}
    assert rels(PageQuery(1, 10), 0) == {"first": url(1), "last": url(1)}


def test_keyset_links_follow_the_last_id_of_a_full_page() -> None:
    after = lambda cursor: f"http://x/items?after={cursor}&size=3"  # noqa: E731
    assert {link.rel: link.target for link in keyset_links(KeysetQuery(0, 3), [1, 2, 3], after)} == {
        "first": after(0),
        "next": after(3),
    }
    assert {link.rel for link in keyset_links(KeysetQuery(3, 3), [4, 5], after)} == {"first"}


def test_page_etag_changes_with_any_version_and_the_total() -> None:
    query = PageQuery(1, 3)
    base = page_etag("items", query, [(1, 1), (2, 1), (3, 1)], 100)
    assert base == page_etag("items", query, [(1, 1), (2, 1), (3, 1)], 100)
    assert base != page_etag("items", query, [(1, 1), (2, 2), (3, 1)], 100)
    assert base != page_etag("items", query, [(1, 1), (2, 1), (3, 1)], 101)
    assert base != page_etag("items", PageQuery(1, 4), [(1, 1), (2, 1), (3, 1)], 100)
    assert not base.weak
