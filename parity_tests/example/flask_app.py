"""The example tea shop in Flask, written the ordinary way (the left side of the example pair).

``create_app(settings)``: config from defaults, then ``settings`` (``CATALOG``: the seed file,
``FILES_DIR``: what ``/files`` serves, ``EVENT_COUNT``: how many events ``/events`` sends).

    GET  /                    a JSON hello
    GET  /items               the items, summarized (cacheable for a minute)
    GET  /items/<id>          one item with its price; 404 JSON for an unknown id
    POST /items               a new item from {"name": ..., "unit_price": "4.500"}: 201 and Location
    GET  /files/<path:name>   a file, with werkzeug's ETag, Last-Modified, Range and If-Range
    GET  /events              server-sent events, ids 1..EVENT_COUNT, then the stream ends
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request, send_from_directory, url_for
from flask.typing import ResponseReturnValue

from . import CATALOG, FILES_DIR, Catalog, Item, parse_new_item

__all__ = ["create_app"]

CENT = Decimal("0.01")

shop = Blueprint("shop", __name__)


def create_app(settings: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(CATALOG=str(CATALOG), FILES_DIR=str(FILES_DIR), EVENT_COUNT=5)
    if settings is not None:
        app.config.from_mapping(settings)
    app.extensions["catalog"] = Catalog.from_file(app.config["CATALOG"])
    app.register_blueprint(shop)
    return app


def catalog() -> Catalog:
    found: Catalog = current_app.extensions["catalog"]
    return found


def item_json(item: Item) -> dict[str, object]:
    """An item as the API shows it: its unit price rounded to the cent, half up, as a shop
    rounds (Flask's JSON provider writes a Decimal as a string: ``"2.67"``)."""
    price = item.unit_price.quantize(CENT, rounding=ROUND_HALF_UP)
    return {"id": item.id, "name": item.name, "price": price}


def sse_event(event_id: int, data: str) -> str:
    """One server-sent event: a ``data:`` line per line of ``data`` (HTML, 9.2.6 "Interpreting an
    event stream": a newline inside a data line would end it)."""
    lines = "".join(f"data: {line}\n" for line in data.split("\n"))
    return f"id: {event_id}\n{lines}\n"


@shop.get("/")
def index() -> dict[str, str]:
    return {"hello": "tea shop", "items": url_for(".list_items")}


@shop.get("/items")
def list_items() -> Response:
    response = jsonify([{"id": item.id, "name": item.name} for item in catalog().items()])
    response.cache_control.max_age = 60
    return response


@shop.get("/items/<int:item_id>")
def get_item(item_id: int) -> ResponseReturnValue:
    item = catalog().get(item_id)
    if item is None:
        return {"error": f"no item {item_id}"}, 404
    return item_json(item)


@shop.post("/items")
def create_item() -> ResponseReturnValue:
    parsed = parse_new_item(request.get_json(silent=True))
    if isinstance(parsed, str):
        return {"error": parsed}, 400
    item = catalog().add(*parsed)
    return item_json(item), 201, {"Location": url_for(".get_item", item_id=item.id)}


@shop.get("/files/<path:name>")
def get_file(name: str) -> Response:
    return send_from_directory(current_app.config["FILES_DIR"], name, conditional=True)


@shop.get("/events")
def events() -> Response:
    announcements, count = catalog().announcements, int(current_app.config["EVENT_COUNT"])

    def stream() -> Iterator[str]:
        for event_id in range(1, count + 1):
            yield sse_event(event_id, announcements[(event_id - 1) % len(announcements)])

    return Response(stream(), mimetype="text/event-stream")
