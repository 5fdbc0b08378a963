"""The example tea shop ported to Quart (the right side of the example pair), as a Quart user
writes it: async views, ``await request.get_json()``, ``quart.send_from_directory``, and
``make_response`` over an async generator for the event stream.

It has exactly FOUR planted differences from ``flask_app``, each in its own place, for the parity
tools to find (each is one field of one answer, so each is reported exactly once):

(a) A header: ``/items`` answers ``Cache-Control: no-cache`` where Flask says ``max-age=60``
    (``list_items``).
(b) A JSON body: ``/items/2``'s ``price`` is ``"2.66"`` where Flask says ``"2.67"``: the port
    quantizes the unit price 2.665 with Decimal's default rounding, half-even, where Flask rounds
    half up (``item_json``). Item 1 (4.500) and item 3 (3.200) answer alike.
(c) A server-sent event stream: the 3rd event's data, the one announcement of three lines, is
    only its first line: the port writes ``data: <text>`` whole, so its two other lines are not
    ``data:`` lines (HTML, 9.2.6, ignores a line with no colon as a field with no value)
    (``sse_event``).
(d) A Range answer: a suffix range (``Range: bytes=-100``, the last 100 bytes) answers
    ``Content-Range: bytes 4027-4126/4126``, the last byte's position where the file's length
    (4127) belongs (RFC 9110 §14.4); the bytes sent are right (``send_suffix_range``).

Everything else answers byte for byte as Flask does, headers included, in process and over the
wire (gunicorn and hypercorn). These are the places where Quart differs from Flask by nature, and
what the port does to agree (the lessons of this port):

1. ``send_file``'s cache headers: Quart's default ``SEND_FILE_MAX_AGE_DEFAULT`` is 12 hours (so
   ``Cache-Control: public, max-age=43200`` and an ``Expires``), Flask's is None since 2.0
   (``Cache-Control: no-cache``, no Expires). The port sets the config to None and writes
   ``no-cache`` over Quart's ``public``.
2. ``Content-Disposition: inline; filename=...``: werkzeug's send_file always names the file;
   Quart's only for attachments. The port adds it.
3. ``Accept-Ranges: bytes``: werkzeug advertises it on every answer of a conditional send_file;
   Quart only on a 206. The port sets it.
4. ``Date``: werkzeug's ``make_conditional`` writes a Date into the response, Quart's does not;
   the port must NOT copy it: gunicorn drops an app's Date and sends its own (PEP 3333 makes Date
   the server's), but hypercorn keeps an app's Date and adds its own, two Date fields on the wire.
   (In process, the WSGI driver must drop it as gunicorn does; see ``test_example_pair``.)
5. A 304 (RFC 9110 §15.4.5): werkzeug drops the representation's Content-Type and Last-Modified
   from it, Quart keeps them. The port drops them.
6. A 416: werkzeug says ``Content-Range: bytes */4127`` (RFC 9110 §15.5.17), Quart raises
   ``RequestedRangeNotSatisfiable()`` without the length, so no Content-Range. The port raises it
   again with the length (a multi-range request gets this 416 on both: werkzeug serves one range).
7. A suffix range (``bytes=-N``): Quart's ``make_conditional`` passes the negative start on to
   werkzeug's ``ContentRange``, which asserts: a 500. The port answers these itself (and there
   plants (d)).

What needed nothing: JSON (Quart uses Flask's JSON provider: sorted keys, compact, a trailing
newline, ``application/json``), ``text/html; charset=utf-8`` and the HTML error pages (both raise
werkzeug's HTTPExceptions), the ETag of a file (both ``mtime-size-adler32(path)``), HEAD (the
server drops Quart's body; ``QuartInProcess`` does as hypercorn does), the automatic OPTIONS and
its ``Allow`` (but see below), ``Location`` (both leave it relative), and a streamed body (neither sends a
Content-Length; the server chunks it).

What no port can make agree: werkzeug builds ``Allow`` (of an OPTIONS or 405 answer) from a set
of strings, so its order follows the process's hash seed: two servers, even of one app, list the
methods in different orders. Over the wire, compare it as a set (``EXAMPLE_RULES``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from decimal import Decimal
from pathlib import PurePosixPath
from typing import Any

from quart import Blueprint, Quart, Response, current_app, jsonify, make_response, request, send_from_directory, url_for
from quart.typing import ResponseReturnValue
from werkzeug.datastructures import Range
from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.sansio.http import is_resource_modified

from . import CATALOG, FILES_DIR, Catalog, Item, parse_new_item

__all__ = ["create_app"]

CENT = Decimal("0.01")

shop = Blueprint("shop", __name__)


def create_app(settings: Mapping[str, Any] | None = None) -> Quart:
    app = Quart(__name__)
    # Flask's default (lesson 1): file answers say no-cache and carry no Expires.
    app.config.from_mapping(
        CATALOG=str(CATALOG), FILES_DIR=str(FILES_DIR), EVENT_COUNT=5, SEND_FILE_MAX_AGE_DEFAULT=None
    )
    if settings is not None:
        app.config.from_mapping(settings)
    app.extensions["catalog"] = Catalog.from_file(app.config["CATALOG"])
    app.register_blueprint(shop)
    return app


def catalog() -> Catalog:
    found: Catalog = current_app.extensions["catalog"]
    return found


def item_json(item: Item) -> dict[str, object]:
    """An item as the API shows it: its unit price rounded to the cent. PLANTED (b): Decimal's
    default rounding is half-even, so 2.665 becomes 2.66 (Flask rounds half up: 2.67)."""
    price = item.unit_price.quantize(CENT)
    return {"id": item.id, "name": item.name, "price": price}


def sse_event(event_id: int, data: str) -> str:
    """One server-sent event. PLANTED (c): ``data`` in one ``data:`` line, so a second line of it
    is no longer data (Flask writes a ``data:`` line per line)."""
    return f"id: {event_id}\ndata: {data}\n\n"


@shop.get("/")
async def index() -> dict[str, str]:
    return {"hello": "tea shop", "items": url_for(".list_items")}


@shop.get("/items")
async def list_items() -> Response:
    response = jsonify([{"id": item.id, "name": item.name} for item in catalog().items()])
    response.cache_control.no_cache = True  # PLANTED (a): Flask says max-age=60
    return response


@shop.get("/items/<int:item_id>")
async def get_item(item_id: int) -> ResponseReturnValue:
    item = catalog().get(item_id)
    if item is None:
        return {"error": f"no item {item_id}"}, 404
    return item_json(item)


@shop.post("/items")
async def create_item() -> ResponseReturnValue:
    parsed = parse_new_item(await request.get_json(silent=True))
    if isinstance(parsed, str):
        return {"error": parsed}, 400
    item = catalog().add(*parsed)
    return item_json(item), 201, {"Location": url_for(".get_item", item_id=item.id)}


@shop.get("/files/<path:name>")
async def get_file(name: str) -> Response:
    # Quart's default is conditional=True; the port makes it conditional itself, as werkzeug does.
    response = await send_from_directory(current_app.config["FILES_DIR"], name, conditional=False)
    return await make_conditional_as_werkzeug(response, PurePosixPath(name).name)


@shop.get("/events")
async def events() -> ResponseReturnValue:
    announcements, count = catalog().announcements, int(current_app.config["EVENT_COUNT"])

    async def stream() -> AsyncIterator[str]:
        for event_id in range(1, count + 1):
            yield sse_event(event_id, announcements[(event_id - 1) % len(announcements)])

    response = await make_response(stream())
    response.mimetype = "text/event-stream"
    return response


async def make_conditional_as_werkzeug(response: Response, filename: str) -> Response:
    """A file answer of ``quart.send_from_directory`` made conditional as werkzeug's
    ``send_file(conditional=True)`` makes it (lessons 1 to 7 of the module docstring)."""
    size = response.content_length
    assert size is not None  # send_from_directory knows the file's size
    response.cache_control.public = False
    response.cache_control.no_cache = True
    response.headers.set("Content-Disposition", "inline", filename=filename)
    response.accept_ranges = "bytes"
    requested = request.range
    if requested is not None and len(requested.ranges) == 1 and requested.ranges[0][0] < 0 and range_applies(response):
        return await send_suffix_range(response, requested, size)
    try:
        await response.make_conditional(request, accept_ranges=True, complete_length=size)
    except RequestedRangeNotSatisfiable:
        raise RequestedRangeNotSatisfiable(length=size) from None
    if response.status_code == 304:
        del response.headers["Content-Type"], response.headers["Last-Modified"]
    return response


def range_applies(response: Response) -> bool:
    """Whether the request's Range is to be served: it has no If-Range, or one that still names
    this representation (RFC 9110 §13.1.5)."""
    return "If-Range" not in request.headers or not is_resource_modified(
        http_range=request.headers.get("Range"),
        http_if_range=request.headers.get("If-Range"),
        etag=response.headers.get("ETag"),
        last_modified=response.headers.get("Last-Modified"),
        ignore_if_range=False,
    )


async def send_suffix_range(response: Response, requested: Range, size: int) -> Response:
    """A suffix range, ``bytes=-N`` (RFC 9110 §14.1.2), which Quart's ``make_conditional`` fails
    on (lesson 7), resolved by werkzeug's ``Range.range_for_length`` as Flask resolves it (a
    suffix longer than the file is a 416 there). PLANTED (d): Content-Range's total is the last
    byte's position, not the length."""
    span = requested.range_for_length(size)
    if span is None:
        raise RequestedRangeNotSatisfiable(length=size)
    start, stop = span
    await response.response.make_conditional(start, stop)  # type: ignore[attr-defined]
    response.status_code = 206
    response.content_length = stop - start
    response.headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size - 1}"
    return response
