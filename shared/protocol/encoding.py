"""Content coding: which one to send (RFC 9110 §12.5.3), the coded bytes, and the coded
representation's own validator (§8.8.3) and headers.

A gzip body is not the identity body: it is another representation of the resource, with other
bytes, so it needs its own strong ETag; otherwise a cache could answer a Range or an If-Match
for one with the other. Here the coded tag is the identity tag plus ``-gzip`` or ``-br``, so it
is derived, stable and readable, and If-None-Match is checked against the representation that
is being selected. The coded bytes are deterministic (fixed levels, no gzip timestamp), so both
runtimes send the same bytes for the same request.

No library does this for both frameworks: flask-compress is Flask's alone, quart-compress has
not been released since 2020, and both compress after the view, so the ETag (and a 304 decided
on it) would still be the identity one's. Hence the decision here and only the codecs outside.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

import brotli  # type: ignore[import-untyped]  # ships no type information (brotli 1.2)

from .cache import merge_vary
from .etag import EntityTag
from .representation import Representation

__all__ = [
    "CODINGS",
    "DEFAULT_MIN_SIZE",
    "EncodedRepresentation",
    "Negotiated",
    "coded_etag",
    "encode_body",
    "negotiate_encoding",
    "plan_encoded",
]

# Server preference, used to break ties between equal q-values: brotli is smaller for JSON.
CODINGS = ("br", "gzip")
# Below this, coding saves a few bytes at best and costs a compression per request.
DEFAULT_MIN_SIZE = 1024
# Fixed settings, so the same input always gives the same output on one installation. 6 is
# zlib's own default; brotli 5 is a usual level for bodies compressed per request (11 is for
# files compressed once).
GZIP_LEVEL = 6
BROTLI_QUALITY = 5

# RFC 9110 §5.6.2: token = 1*tchar.
_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
# §12.5.3: codings = content-coding / "identity" / "*", each with an optional weight;
# §12.4.2: weight = OWS ";" OWS "q=" qvalue, qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ).
# ABNF literals are case-insensitive (RFC 5234 §2.3), so "Q=0.5" is a weight too.
_MEMBER = re.compile(rf"({_TOKEN})(?:[ \t]*;[ \t]*[qQ]=(0(?:\.[0-9]{{0,3}})?|1(?:\.0{{0,3}})?))?")
# §8.4.1.3: a recipient SHOULD consider "x-gzip" to be equivalent to "gzip".
_ALIASES = {"x-gzip": "gzip"}
_FULL = 1000  # q-values are kept in thousandths: exact, and §12.4.2 allows no finer weight


@dataclass(frozen=True, slots=True)
class Negotiated:
    """What Accept-Encoding asks for: the coding to send (None: identity), and whether the client
    refused identity ("identity;q=0", or "*;q=0" with no entry for identity: §12.5.3)."""

    coding: str | None
    identity_refused: bool


def negotiate_encoding(accept_encoding: str | None, available: tuple[str, ...] = CODINGS) -> Negotiated:
    """The content coding to send (``coding``; None for identity), and whether identity is refused.

    The available coding with the highest q-value above 0 wins; equal q-values go to the
    earlier one in ``available``. No Accept-Encoding means identity: §12.5.3 lets us code
    then, but a client that did not ask may not decode. Identity also wins when the client
    weighs it above every available coding. When nothing is acceptable, not even identity,
    the field is disregarded and identity sent (§12.1 allows that instead of a 406).
    """
    weights = _parse(accept_encoding)
    return Negotiated(_negotiate(weights, available), _identity_refused(weights))


def _parse(accept_encoding: str | None) -> Mapping[str, int] | None:
    """Coding -> weight in thousandths; None when the field is absent. Malformed members are
    skipped (a bad q-value never becomes a weight), and for a coding listed twice the first
    weight counts. An empty field (or one of only bad members) says "no coding" (§12.5.3)."""
    if accept_encoding is None:
        return None
    weights: dict[str, int] = {}
    # No member can contain a comma (tokens and qvalues cannot), so splitting is exact.
    for member in accept_encoding.split(","):
        match = _MEMBER.fullmatch(member.strip(" \t"))
        if match is None:
            continue
        coding = match.group(1).lower()
        weight = _FULL if match.group(2) is None else round(float(match.group(2)) * _FULL)
        weights.setdefault(_ALIASES.get(coding, coding), weight)
    return weights


def _weight(weights: Mapping[str, int], coding: str) -> int:
    # §12.5.3: "*" matches any available coding not listed explicitly.
    return weights.get(coding, weights.get("*", 0))


def _negotiate(weights: Mapping[str, int] | None, available: tuple[str, ...]) -> str | None:
    if weights is None:
        return None
    best, best_weight = None, 0
    for coding in available:
        weight = _weight(weights, coding.lower())
        if weight > best_weight:  # strictly: an equal weight keeps the earlier coding
            best, best_weight = coding, weight
    # Identity competes only where the client weighed it (or "*"); on a tie the coding wins,
    # since the client said both are equally fine. Unlisted, it ranks below any coding: a
    # client that lists codings is asking for them.
    if best is None or best_weight < _weight(weights, "identity"):
        return None
    return best


def _identity_refused(weights: Mapping[str, int] | None) -> bool:
    # §12.5.3: identity is acceptable unless excluded by "identity;q=0", or by "*;q=0" with no
    # entry for identity.
    return weights is not None and weights.get("identity", weights.get("*", 1)) == 0


def encode_body(body: bytes, coding: str) -> bytes:
    """``body`` in ``coding``, the same bytes every time for the same input."""
    if coding == "gzip":
        # mtime=0: the header's timestamp would otherwise make every response differ (RFC 1952 §2.3.1).
        return gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)
    if coding == "br":
        return bytes(brotli.compress(body, mode=brotli.MODE_TEXT, quality=BROTLI_QUALITY))
    raise ValueError(f"no encoder for content coding {coding!r}; known: {', '.join(CODINGS)}")


def coded_etag(etag: EntityTag, coding: str | None) -> EntityTag:
    """The tag of ``etag``'s representation in ``coding`` (itself for identity): a different
    representation needs a different strong validator (§8.8.3). Weakness carries over."""
    return etag if coding is None else EntityTag(f"{etag.opaque}-{coding}", weak=etag.weak)


@dataclass(frozen=True, slots=True)
class EncodedRepresentation:
    """The representation chosen for one request: the bytes to send and their facts.

    ``representation`` is ready for ``plan_representation``: its size is the coded size, its
    ETag the coded tag, its headers carry Content-Encoding (when coded) and a Vary that names
    Accept-Encoding. Body spans in the resulting plan are spans of ``body``.
    """

    body: bytes
    coding: str | None
    representation: Representation

    @property
    def etag(self) -> EntityTag | None:
        return self.representation.validators.etag


def plan_encoded(
    body: bytes,
    identity: Representation,
    accept_encoding: str | None,
    *,
    min_size: int = DEFAULT_MIN_SIZE,
    available: tuple[str, ...] = CODINGS,
) -> EncodedRepresentation:
    """Choose and apply a content coding for ``body``, whose uncoded facts are ``identity``.

    Bodies shorter than ``min_size`` stay uncoded, and so does a coded body that came out no
    smaller, unless the client refused identity ("identity;q=0"). ``Vary: Accept-Encoding`` is
    sent either way: the resource is negotiable, so a cache must key on the field even when
    this answer happens to be uncoded (§12.5.5).
    """
    if identity.size != len(body):
        raise ValueError(f"the identity representation says {identity.size} bytes, the body has {len(body)}")
    choice = negotiate_encoding(accept_encoding, available)
    coding, must_code = choice.coding, choice.identity_refused
    if coding is None or (len(body) < min_size and not must_code):
        return _encoded(identity, body, None)
    coded = encode_body(body, coding)
    if len(coded) >= len(body) and not must_code:
        return _encoded(identity, body, None)
    return _encoded(identity, coded, coding)


def _encoded(identity: Representation, body: bytes, coding: str | None) -> EncodedRepresentation:
    validators = identity.validators
    if validators.etag is not None:
        validators = replace(validators, etag=coded_etag(validators.etag, coding))
    others = tuple((name, value) for name, value in identity.headers if name.lower() != "vary")
    vary = merge_vary(*(value for name, value in identity.headers if name.lower() == "vary"), "Accept-Encoding")
    encoding = (("Content-Encoding", coding),) if coding else ()
    representation = Representation(
        len(body),
        identity.content_type,
        validators,
        (*encoding, *others, ("Vary", vary or "Accept-Encoding")),
        # Coded bytes are only as stable as the compressor's version: no byte ranges of them
        # (nginx's gzip filter drops Accept-Ranges for the same reason).
        accept_ranges=identity.accept_ranges and coding is None,
    )
    return EncodedRepresentation(body, coding, representation)
