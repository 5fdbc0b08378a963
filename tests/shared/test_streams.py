"""Stream heads and bodies: /stream/gen's steps, the CSV export against the csv module, the cookie."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given, strategies as st

from shared.edge.events import EventHub
from shared.service import cookies, events, streams
from shared.service.streams import csv_batches, export_csv_batches, stream_gen_steps


def test_stream_gen_is_the_seeds_chunks_with_a_pause_before_each_numbered_one() -> None:
    steps = stream_gen_steps(0.5)
    assert b"".join(chunk for _, chunk in steps) == b"start\nchunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\nend\n"
    assert [pause for pause, _ in steps] == [0.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.0]


@pytest.mark.parametrize("rows", [0, 1, 999, 1000, 1001, 2500])
def test_the_export_reads_back_as_the_seeds_rows(rows: int) -> None:
    batches = list(export_csv_batches(rows))
    assert len(batches) == max(1, -(-rows // 1000))  # header alone, or one batch per 1,000 rows
    table = list(csv.reader(io.StringIO(b"".join(batches).decode("utf-8"), newline="")))
    assert table == [["id", "name"], *([str(i), f"User {i}"] for i in range(1, rows + 1))]


def test_the_export_keeps_the_seeds_bytes() -> None:
    seed = "id,name\n" + "".join(f"{i},User {i}\n" for i in range(1, 101))
    assert b"".join(export_csv_batches(100)) == seed.encode("ascii")


cells = st.text(st.characters(blacklist_categories=("Cs",)), max_size=8)


@given(rows=st.lists(st.lists(cells, min_size=2, max_size=2), max_size=30), batch_rows=st.integers(1, 7))
def test_any_cell_survives_the_round_trip(rows: list[list[str]], batch_rows: int) -> None:
    body = b"".join(csv_batches(("a", "b"), rows, batch_rows=batch_rows)).decode("utf-8")
    assert list(csv.reader(io.StringIO(body, newline=""))) == [["a", "b"], *rows]


def test_a_row_with_a_carriage_return_is_quoted_whole_on_every_python() -> None:
    # Python 3.11's csv leaves a lone CR unquoted with LF line ends; 3.13's quotes that one field.
    rows = [["", "\r"], ["a\nb", "c,d"], ["1", "x"]]
    assert b"".join(csv_batches(("id", "name"), rows)) == b'id,name\n"","\r"\n"a\nb","c,d"\n1,x\n'


def test_a_batch_needs_a_row() -> None:
    with pytest.raises(ValueError):
        list(csv_batches(("a",), [], batch_rows=0))


@pytest.mark.parametrize(
    ("head", "content_type", "unbuffered"),
    [
        (streams.stream_gen(), "text/plain; charset=utf-8", True),
        (events.sse(), "text/event-stream; charset=utf-8", True),
        (streams.export_csv(), "text/csv; charset=utf-8", False),
    ],
    ids=["stream-gen", "sse", "export-csv"],
)
def test_stream_heads(head: streams.StreamHead, content_type: str, unbuffered: bool) -> None:
    assert head.status == 200
    assert head.header("Content-Type") == content_type
    assert head.header("Cache-Control") == "no-cache"
    assert head.header("X-Accel-Buffering") == ("no" if unbuffered else None)
    assert head.header("Content-Length") is None  # the server frames the body


def test_the_export_is_an_attachment_named_export_csv() -> None:
    assert streams.export_csv().header("Content-Disposition") == 'attachment; filename="export.csv"'


def test_the_cookie_has_max_age_and_no_clock() -> None:
    plan = cookies.set_cookie()
    assert plan.header("Set-Cookie") == "sid=s-1; Max-Age=3600; Secure; HttpOnly; Path=/; SameSite=Lax"
    assert plan.header("Cache-Control") == "no-store"
    assert plan.in_memory_body() == b'{"ok":true}\n'


def test_stats_are_not_cached_and_name_the_hubs_boot() -> None:
    hub = EventHub()
    with hub.subscribe(), hub.subscribe():
        plan = events.stats(hub)
    expected = b'{"sse_boot":"' + hub.boot.encode() + b'","sse_subscribers":2}\n'
    assert (plan.in_memory_body(), plan.header("Cache-Control")) == (expected, "no-store")
