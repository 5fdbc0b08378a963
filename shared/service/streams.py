"""Streamed responses: the plan for a stream's head, and the bodies of the seed's §2.2 streams.

A stream's length is not known when its head leaves, so its plan has a status and headers and no
Content-Length (the server frames the body: chunked on HTTP/1.1). The bodies are produced here as
plain data and generators, and the adapters only pace and write them: ``/stream/gen``'s chunks as
``(pause, chunk)`` steps (Flask sleeps on its thread, Quart awaits ``asyncio.sleep``), the CSV
export as encoded batches, so memory holds one batch whatever the row count.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from ..protocol.cache import CachePolicy
from ..protocol.disposition import content_disposition

__all__ = [
    "EXPORT_BATCH_ROWS",
    "StreamHead",
    "csv_batches",
    "export_csv",
    "export_csv_batches",
    "export_rows",
    "plan_stream",
    "stream_gen",
    "stream_gen_steps",
]

Headers = tuple[tuple[str, str], ...]
# 1,000 rows of the seed's export are about 15 KB: small next to a socket buffer, large enough
# that the per-write cost of a server (a chunk header, a syscall, a thread hop in Quart) is noise.
EXPORT_BATCH_ROWS = 1000


@dataclass(frozen=True, slots=True)
class StreamHead:
    """Status and every header of a streamed response; the body comes from a generator."""

    status: int
    headers: Headers

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)


def plan_stream(content_type: str, *, unbuffered: bool, headers: Iterable[tuple[str, str]] = ()) -> StreamHead:
    """A 200 stream: its type, ``Cache-Control: no-cache`` (each GET is produced anew), and with
    ``unbuffered`` the nginx switch that passes each chunk on as it comes.

    ``X-Accel-Buffering: no`` is for streams whose point is timing (the chunks of /stream/gen,
    server-sent events). A download such as the CSV export is better buffered by a proxy: nginx
    then takes the body as fast as the app makes it and frees the app's thread while a slow client
    reads from nginx.
    """
    fields = [("Content-Type", content_type), ("Cache-Control", CachePolicy(no_cache=True).to_header())]
    if unbuffered:
        fields.append(("X-Accel-Buffering", "no"))
    return StreamHead(200, (*fields, *headers))


def stream_gen() -> StreamHead:
    """§2.2.1: the seed's mimetype ``text/plain`` with the charset Flask added; unbuffered, so a
    proxy passes each chunk on as it comes (the seed's own warning)."""
    return plan_stream("text/plain; charset=utf-8", unbuffered=True)


def export_csv() -> StreamHead:
    """§2.2.2: a download, so a proxy may buffer it (see ``plan_stream``)."""
    return plan_stream(
        "text/csv; charset=utf-8",
        unbuffered=False,
        headers=[("Content-Disposition", content_disposition("export.csv", attachment=True))],
    )


def stream_gen_steps(delay: float) -> tuple[tuple[float, bytes], ...]:
    """The seed's ``/stream/gen`` as (pause before, chunk) steps: ``start``, then ``chunk 0`` to
    ``chunk 4`` each after ``delay`` seconds, then ``end`` at once."""
    return (
        (0.0, b"start\n"),
        *((delay, f"chunk {index}\n".encode("ascii")) for index in range(5)),
        (0.0, b"end\n"),
    )


def export_rows(count: int) -> Iterator[tuple[int, str]]:
    """The seed's export rows: ``(i, "User i")`` for i from 1 to ``count``; in a real service, a
    database cursor read as it goes."""
    return ((index, f"User {index}") for index in range(1, count + 1))


def export_csv_batches(row_count: int) -> Iterator[bytes]:
    """The body of the seed's ``/export.csv``: ``id,name``, then ``row_count`` rows."""
    return csv_batches(("id", "name"), export_rows(row_count))


def csv_batches(
    header: Sequence[str], rows: Iterable[Sequence[object]], *, batch_rows: int = EXPORT_BATCH_ROWS
) -> Iterator[bytes]:
    """CSV as UTF-8 in batches of ``batch_rows`` rows, the header line first (in the first batch).

    The ``csv`` module quotes what needs quoting (a comma, a quote, a line break in a field).
    Lines end in LF, as the seed's export did, so its clients see the same bytes; RFC 4180 §2 asks
    for CRLF, and every CSV reader we know (Python's ``csv``, spreadsheets, pandas) reads both.
    One catch: with LF line ends, Python 3.11's ``csv`` leaves a field holding a lone CR unquoted
    (3.13's quotes it), and a reader ends the row there. A row with a CR anywhere is therefore
    written with every field quoted: valid, read back the same, and the same bytes on every Python.
    """
    if batch_rows < 1:
        raise ValueError(f"batch_rows must be >= 1, got {batch_rows}")
    buffer = io.StringIO()
    minimal = csv.writer(buffer, lineterminator="\n")
    quote_all = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_ALL)

    def write(row: Sequence[object]) -> None:
        (quote_all if any("\r" in str(cell) for cell in row) else minimal).writerow(row)

    write(header)
    for count, row in enumerate(rows, start=1):
        write(row)
        if count % batch_rows == 0:
            yield _take(buffer)
    if buffer.tell():
        yield _take(buffer)


def _take(buffer: io.StringIO) -> bytes:
    data = buffer.getvalue().encode("utf-8")
    buffer.seek(0)
    buffer.truncate()
    return data
