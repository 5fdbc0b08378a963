"""Cases for the file routes (seed §2.3, §2.5.1): whole files, Range, conditional requests,
X-Accel-Redirect, and every way of asking for a byte outside the data directory."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from datetime import timedelta

from shared.edge.files import LARGE_FILE, sample_facts
from shared.protocol.dates import format_http_date
from shared.protocol.representation import Representation
from shared.service import files
from shared.service.files import FileFacts

from ..case import Case, get_and_head

__all__ = [
    "FIFO",
    "FILE_CASES",
    "HIDDEN",
    "INSIDE_LINK",
    "NOT_SERVED",
    "OUTSIDE_LINK",
    "SOCKET",
    "prepare_file_fixtures",
]

OUTSIDE_LINK = "outside-link"  # a symlink in the data directory pointing at /etc/passwd
INSIDE_LINK = "inside-link.txt"  # a symlink to hello.txt, inside: allowed
HIDDEN_LINK = "hidden-link.txt"  # a symlink to .env, inside but hidden: refused
FIFO = "pipe.txt"  # a FIFO: open() would wait for a writer forever
SOCKET = "socket.txt"  # a unix socket
# Hidden files a careful operator never wants served (shared.service.files), with what they hold.
HIDDEN = {
    ".env": b"SECRET=twinport\n",
    ".git/config": b"[core]\n",
    ".htpasswd": b"admin:secret\n",
    "sub/.hidden.txt": b"hidden\n",
}
# Names that exist in the data directory (or, for the database, in the state directory) and
# are the same 404 as a missing file on every file route.
NOT_SERVED = {
    "dotfile": ".env",
    "dotdir-file": ".git/config",
    "htpasswd": ".htpasswd",
    "dotfile-in-subdir": "sub/.hidden.txt",
    "symlink-to-dotfile": HIDDEN_LINK,
    "database": "twinport.sqlite3",
    "database-wal": "twinport.sqlite3-wal",
    "database-shm": "twinport.sqlite3-shm",
    "fifo": FIFO,
    "socket": SOCKET,
}


def prepare_file_fixtures(data_dir: str) -> None:
    """The symlinks, hidden files and non-regular files the refusal cases need, next to the
    sample files."""
    os.makedirs(data_dir, exist_ok=True)
    for name, target in ((OUTSIDE_LINK, "/etc/passwd"), (INSIDE_LINK, "hello.txt"), (HIDDEN_LINK, ".env")):
        path = os.path.join(data_dir, name)
        if not os.path.lexists(path):
            os.symlink(target, path)
    for name, content in HIDDEN.items():
        path = os.path.join(data_dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as file:
            file.write(content)
    fifo = os.path.join(data_dir, FIFO)
    if not os.path.lexists(fifo):
        os.mkfifo(fifo)
    unix = os.path.join(data_dir, SOCKET)
    if not os.path.lexists(unix):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
            listener.bind(unix)  # the socket file stays after close; nobody listens


def _etag(name: str, describe: Callable[[FileFacts], Representation | None] = files.download) -> str:
    """The tag a sample file has on a route (the cases need it literally: If-None-Match, If-Range)."""
    representation = describe(sample_facts(name))
    assert representation is not None and representation.validators.etag is not None
    return representation.validators.etag.to_header()


_LARGE_ETAG = _etag(LARGE_FILE)
_VIDEO_ETAG = _etag("sample.mp4", files.video)
_MODIFIED = sample_facts("hello.txt").last_modified
_AT, _BEFORE = format_http_date(_MODIFIED), format_http_date(_MODIFIED - timedelta(seconds=1))


def _matrix(prefix: str, target: str, etag: str) -> list[Case]:
    """Range and conditional requests on one file route, each an RFC rule the answer shows."""
    requests: dict[str, tuple[tuple[str, str], ...]] = {
        "range-first-100": (("Range", "bytes=0-99"),),
        "range-open": (("Range", "bytes=1000-"),),
        "range-suffix": (("Range", "bytes=-100"),),
        "range-suffix-longer-than-file": (("Range", "bytes=-99999999"),),
        "range-last-past-end": (("Range", "bytes=100-99999999"),),
        "range-multipart": (("Range", "bytes=0-9,100-109,-10"),),
        "range-empty-element": (("Range", "bytes=0-9,,20-29,"),),
        "range-backwards": (("Range", "bytes=50-10"),),
        "range-unsatisfiable": (("Range", "bytes=99999999-"),),
        "range-malformed": (("Range", "bytes=abc"),),
        "range-unknown-unit": (("Range", "items=0-1"),),
        "range-empty-set": (("Range", "bytes="),),
        "range-overlapping-beyond-size": (("Range", "bytes=0-,0-"),),
        "range-too-many": (("Range", "bytes=" + ",".join(f"{i}-{i}" for i in range(0, 130, 2))),),
        "if-range-match": (("Range", "bytes=0-99"), ("If-Range", etag)),
        "if-range-weak": (("Range", "bytes=0-99"), ("If-Range", f"W/{etag}")),
        "if-range-other": (("Range", "bytes=0-99"), ("If-Range", '"other"')),
        "if-range-date": (("Range", "bytes=0-99"), ("If-Range", _AT)),
        "if-range-old-date": (("Range", "bytes=0-99"), ("If-Range", _BEFORE)),
        "if-none-match": (("If-None-Match", etag),),
        "if-none-match-weak": (("If-None-Match", f"W/{etag}"),),
        "if-none-match-list": (("If-None-Match", f'"a", {etag}'),),
        "if-none-match-star": (("If-None-Match", "*"),),
        "if-none-match-other": (("If-None-Match", '"other"'),),
        "if-none-match-wins-over-ims": (("If-None-Match", '"other"'), ("If-Modified-Since", _AT)),
        "if-modified-since-equal": (("If-Modified-Since", _AT),),
        "if-modified-since-before": (("If-Modified-Since", _BEFORE),),
        "if-modified-since-garbage": (("If-Modified-Since", "yesterday"),),
        "if-match": (("If-Match", etag),),
        "if-match-other": (("If-Match", '"other"'),),
        "if-match-weak": (("If-Match", f"W/{etag}"),),
        "if-unmodified-since-before": (("If-Unmodified-Since", _BEFORE),),
        "if-unmodified-since-garbage": (("If-Unmodified-Since", "garbage"),),
        "not-modified-with-range": (("If-None-Match", etag), ("Range", "bytes=0-9")),
    }
    cases = [Case(f"{prefix}-{name}", target, headers=headers) for name, headers in requests.items()]
    cases.append(Case(f"{prefix}-head-range", target, method="HEAD", headers=(("Range", "bytes=0-9"),)))
    return cases


TRAVERSALS = {
    "dotdot": "../../../../etc/passwd",
    "dotdot-encoded": "%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "dotdot-slash-encoded": "..%2f..%2f..%2fetc%2fpasswd",
    "double-encoded": "%252e%252e%252f%252e%252e%252fetc%252fpasswd",
    "backslash": "..%5c..%5cetc%5cpasswd",
    "absolute-encoded": "%2fetc%2fpasswd",
    "absolute-double-slash": "/etc/passwd",
    "nul": "hello.txt%00.pdf",
    "dot-segment": "./hello.txt",
    "empty-segment": "sub//hello.txt",
    "over-long": "a" * 300,
    "over-long-path": "/".join(["abcdefgh"] * 200),
    "symlink-outside": OUTSIDE_LINK,
    "directory": ".",
    "missing": "no-such-file.txt",
    "korean-missing": "%EC%97%86%EC%9D%8C.txt",
}


FILE_CASES: tuple[Case, ...] = (
    # /files/<path>: send_from_directory as an attachment.
    *get_and_head("files-hello", "/files/hello.txt"),
    *get_and_head("files-large", f"/files/{LARGE_FILE}"),
    *get_and_head("files-korean-name", "/files/%EB%B3%B4%EA%B3%A0%EC%84%9C.pdf"),
    Case("files-symlink-inside", f"/files/{INSIDE_LINK}"),
    *_matrix("files-large", f"/files/{LARGE_FILE}", _LARGE_ETAG),
    *(Case(f"files-traversal-{name}", f"/files/{path}") for name, path in TRAVERSALS.items()),
    # Files that exist but are never served: hidden ones, the database, FIFOs and sockets.
    *(Case(f"files-not-served-{name}", f"/files/{path}") for name, path in NOT_SERVED.items()),
    # /reports/pdf inline, /i18n-file with an RFC 8187 name.
    *get_and_head("report-pdf", "/reports/pdf"),
    Case("report-pdf-range", "/reports/pdf", headers=(("Range", "bytes=0-7"),)),
    *get_and_head("i18n-file", "/i18n-file"),
    Case("i18n-file-not-modified", "/i18n-file", headers=(("If-None-Match", _etag("보고서.pdf", files.i18n_file)),)),
    # /video/<path>: seeking.
    *get_and_head("video", "/video/sample.mp4"),
    *_matrix("video", "/video/sample.mp4", _VIDEO_ETAG),
    Case("video-not-a-video", "/video/hello.txt"),
    *(Case(f"video-traversal-{name}", f"/video/{path}") for name, path in TRAVERSALS.items()),
    *(Case(f"video-not-served-{name}", f"/video/{path}") for name, path in NOT_SERVED.items()),
    # /nginx-download/<path>: the X-Accel-Redirect hand-off (the app's half; nginx's is in tests/).
    *get_and_head("accel-hello", "/nginx-download/hello.txt"),
    Case("accel-korean", "/nginx-download/%EB%B3%B4%EA%B3%A0%EC%84%9C.pdf"),
    *(Case(f"accel-traversal-{name}", f"/nginx-download/{path}") for name, path in TRAVERSALS.items()),
    *(Case(f"accel-not-served-{name}", f"/nginx-download/{path}") for name, path in NOT_SERVED.items()),
    *(Case(f"site-static-not-served-{name}", f"/site-static/{path}") for name, path in NOT_SERVED.items()),
)
