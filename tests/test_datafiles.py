"""The filesystem edge: safe opening, chunked reads of spans, the data directory's layout."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import pytest
from hypothesis import given, strategies as st

from shared.edge.files import (
    LARGE_FILE,
    LARGE_FILE_SIZE,
    SAMPLE_MTIME_NS,
    HandedFiles,
    Read,
    body_steps,
    ensure_data_dir,
    iter_body,
    iter_body_async,
    open_data_file,
)
from shared.protocol.ranges import ByteSpan


@given(
    st.lists(st.one_of(st.binary(max_size=5), st.tuples(st.integers(0, 300), st.integers(0, 300))), max_size=6),
    st.integers(1, 64),
)
def test_steps_cover_each_span_exactly_in_chunks(parts_spec: list[object], chunk_size: int) -> None:
    parts = tuple(p if isinstance(p, bytes) else ByteSpan(min(p), max(p)) for p in parts_spec)  # type: ignore[call-overload]
    data = bytes(range(256)) * 2
    rebuilt = b"".join(
        step if isinstance(step, bytes) else data[step.offset : step.offset + step.length]
        for step in body_steps(parts, chunk_size)
    )
    expected = b"".join(p if isinstance(p, bytes) else data[p.first : p.last + 1] for p in parts)
    assert rebuilt == expected
    assert all(step.length <= chunk_size for step in body_steps(parts, chunk_size) if isinstance(step, Read))
    reads = [step for step in body_steps(parts, chunk_size) if isinstance(step, Read)]
    assert [step.last for step in reads] == [False] * (len(reads) - 1) + [True] * bool(reads)


def _sync_chunks(file: BinaryIO, parts: tuple[bytes | ByteSpan, ...]) -> Iterator[bytes]:
    return iter_body(file, parts, 10)


def _async_chunks(file: BinaryIO, parts: tuple[bytes | ByteSpan, ...]) -> Iterator[bytes]:
    """``iter_body_async`` driven step by step, as a server would: one chunk per ``next``."""
    chunks = iter_body_async(file, parts, 10)
    loop = asyncio.new_event_loop()
    try:
        while True:
            try:
                yield loop.run_until_complete(anext(chunks))
            except StopAsyncIteration:
                return
    finally:
        loop.close()


@pytest.mark.parametrize("chunks_of", [_sync_chunks, _async_chunks], ids=["sync", "async"])
def test_the_file_is_closed_before_its_last_bytes_are_handed_on(
    tmp_path: Path, chunks_of: Callable[[BinaryIO, tuple[bytes | ByteSpan, ...]], Iterator[bytes]]
) -> None:
    """A client that has the whole body finds the server holding no descriptor on the file: the
    last read closes it, before that chunk (or the closing multipart boundary) is sent."""
    path = tmp_path / "f.bin"
    path.write_bytes(bytes(range(100)))
    for parts in ((ByteSpan(0, 99),), (b"--a\r\n", ByteSpan(0, 4), b"\r\n--a\r\n", ByteSpan(90, 99), b"--a--")):
        file = path.open("rb")
        handed_on = [(chunk, file.closed) for chunk in chunks_of(file, parts)]
        closed_from = next(index for index, (chunk, _) in enumerate(handed_on) if chunk == bytes(range(90, 100)))
        assert [closed for _, closed in handed_on] == [False] * closed_from + [True] * (len(handed_on) - closed_from)


def test_a_file_that_shrinks_ends_the_body_short(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * 100)
    file = path.open("rb")
    chunks = iter_body(file, (ByteSpan(0, 99),), 10)
    assert next(chunks) == b"x" * 10
    os.truncate(path, 25)
    assert list(chunks) == [b"x" * 10, b"x" * 5]
    assert file.closed


def test_open_refuses_what_is_not_a_regular_file_inside(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "ok.txt").write_text("ok")
    (tmp_path / "out").symlink_to("/etc/hostname")
    for name in ("sub", "out", "missing", "../etc/hostname", "ok.txt/", "/etc/hostname"):
        assert open_data_file(str(tmp_path), name) is None, name
    opened = open_data_file(str(tmp_path), "ok.txt")
    assert opened is not None
    opened[0].close()


def test_open_refuses_fifos_and_hidden_names_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")  # no writer: a blocking open() would never return
    (tmp_path / ".env").write_text("SECRET=1")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text("[core]")
    (tmp_path / "env-link").symlink_to(".env")
    for name in ("pipe", ".env", ".git/config", "env-link", ".git"):
        assert open_data_file(str(tmp_path), name) is None, name


def test_the_data_directory_is_laid_out_once_with_stable_dates(tmp_path: Path) -> None:
    ensure_data_dir(str(tmp_path))
    names = {path.name for path in tmp_path.iterdir()}
    assert {"hello.txt", "report.pdf", "보고서.pdf", "sample.mp4", LARGE_FILE} <= names
    assert (tmp_path / LARGE_FILE).stat().st_size == LARGE_FILE_SIZE
    assert (tmp_path / "hello.txt").stat().st_mtime_ns == SAMPLE_MTIME_NS
    (tmp_path / "hello.txt").write_text("changed by the user")
    ensure_data_dir(str(tmp_path))
    assert (tmp_path / "hello.txt").read_text() == "changed by the user"  # never overwritten


def test_handed_files_hold_one_descriptor_per_file_for_a_while_and_at_most_the_limit(tmp_path: Path) -> None:
    """What granian is handed: the checked descriptor's own path, kept open after the send."""
    ensure_data_dir(str(tmp_path))
    handed = HandedFiles(linger=10.0, limit=2)
    opened = [open_data_file(str(tmp_path), name) for name in (LARGE_FILE, LARGE_FILE, "hello.txt", "report.pdf")]
    first, again, other, third = (pair[0] for pair in opened if pair is not None)

    path, done = handed.hand(first, now=0.0)
    assert path == f"/proc/self/fd/{first.fileno()}" and done == []
    assert Path(path).read_bytes() == (tmp_path / LARGE_FILE).read_bytes()
    # The same file again: the one already held serves, the new descriptor is the caller's to close.
    assert handed.hand(again, now=1.0) == (path, [again])
    assert handed.hand(other, now=2.0)[0] == f"/proc/self/fd/{other.fileno()}"
    # Two held: a third file is refused (streamed by the caller), nothing is let go early.
    assert handed.hand(third, now=3.0) == (None, [])
    # Past its linger after its last use, a file is let go, and room is made.
    path_third, done = handed.hand(third, now=11.5)
    assert path_third == f"/proc/self/fd/{third.fileno()}" and done == [first]
    assert sorted(file.fileno() for file in handed.close()) == sorted([other.fileno(), third.fileno()])
    for file in (first, again, other, third):
        file.close()
