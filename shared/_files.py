"""Files in the data directory: which names may be served, and how each route describes one.

Sans-I/O: the adapters resolve symlinks and stat the file; this module decides whether a
requested name is acceptable at all, whether the resolved path is still inside the data
directory, and which representation (type, validators, disposition, cache policy) a file has.
Every refusal is the same 404 as a missing file, so a probe learns nothing from it.

What is served: regular files of the data directory whose every path segment is visible.
A segment starting with "." (``.env``, ``.git/config``, ``.htpasswd``, the ``.name.pid.tmp``
files ``ensure_data_dir`` writes aside) is never served, by any file route or ``/site-static``,
whether it is asked for or reached through a symlink: a careful operator expects hidden files to
stay hidden (as nginx configurations commonly deny every path with a "/." in it). FIFOs, sockets
and devices are not files to serve either (``shared.datafiles.open_data_file``). The parity
cases ``*-not-served-*`` (cases/files.py) prove each on every file route in both runtimes.
"""

from __future__ import annotations

import mimetypes
import posixpath
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

from ._cache import CachePolicy
from ._conditional import Validators
from ._disposition import content_disposition
from ._etag import EntityTag
from ._representation import Representation, ResponsePlan, plan_bytes

__all__ = [
    "FILE_CACHE_POLICY",
    "MAX_NAME_BYTES",
    "MAX_SEGMENT_BYTES",
    "FileFacts",
    "NameRejected",
    "check_name",
    "content_type_for",
    "file_representation",
    "is_inside",
    "plan_accel_redirect",
]

# Linux's NAME_MAX and a generous bound on a whole relative path: longer names cannot exist,
# and asking the filesystem about them raises ENAMETOOLONG instead of answering "no".
MAX_SEGMENT_BYTES = 255
MAX_NAME_BYTES = 1024

# The stdlib's built-in table only (no /etc/mime.types), so every machine agrees.
_TYPES = mimetypes.MimeTypes(filenames=())
# Compressed files are served as what they are, never with Content-Encoding: a client asked for
# the file, not for a transfer of its decompressed content (werkzeug's send_file differs here).
_COMPRESSED = {
    "gzip": "application/gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
    "br": "application/x-brotli",
    "compress": "application/x-compress",
}
# Data files have no version in their names, so a cache may keep them but must revalidate.
FILE_CACHE_POLICY = CachePolicy(no_cache=True)


@dataclass(frozen=True, slots=True)
class NameRejected:
    """A requested name that can never be a file of the data directory (answered as 404)."""

    reason: str


def check_name(name: str) -> tuple[str, ...] | NameRejected:
    """The path segments of a requested name, or why it is refused.

    The name arrives percent-decoded once by the router; nothing here decodes again, so
    ``%252e%252e`` stays the literal name ``%2e%2e`` (and is simply not found).
    """
    if not name:
        return NameRejected("empty name")
    if any(ord(character) < 0x20 or ord(character) == 0x7F for character in name):
        return NameRejected("control character (NUL, CR, LF, ...) in the name")
    if "\\" in name:
        return NameRejected("backslash in the name")
    if name.startswith("/"):
        return NameRejected("absolute path")
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        return NameRejected("not UTF-8")
    if len(encoded) > MAX_NAME_BYTES:
        return NameRejected("name too long")
    segments = tuple(name.split("/"))
    for segment in segments:
        if segment in ("", ".", ".."):
            return NameRejected("empty, '.' or '..' segment")
        if segment.startswith("."):
            return NameRejected("hidden segment (a dot-file or dot-directory)")
        if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
            return NameRejected("segment too long")
    return segments


def is_inside(root: str, path: str) -> bool:
    """Whether ``path`` (fully resolved, symlinks followed) lies inside ``root`` (resolved too)."""
    root, path = posixpath.normpath(root), posixpath.normpath(path)
    return path != root and posixpath.commonpath([root, path]) == root


def content_type_for(name: str) -> str:
    guessed, encoding = _TYPES.guess_type(name, strict=False)
    if encoding is not None:
        return _COMPRESSED.get(encoding, "application/octet-stream")
    if guessed is None:
        return "application/octet-stream"
    # RFC 6838 §4.2.1: text types default to US-ASCII without a charset; our text is UTF-8.
    return f"{guessed}; charset=utf-8" if guessed.startswith("text/") else guessed


@dataclass(frozen=True, slots=True)
class FileFacts:
    """What the adapter learnt from ``fstat`` on the open file."""

    relative: str
    size: int
    mtime_ns: int

    @property
    def last_modified(self) -> datetime:
        return datetime.fromtimestamp(self.mtime_ns // 1_000_000_000, tz=UTC)


def file_representation(
    facts: FileFacts,
    *,
    attachment: bool,
    download_name: str | None,
    content_type: str | None = None,
    cache: CachePolicy = FILE_CACHE_POLICY,
) -> Representation:
    """A file as one representation: its validators come from its identity and version
    (name, modification time, size), never from its bytes."""
    etag = EntityTag.from_version(facts.relative, f"{facts.mtime_ns:x}", f"{facts.size:x}")
    # A plain inline file with no name to suggest (a stylesheet) needs no Content-Disposition.
    named = attachment or download_name is not None
    disposition = (("Content-Disposition", content_disposition(download_name, attachment=attachment)),) if named else ()
    return Representation(
        size=facts.size,
        content_type=content_type or content_type_for(download_name or facts.relative),
        validators=Validators(etag, facts.last_modified),
        headers=(("Cache-Control", cache.to_header()), *disposition),
    )


def plan_accel_redirect(facts: FileFacts, *, internal_prefix: str = "/protected/") -> ResponsePlan:
    """Hand the transfer to nginx (seed §2.3.2): an empty 200 naming the internal location,
    with the Content-Type and Content-Disposition nginx passes on to the client. The target
    is the already-checked relative name, percent-encoded, so no name can add a header or a
    query; nginx decodes it before mapping it onto its ``alias``."""
    leaf = facts.relative.rsplit("/", 1)[-1]
    return plan_bytes(
        b"",
        content_type="application/octet-stream",
        headers=(
            ("X-Accel-Redirect", internal_prefix + quote(facts.relative, safe="/")),
            ("Content-Disposition", content_disposition(leaf, attachment=True)),
        ),
    )
