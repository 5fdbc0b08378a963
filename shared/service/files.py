"""Files in the data directory: which names may be served, how each route presents one, and the
whole answer to a file request (``answer_file``: one call per request).

No I/O: the edge (``shared.edge.files``) resolves symlinks and stats the file; this module decides whether a
requested name is acceptable at all, whether the resolved path is still inside the data
directory, and which representation (type, validators, disposition, cache policy) a file has.
Every refusal is the same 404 as a missing file, so a probe learns nothing from it.

What is served: regular files of the data directory whose every path segment is visible.
A segment starting with "." (``.env``, ``.git/config``, ``.htpasswd``, the ``.name.pid.tmp``
files ``ensure_data_dir`` writes aside) is never served, by any file route or ``/site-static``,
whether it is asked for or reached through a symlink: a careful operator expects hidden files to
stay hidden (as nginx configurations commonly deny every path with a "/." in it). FIFOs, sockets
and devices are not files to serve either (``shared.edge.files.open_data_file``). The parity
cases ``*-not-served-*`` (cases/files.py) prove each on every file route in both runtimes.
"""

from __future__ import annotations

import mimetypes
import posixpath
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

from ..protocol.cache import CachePolicy
from ..protocol.conditional import Validators
from ..protocol.disposition import content_disposition
from ..protocol.etag import EntityTag
from ..protocol.representation import Representation, ResponsePlan, plan_bytes, plan_problem, plan_representation

__all__ = [
    "FILE_CACHE_POLICY",
    "I18N_FILE",
    "MAX_NAME_BYTES",
    "MAX_SEGMENT_BYTES",
    "REPORT_PDF",
    "FileFacts",
    "NameRejected",
    "Presentation",
    "answer_file",
    "check_name",
    "content_type_for",
    "download",
    "file_representation",
    "i18n_file",
    "is_inside",
    "no_such_file",
    "plan_accel_redirect",
    "report_pdf",
    "video",
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


REPORT_PDF = "report.pdf"
I18N_FILE = "보고서.pdf"

Presentation = Callable[[FileFacts], Representation | None]
"""How a route presents a file: its representation, or None when the route does not serve it."""


def answer_file(
    facts: FileFacts,
    presentation: Presentation,
    method: str,
    fields: Iterable[tuple[str, str]],
    *,
    now: datetime,
    max_ranges: int,
) -> ResponsePlan:
    """The whole answer to a request for an opened file: 404, 200, 206 (one range or
    multipart/byteranges), 304, 412 or 416, with every header and the spans to send (a HEAD's
    plan has none). The one decision a file view asks for; the edge then sends ``plan.body``.

    Flask's ``send_file`` and Quart's differ in nearly all of this (Quart's answers no Range and no
    304 by default, pallets/quart#349 and #172, and a suffix range with a 500; werkzeug answers a
    suffix range longer than the file 416): ``files-large-range-*``, ``files-large-if-*`` and
    ``i18n-file-not-modified`` (parity_tests/cases/files.py) fail without it.
    """
    representation = presentation(facts)
    if representation is None:
        return no_such_file()
    return plan_representation(method, fields, representation, now=now, max_ranges=max_ranges).for_method(method)


# §2.3 and §2.5.1: the file routes. Each says how a file of the data directory is presented
# (a ``Presentation``); ``answer_file`` plans Range and the conditional answers from it.


def download(facts: FileFacts) -> Representation:
    """``/files/<name>``: send_from_directory(..., as_attachment=True, download_name=name)."""
    return file_representation(facts, attachment=True, download_name=_leaf(facts.relative))


def report_pdf(facts: FileFacts) -> Representation:
    """``/reports/pdf``: the PDF inline, still named so "save as" has a name."""
    return file_representation(facts, attachment=False, download_name=REPORT_PDF, content_type="application/pdf")


def i18n_file(facts: FileFacts) -> Representation:
    """``/i18n-file``: 보고서.pdf downloaded as 보고서_2025Q4.pdf (RFC 8187 name, ASCII fallback)."""
    return file_representation(facts, attachment=True, download_name="보고서_2025Q4.pdf")


def video(facts: FileFacts) -> Representation | None:
    """``/video/<name>``: videos only, inline, seekable by Range; anything else is not found."""
    if not content_type_for(facts.relative).startswith("video/"):
        return None
    return file_representation(facts, attachment=False, download_name=_leaf(facts.relative))


def no_such_file() -> ResponsePlan:
    """Missing, not a regular file, outside the data directory, or a refused name: one answer."""
    return plan_problem(404, "No file by that name.")


def _leaf(relative: str) -> str:
    return relative.rsplit("/", 1)[-1]
