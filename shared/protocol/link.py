"""Link header values (RFC 8288), e.g. pagination: ``<https://x/items?page=2>; rel="next"``.

A ``Link`` checks itself when built, so no caller input can put CR, LF or a stray quote or angle
bracket into the header. Rules chosen where the RFC leaves room: the target must already be
percent-encoded ASCII (``url_for`` output is); ``rel`` and every parameter value are always
quoted-strings; parameter values are printable ASCII (RFC 8288 §3 sends other text as an RFC 8187
``title*``, which this module does not build); ``rel`` may not appear again among the parameters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Link", "format_link_header"]

# RFC 8288 §3: the target is a URI-Reference; RFC 3986 §2 allows only unreserved and reserved
# characters and complete percent-encodings, so '<', '>', '"', spaces and controls cannot appear.
_URI_CHARS = r"(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})"
_URI_REFERENCE = re.compile(_URI_CHARS + "+")
# RFC 8288 §2.1.1: reg-rel-type = LOALPHA *( LOALPHA / DIGIT / "." / "-" ); ext-rel-type = URI,
# which must be absolute (RFC 3986 §3.1 scheme first).
_RELATION_TYPE = r"(?:[a-z][a-z0-9.\-]*|[A-Za-z][A-Za-z0-9+.\-]*:" + _URI_CHARS + "+)"
# RFC 8288 §3.3: inside the quotes, relation-type *( 1*SP relation-type ).
_RELATION_TYPES = re.compile(_RELATION_TYPE + "(?: +" + _RELATION_TYPE + ")*")
# RFC 9110 §5.6.2: token = 1*tchar.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 9110 §5.6.4: qdtext and quoted-pair cover SP and VCHAR; controls (even HTAB) are refused.
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*")


@dataclass(frozen=True, slots=True)
class Link:
    """One link-value: a target, its relation type(s) and extra target attributes."""

    target: str
    rel: str
    params: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if not _URI_REFERENCE.fullmatch(self.target):
            raise ValueError(f"link target is not a percent-encoded URI-Reference: {self.target!r}")
        if not _RELATION_TYPES.fullmatch(self.rel):
            raise ValueError(f"rel must be space-separated relation types: {self.rel!r}")
        for name, value in self.params:
            if not _TOKEN.fullmatch(name):
                raise ValueError(f"link parameter name is not a token: {name!r}")
            # RFC 8288 §3.3: rel MUST NOT appear more than once in a link-value.
            if name.lower() == "rel":
                raise ValueError("rel is given by Link.rel, not as a parameter")
            if not _PRINTABLE_ASCII.fullmatch(value):
                raise ValueError(f"link parameter value is not printable ASCII: {value!r}")

    def to_value(self) -> str:
        """The link-value: ``<target>; rel="..."`` then ``; name="value"`` per parameter."""
        parts = [f"<{self.target}>", f"rel={_quoted(self.rel)}"]
        parts.extend(f"{name}={_quoted(value)}" for name, value in self.params)
        return "; ".join(parts)


def format_link_header(links: Iterable[Link]) -> str | None:
    """Join link-values into one Link field value (RFC 8288 §3: ``#link-value``); None if none."""
    return ", ".join(link.to_value() for link in links) or None


def _quoted(value: str) -> str:
    # RFC 9110 §5.6.4: inside a quoted-string only '"' and '\' need a backslash.
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
