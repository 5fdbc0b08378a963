"""Cache-Control presets and Vary merging (RFC 9111 §5.2.2, RFC 8246, RFC 9110 §12.5.5).

Flask's and Quart's ``send_file`` pick different Cache-Control defaults, so both adapters take the
value from a named policy here instead. ``to_header`` writes directives in one fixed order (public or
private, no-cache, no-store, max-age, must-revalidate, immutable) so the twins answer byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CachePolicy",
    "immutable_static",
    "merge_vary",
    "no_store",
    "private_revalidated",
    "revalidated",
]

_ONE_YEAR = 31_536_000
# RFC 9110 §5.6.3: OWS is spaces and horizontal tabs only.
_OWS = " \t"


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """The response directives of one Cache-Control value."""

    public: bool = False
    private: bool = False
    no_cache: bool = False
    no_store: bool = False
    max_age: int | None = None
    must_revalidate: bool = False
    immutable: bool = False

    def __post_init__(self) -> None:
        # RFC 9111 §1.2.2: delta-seconds is a non-negative integer.
        if self.max_age is not None and self.max_age < 0:
            raise ValueError(f"max_age must be >= 0, got {self.max_age}")
        # RFC 9111 §5.2.2.7/§5.2.2.9: a response is shared-cacheable or not; both is a contradiction.
        if self.public and self.private:
            raise ValueError("a policy cannot be both public and private")
        if not self.to_header():
            raise ValueError("an empty policy says nothing; send no Cache-Control instead")

    def to_header(self) -> str:
        """The Cache-Control field value, directives in this module's fixed order."""
        directives = [
            "public" if self.public else "",
            "private" if self.private else "",
            "no-cache" if self.no_cache else "",
            "no-store" if self.no_store else "",
            f"max-age={self.max_age}" if self.max_age is not None else "",
            "must-revalidate" if self.must_revalidate else "",
            "immutable" if self.immutable else "",
        ]
        return ", ".join(directive for directive in directives if directive)


def immutable_static(max_age: int = _ONE_YEAR) -> CachePolicy:
    """Fingerprinted static files: the URL changes when the bytes do, so never revalidate.

    RFC 8246 §2: ``immutable`` tells a client not to revalidate while the response is fresh.
    """
    return CachePolicy(public=True, max_age=max_age, immutable=True)


def revalidated(max_age: int) -> CachePolicy:
    """Dynamic public data: fresh for ``max_age`` seconds, then revalidated with ETag or
    Last-Modified (RFC 9111 §4.3) before reuse."""
    return CachePolicy(public=True, max_age=max_age)


def private_revalidated(max_age: int = 0) -> CachePolicy:
    """Responses that depend on Authorization: no shared cache may store them (RFC 9111 §5.2.2.7).

    With ``max_age=0`` this is ``private, no-cache``: the browser may keep it but must revalidate
    on every use (RFC 9111 §5.2.2.4).
    """
    if max_age == 0:
        return CachePolicy(private=True, no_cache=True)
    return CachePolicy(private=True, max_age=max_age)


def no_store() -> CachePolicy:
    """Nothing may be kept, by any cache (RFC 9111 §5.2.2.5)."""
    return CachePolicy(no_store=True)


def merge_vary(*values: str | None) -> str | None:
    """Merge Vary field values: members in first-seen order, de-duplicated ignoring case.

    Returns ``None`` when there is nothing to send.
    """
    merged: dict[str, str] = {}
    for value in values:
        for member in (value or "").split(","):
            name = member.strip(_OWS)
            if name:
                # RFC 9110 §5.1: field names are case-insensitive; keep the first spelling seen.
                merged.setdefault(name.lower(), name)
    # RFC 9110 §12.5.5: "*" means the response varies on more than fields; nothing else adds to it.
    if "*" in merged:
        return "*"
    return ", ".join(merged.values()) or None
