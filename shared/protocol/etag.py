"""Entity tags: make them, parse the lists clients send, compare them (RFC 9110 §8.8.3).

Our validators come from a resource's identity and version, never from hashing a body: the
seed's ``sha256(body)`` costs a serialization per request and changes when only the encoder
does. Parsing is strict about the grammar, because a lenient parser turns garbage into a match.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

__all__ = ["ANY", "AnyTag", "EntityTag", "TagCondition", "parse_tag_condition"]

# RFC 9110 §8.8.3: etagc = %x21 / %x23-7E / obs-text. Header values reach us as latin-1
# text (WSGI, ASGI), so obs-text is U+0080..U+00FF.
_ETAGC = "\x21\x23-\x7e\x80-\xff"
_ENTITY_TAG = re.compile(rf'(W/)?"([{_ETAGC}]*)"')
_READABLE = re.compile(r"[A-Za-z0-9._~+:-]{1,64}")


@dataclass(frozen=True, slots=True)
class EntityTag:
    """One entity-tag; ``opaque`` is the text between the quotes."""

    opaque: str
    weak: bool = False

    def __post_init__(self) -> None:
        if not re.fullmatch(f"[{_ETAGC}]*", self.opaque):
            raise ValueError(f"not an opaque-tag: {self.opaque!r}")

    @classmethod
    def from_version(cls, *parts: str | int) -> EntityTag:
        """A strong tag for "this resource at this version".

        Readable parts are kept as they are (``"item-42-v3"``), so a person reading headers
        can tell what changed; anything else (non-ASCII file names, long paths) is hashed.
        """
        if not parts:
            raise ValueError("an entity tag needs at least one part")
        joined = "-".join(str(part) for part in parts)
        if _READABLE.fullmatch(joined):
            return cls(joined)
        return cls(hashlib.blake2b(joined.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest())

    @classmethod
    def parse(cls, value: str) -> EntityTag | None:
        """One entity-tag, or None where the value is not one (e.g. the seed's unquoted hex)."""
        match = _ENTITY_TAG.fullmatch(value.strip(" \t"))
        if match is None:
            return None
        return cls(match.group(2), weak=match.group(1) is not None)

    def to_header(self) -> str:
        return f'{"W/" if self.weak else ""}"{self.opaque}"'

    def strong_match(self, other: EntityTag) -> bool:
        # §8.8.3.2: strong comparison: both strong and the same characters.
        return not self.weak and not other.weak and self.opaque == other.opaque

    def weak_match(self, other: EntityTag) -> bool:
        # §8.8.3.2: weak comparison: the opaque-tags match, whatever the W/ prefixes.
        return self.opaque == other.opaque


@dataclass(frozen=True, slots=True)
class AnyTag:
    """The ``*`` of If-Match / If-None-Match: "any current representation"."""


ANY = AnyTag()

# What If-Match and If-None-Match say once parsed: "*", or a (possibly empty) list of tags.
TagCondition = AnyTag | tuple[EntityTag, ...]


def parse_tag_condition(value: str) -> TagCondition:
    """Parse ``If-Match``/``If-None-Match`` = "*" / #entity-tag (RFC 9110 §13.1.1, §13.1.2).

    Empty list elements are skipped (§5.6.1.2). A malformed element is skipped rather than
    guessed at: it can never match, so If-Match with only garbage fails (412) and If-None-Match
    with only garbage is simply not satisfied, which is also what nginx does. A quoted tag
    may itself contain commas, so the list is scanned, not split.
    """
    if value.strip(" \t") == "*":
        return ANY
    tags: list[EntityTag] = []
    position, end = 0, len(value)
    while position < end:
        if value[position] in " \t,":
            position += 1
            continue
        match = _ENTITY_TAG.match(value, position)
        if match is not None and _element_ends(value, match.end()):
            tags.append(EntityTag(match.group(2), weak=match.group(1) is not None))
            position = match.end()
        else:
            comma = value.find(",", position)
            position = end if comma == -1 else comma + 1
    return tuple(tags)


def _element_ends(value: str, position: int) -> bool:
    rest = value[position:].lstrip(" \t")
    return rest == "" or rest.startswith(",")
