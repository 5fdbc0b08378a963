"""The filesystem edge: open a file of the data directory safely, read spans of it, lay out the
data directory on first start, and where the packaged site files live.

The decisions (which names are acceptable, whether a resolved path is inside, what to send) are
``shared.service.files``'s. The body writers are a sync/async twin, side by side: ``iter_body``
for a thread (Flask) and ``iter_body_async`` for a coroutine (Quart), which opens nothing and
reads nothing on the event loop: every read and the close run in a worker thread
(``asyncio.to_thread``), so the loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import os
import stat
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..protocol.representation import BodyPart
from ..service.files import FileFacts, NameRejected, check_name, is_inside

__all__ = [
    "LARGE_FILE",
    "LARGE_FILE_SIZE",
    "SAMPLE_MTIME_NS",
    "SHIPPED",
    "STATIC_DIR",
    "TEMPLATE_DIR",
    "BodyPart",
    "HandedFiles",
    "Read",
    "body_steps",
    "ensure_data_dir",
    "iter_body",
    "iter_body_async",
    "open_data_file",
    "read",
    "sample_facts",
]

_PACKAGE = Path(__file__).resolve().parent.parent
SHIPPED = _PACKAGE / "data"
STATIC_DIR = str(_PACKAGE / "static" / "site")
TEMPLATE_DIR = str(_PACKAGE / "templates")
LARGE_FILE = "large.bin"
LARGE_FILE_SIZE = 1_048_583  # just over 1 MiB, a prime: no range lines up with a power of two

# The sample files are dated like the seed chapter (2025-10-01 12:00 UTC), whatever the time of
# the checkout or the copy, so their validators are the same on every machine and in every test.
SAMPLE_MTIME_NS = 1_759_320_000 * 1_000_000_000


def open_data_file(data_dir: str, name: str) -> tuple[BinaryIO, FileFacts] | None:
    """The open file and its facts, or None for anything that is not a regular file inside
    ``data_dir`` (missing, a directory, a FIFO, socket or device, a symlink pointing out or at a
    hidden name, a refused name): each is the same 404.

    Never a blocking open: ``open()`` of a FIFO waits for a writer forever, and each such request
    would hold a Flask thread or one of Quart's file threads for good. So the resolved path is
    stat-ed first, opened with O_NONBLOCK (which cannot block, whatever was put there since), and
    confirmed a regular file by fstat on the open descriptor (no race with a rename)."""
    segments = check_name(name)
    if isinstance(segments, NameRejected):
        return None
    root = os.path.realpath(data_dir)
    target = os.path.realpath(os.path.join(root, *segments))
    # The resolved path must be inside, and as acceptable as a requested name: a symlink to
    # ".env" or ".git/config" serves no more than asking for them would.
    if not is_inside(root, target) or isinstance(check_name(os.path.relpath(target, root)), NameRejected):
        return None
    try:
        if not stat.S_ISREG(os.stat(target).st_mode):
            return None
        descriptor = os.open(target, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY | os.O_NOFOLLOW)
    except (OSError, ValueError):
        return None
    status = os.fstat(descriptor)  # facts from the open file: no race with a rename
    if not stat.S_ISREG(status.st_mode):
        os.close(descriptor)
        return None
    os.set_blocking(descriptor, True)  # a regular file: back to ordinary reads (sendfile, pread)
    file = os.fdopen(descriptor, "rb")  # the response owns and closes it
    return file, FileFacts("/".join(segments), status.st_size, status.st_mtime_ns)


@dataclass(frozen=True, slots=True)
class Read:
    """Read ``length`` bytes of the file at ``offset``; ``last``: the body reads nothing after it."""

    offset: int
    length: int
    last: bool = False


def body_steps(parts: tuple[BodyPart, ...], chunk_size: int) -> Iterator[bytes | Read]:
    """The body as literal bytes and reads of at most ``chunk_size``, in order: the one plan that
    the sync (``iter_body``) and async (Quart) writers both follow. Never a whole file or range
    in memory."""
    spans = [index for index, part in enumerate(parts) if not isinstance(part, bytes)]
    final = spans[-1] if spans else -1
    for index, part in enumerate(parts):
        if isinstance(part, bytes):
            yield part
            continue
        for offset in range(part.first, part.last + 1, chunk_size):
            length = min(chunk_size, part.last + 1 - offset)
            yield Read(offset, length, last=index == final and offset + length == part.last + 1)


def read(file: BinaryIO, step: Read) -> bytes:
    """pread: no shared file position, so Quart's worker threads never race on one file."""
    return os.pread(file.fileno(), step.length, step.offset)


def iter_body(file: BinaryIO, parts: tuple[BodyPart, ...], chunk_size: int) -> Iterator[bytes]:
    """The body, read as it is sent. The file is closed as soon as its last byte is read, before
    that chunk goes to the server (a client holding the whole body finds no descriptor left, and a
    slow reader of the last chunk holds none), or when the server closes the iterator early. A
    short read means the file shrank under us: the body ends short and the server, which sent
    Content-Length, closes the connection."""
    try:
        for step in body_steps(parts, chunk_size):
            if isinstance(step, bytes):
                yield step
                continue
            chunk = read(file, step)
            if step.last or len(chunk) < step.length:
                file.close()
            yield chunk
            if len(chunk) < step.length:
                return
    finally:
        file.close()


async def iter_body_async(file: BinaryIO, parts: tuple[BodyPart, ...], chunk_size: int) -> AsyncIterator[bytes]:
    """``iter_body`` for a coroutine: the same steps, each read and the close in a worker thread."""
    try:
        for step in body_steps(parts, chunk_size):
            if isinstance(step, bytes):
                yield step
                continue
            chunk = await asyncio.to_thread(read, file, step)
            if step.last or len(chunk) < step.length:
                await asyncio.to_thread(file.close)
            yield chunk
            if len(chunk) < step.length:
                return
    finally:
        if not file.closed:
            await asyncio.to_thread(file.close)


class HandedFiles:
    """Files handed to an in-process server by path, held open until it has surely opened them:
    Quart's whole-file 200s on granian, which reads them itself (ASGI ``http.response.pathsend``).

    The path handed over is the open descriptor's own, ``/proc/self/fd/N``, never the file's name:
    between ``open_data_file``'s checks (inside the data directory, a regular file, no symlink out)
    and the server's open, the name could be made a symlink to anything; the descriptor is the
    file that was checked, whatever happens to its name. It works because the server opens it in
    this process. It opens it after the send has returned (granian: on its Rust runtime, moments
    later; a descriptor closed at once made it answer 404 to about half the requests), so each
    descriptor is kept ``linger`` seconds after its last use. One per file (device and inode): a
    file sent a thousand times a second holds one descriptor, and the inode cannot be reused
    while it is held. At most ``limit`` at once; beyond that ``hand`` says no and the caller
    streams the file itself. Callers close what ``hand`` and ``close`` return, off the event loop.
    """

    def __init__(self, *, linger: float = 10.0, limit: int = 256) -> None:
        self._linger = linger
        self._limit = limit
        # (st_dev, st_ino) -> (the file held, until when); oldest last use first.
        self._held: OrderedDict[tuple[int, int], tuple[BinaryIO, float]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def available() -> bool:
        """Whether this system names open descriptors by path (Linux's /proc)."""
        return os.path.isdir("/proc/self/fd")

    def hand(self, file: BinaryIO, now: float) -> tuple[str | None, list[BinaryIO]]:
        """The path to send for ``file`` (None: too many held, stream it), and the files to close:
        those whose time is up, and ``file`` itself when the same file is already held."""
        status = os.fstat(file.fileno())
        key = (status.st_dev, status.st_ino)
        with self._lock:
            done = self._expire(now)
            held = self._held.pop(key, None)
            if held is not None:
                done.append(file)
                file = held[0]
            elif len(self._held) >= self._limit:
                return None, done
            self._held[key] = (file, now + self._linger)
        return f"/proc/self/fd/{file.fileno()}", done

    def close(self) -> list[BinaryIO]:
        """Everything held, to close when serving ends."""
        with self._lock:
            files = [file for file, _until in self._held.values()]
            self._held.clear()
        return files

    def _expire(self, now: float) -> list[BinaryIO]:
        done: list[BinaryIO] = []
        while self._held:
            key, (file, until) = next(iter(self._held.items()))
            if until > now:
                break
            del self._held[key]
            done.append(file)
        return done


def ensure_data_dir(data_dir: str) -> None:
    """Create the data directory and put the shipped sample files in it where missing.
    Each file appears whole or not at all (written aside, then renamed), since several server
    workers may start at once."""
    directory = Path(data_dir)
    directory.mkdir(parents=True, exist_ok=True)
    for source in SHIPPED.iterdir():
        if source.is_file() and not (directory / source.name).exists():
            with source.open("rb") as shipped:
                _write_atomically(directory / source.name, iter(lambda: shipped.read(1 << 20), b""))
    if not (directory / LARGE_FILE).exists():
        _write_atomically(directory / LARGE_FILE, _pattern(LARGE_FILE_SIZE))


def _pattern(size: int) -> Iterator[bytes]:
    block = bytes(range(251)) * 4096  # a period of 251 bytes, a whole number of periods per block
    for offset in range(0, size, len(block)):
        yield block[: min(len(block), size - offset)]


def _write_atomically(target: Path, chunks: Iterator[bytes]) -> None:
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    with temporary.open("wb") as out:
        for chunk in chunks:
            out.write(chunk)
    os.utime(temporary, ns=(SAMPLE_MTIME_NS, SAMPLE_MTIME_NS))
    os.replace(temporary, target)


def sample_facts(name: str) -> FileFacts:
    """What ``open_data_file`` will report for a sample file that nobody changed."""
    size = LARGE_FILE_SIZE if name == LARGE_FILE else (SHIPPED / name).stat().st_size
    return FileFacts(name, size, SAMPLE_MTIME_NS)
