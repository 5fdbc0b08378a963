"""Content-Disposition: exact values for known names, and werkzeug's parser as the reference."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, strategies as st
from werkzeug.http import parse_options_header

from shared.protocol.disposition import content_disposition

any_name = st.text(st.characters(exclude_categories=["Cs"]), min_size=1)
# Printable ASCII without the characters the fallback must replace: sent as they are.
safe_ascii_name = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters='"\\%/'), min_size=1)


def expected_leaf(name: str) -> str:
    """The documented leaf-name rule: separators and C0/DEL controls become '_'."""
    return re.sub(r"[\x00-\x1f\x7f/\\]", "_", name)


def split_header(header: str) -> tuple[str, str | None]:
    """The header without filename*, and filename*'s encoded value (None when absent)."""
    if header.endswith('"'):  # the quoted fallback is last: no filename*
        return header, None
    # filename* comes last and percent-encodes ';' '=' and quotes, so its last marker is the real one.
    plain_part, _, extended = header.rpartition("; filename*=UTF-8''")
    return plain_part, extended


@pytest.mark.parametrize(
    ("filename", "attachment", "expected"),
    [
        ("export.csv", True, 'attachment; filename="export.csv"'),
        (None, False, "inline"),
        (None, True, "attachment"),
        ("photo.jpg", False, 'inline; filename="photo.jpg"'),
        (
            "보고서_2025Q4.pdf",
            True,
            "attachment; filename=\"_2025Q4.pdf\"; filename*=UTF-8''%EB%B3%B4%EA%B3%A0%EC%84%9C_2025Q4.pdf",
        ),
        ("보고서.pdf", True, "attachment; filename=\"download.pdf\"; filename*=UTF-8''%EB%B3%B4%EA%B3%A0%EC%84%9C.pdf"),
        ("보고서", True, "attachment; filename=\"download\"; filename*=UTF-8''%EB%B3%B4%EA%B3%A0%EC%84%9C"),
        (
            "보고서.한글",
            True,
            "attachment; filename=\"download\"; filename*=UTF-8''%EB%B3%B4%EA%B3%A0%EC%84%9C.%ED%95%9C%EA%B8%80",
        ),
        ("café.txt", True, "attachment; filename=\"cafe.txt\"; filename*=UTF-8''caf%C3%A9.txt"),
        ("100%.txt", True, "attachment; filename=\"100_.txt\"; filename*=UTF-8''100%25.txt"),
        ('say "hi".txt', True, "attachment; filename=\"say _hi_.txt\"; filename*=UTF-8''say%20%22hi%22.txt"),
        ("../etc/passwd", True, 'attachment; filename=".._etc_passwd"'),
        ("a\\b.txt", True, 'attachment; filename="a_b.txt"'),
        ("evil\r\nSet-Cookie: x=1", True, 'attachment; filename="evil__Set-Cookie: x=1"'),
        # NFKD turns the fullwidth solidus into "/", which must not reach the fallback either.
        (
            "ａ／ｂ.txt",  # noqa: RUF001 - fullwidth on purpose: NFKD folds them
            True,
            "attachment; filename=\"a_b.txt\"; filename*=UTF-8''%EF%BD%81%EF%BC%8F%EF%BD%82.txt",
        ),
        # attr-char punctuation stays as it is in filename*; other punctuation is percent-encoded.
        (
            "ü'()*,;=.txt",
            True,
            "attachment; filename=\"u'()*,;=.txt\"; filename*=UTF-8''%C3%BC%27%28%29%2A%2C%3B%3D.txt",
        ),
        ("ü!#$&+^`|~-_.x", True, "attachment; filename=\"u!#$&+^`|~-_.x\"; filename*=UTF-8''%C3%BC!#$&+^`|~-_.x"),
    ],
)
def test_exact_values(filename: str | None, attachment: bool, expected: str) -> None:
    assert content_disposition(filename, attachment=attachment) == expected


def test_empty_filename_is_refused() -> None:
    with pytest.raises(ValueError, match="None"):
        content_disposition("", attachment=True)


def test_lone_surrogate_is_refused() -> None:
    with pytest.raises(ValueError):
        content_disposition("bad\udcff.txt", attachment=True)


@given(any_name, st.booleans())
def test_header_is_safe_whatever_the_name(name: str, attachment: bool) -> None:
    header = content_disposition(name, attachment=attachment)
    assert header.isascii()
    assert not set(header) & {"\r", "\n", "\x00"}
    # The fallback is one quoted-string with nothing escaped: exactly its two quotes.
    assert header.count('"') == 2
    assert "\\" not in header


@given(any_name, st.booleans())
def test_werkzeug_reads_back_the_leaf_name(name: str, attachment: bool) -> None:
    header = content_disposition(name, attachment=attachment)
    disposition, params = parse_options_header(header)
    assert disposition == ("attachment" if attachment else "inline")
    # werkzeug lets the RFC 8187 filename* override the plain filename, as RFC 6266 §4.3 asks.
    assert params["filename"] == expected_leaf(name)
    # RFC 8187 §3.2.1: after the charset and empty language, only attr-char and pct-encoded.
    plain_part, extended = split_header(header)
    if extended is not None:
        assert re.fullmatch(r"(?:[A-Za-z0-9!#$&+\-.^_`|~]|%[0-9A-F]{2})*", extended)
    # What an agent without RFC 8187 support reads.
    fallback = parse_options_header(plain_part)[1]["filename"]
    assert fallback and re.fullmatch(r"[\x20-\x7e]+", fallback)
    assert not set(fallback) & set('"\\%/')


def test_a_name_that_mimics_filename_star_stays_one_parameter() -> None:
    header = content_disposition("é; filename*=UTF-8''x", attachment=True)
    assert parse_options_header(split_header(header)[0])[1]["filename"] == "e; filename*=UTF-8''x"
    assert parse_options_header(header)[1]["filename"] == "é; filename*=UTF-8''x"


@given(safe_ascii_name)
def test_plain_ascii_names_need_no_filename_star(name: str) -> None:
    assert content_disposition(name, attachment=True) == f'attachment; filename="{name}"'
