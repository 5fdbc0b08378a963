"""Link header values: exact pagination strings, and a small independent parser as the reference."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from shared.protocol.link import Link, format_link_header

ParsedLink = tuple[str, str, tuple[tuple[str, str], ...]]


def split_outside(text: str, separator: str) -> list[str]:
    """Split on ``separator`` where it is neither inside ``<...>`` nor inside a quoted-string."""
    parts, current = [], ""
    in_angle = in_quote = escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif in_quote and char == "\\":
            escaped = True
        elif char == '"' and not in_angle:
            in_quote = not in_quote
        elif char in "<>" and not in_quote:
            in_angle = char == "<"
        elif char == separator and not in_angle and not in_quote:
            parts.append(current)
            current = ""
            continue
        current += char
    return [*parts, current]


def unquote(value: str) -> str:
    assert value.startswith('"') and value.endswith('"'), value
    result, escaped = "", False
    for char in value[1:-1]:
        if not escaped and char == "\\":
            escaped = True
            continue
        result, escaped = result + char, False
    return result


def parse_link_header(header: str) -> list[ParsedLink]:
    """RFC 8288 §3 read back: link-value *( OWS "," OWS link-value ), each <target> *( ";" param )."""
    links = []
    for link_value in split_outside(header, ","):
        target_part, *param_parts = split_outside(link_value.strip(" "), ";")
        assert target_part.startswith("<") and target_part.endswith(">"), target_part
        params = [tuple(part.strip(" ").split("=", 1)) for part in param_parts]
        (rel_name, rel_value), *others = params
        assert rel_name == "rel"
        links.append((target_part[1:-1], unquote(rel_value), tuple((n, unquote(v)) for n, v in others)))
    return links


def test_pagination_links() -> None:
    base = "https://api.example.com/items?per_page=20&page="
    links = [Link(base + "1", "first"), Link(base + "4", "prev"), Link(base + "6", "next"), Link(base + "9", "last")]
    assert format_link_header(links) == (
        '<https://api.example.com/items?per_page=20&page=1>; rel="first", '
        '<https://api.example.com/items?per_page=20&page=4>; rel="prev", '
        '<https://api.example.com/items?per_page=20&page=6>; rel="next", '
        '<https://api.example.com/items?per_page=20&page=9>; rel="last"'
    )


def test_params_follow_rel_and_are_escaped() -> None:
    link = Link("/items?page=2", "next last", (("title", 'say "hi" \\ ok'), ("type", "application/json")))
    assert link.to_value() == (
        '</items?page=2>; rel="next last"; title="say \\"hi\\" \\\\ ok"; type="application/json"'
    )


def test_extension_relation_type_is_an_absolute_uri() -> None:
    link = Link("/a%20b", "https://example.com/rels/item")
    assert link.to_value() == '</a%20b>; rel="https://example.com/rels/item"'


def test_no_links_means_no_header() -> None:
    assert format_link_header([]) is None
    assert format_link_header(link for link in [Link("/x", "self")]) == '</x>; rel="self"'


@pytest.mark.parametrize(
    "target", ["", "/a b", "/<x>", "/a>", "/a\r\nSet-Cookie: x=1", "/\x00", "/café", "/%zz", '/a"b', "/a\tb"]
)
def test_bad_target_is_refused(target: str) -> None:
    with pytest.raises(ValueError, match="target"):
        Link(target, "next")


@pytest.mark.parametrize(
    "rel", ["", " ", "Next", "next ", " next", "next\r\n", 'ne"xt', "next,prev", "foo/bar", "a\x7f", "9lives"]
)
def test_bad_rel_is_refused(rel: str) -> None:
    with pytest.raises(ValueError, match="rel"):
        Link("/x", rel)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("", "v", "token"),
        ("ti tle", "v", "token"),
        ("title;x", "v", "token"),
        ("ti\r\ntle", "v", "token"),
        ("rel", "prev", "rel"),
        ("REL", "prev", "rel"),
        ("title", "a\r\nb", "printable"),
        ("title", "a\tb", "printable"),
        ("title", "café", "printable"),
    ],
)
def test_bad_param_is_refused(name: str, value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Link("/x", "next", ((name, value),))


uri_reference = st.from_regex(r"(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})+", fullmatch=True)
relation_type = st.from_regex(r"[a-z][a-z0-9.\-]{0,10}", fullmatch=True) | st.from_regex(
    r"[a-z][a-z0-9+.\-]{0,5}:[A-Za-z0-9/.,;=]{1,12}", fullmatch=True
)
rel = st.lists(relation_type, min_size=1, max_size=3).map(" ".join)
token = st.from_regex(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,8}", fullmatch=True).filter(lambda n: n.lower() != "rel")
param_value = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12)
links = st.builds(Link, uri_reference, rel, st.lists(st.tuples(token, param_value), max_size=3).map(tuple))


@given(st.lists(links, max_size=4))
def test_reference_parser_recovers_the_links(generated: list[Link]) -> None:
    header = format_link_header(generated)
    if not generated:
        assert header is None
        return
    assert header is not None
    assert parse_link_header(header) == [(link.target, link.rel, link.params) for link in generated]


# Characters that are valid somewhere mixed with ones that must never get through.
risky_text = st.text(st.sampled_from('az09-./:%;,="\\<> \t\r\n\x00\x7fé') | st.characters(), max_size=10)


@given(risky_text, risky_text, risky_text, risky_text)
def test_arbitrary_input_never_yields_a_broken_header(target: str, rel: str, name: str, value: str) -> None:
    try:
        link = Link(target, rel, ((name, value),))
    except ValueError:
        return
    header = link.to_value()
    assert header.isascii()
    assert not set(header) & {"\r", "\n", "\x00"}
    assert parse_link_header(header) == [(target, rel, ((name, value),))]
