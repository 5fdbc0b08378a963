"""An example pair for ``twinport parity``: a small Flask service and its Quart port.

Not twinport's own apps: a tea shop written the ordinary way (``flask_app``), and its port to
Quart (``quart_app``) written as a Quart user would, with four planted differences that the
parity tools must each find exactly once (the port's docstring lists them, and the places where
the two frameworks differ by nature that the port had to make agree). Both apps rest on the one
framework-free model here, as a real port keeps its models: the catalog of items and the
announcements its event stream sends.

    from parity_tests.clients import FlaskInProcess, QuartInProcess
    from parity_tests.pair import Pair
    from parity_tests.example import EXAMPLE_RULES, flask_app, quart_app

    with QuartInProcess(quart_app.create_app()) as quart:
        pair = Pair(FlaskInProcess(flask_app.create_app()), quart, rules=EXAMPLE_RULES)
        pair.check("GET", "/items/1")  # [] : alike
        pair.check("GET", "/items/2")  # one finding: the planted price

``EXAMPLE_RULES`` are the default rules plus the one this pair needs over the wire: ``Allow`` as a
set (``quart_app`` says why).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from ..rules import DEFAULT_RULES, HeaderRule, Rules

__all__ = ["CATALOG", "EXAMPLE_RULES", "FILES_DIR", "Catalog", "Item", "parse_new_item"]

HERE = Path(__file__).resolve().parent
#: The seed catalog both apps load: items and the announcements ``/events`` sends.
CATALOG = HERE / "catalog.json"
#: What ``/files/<path:name>`` serves: a text file of a few KB (Range, ETag, Last-Modified).
FILES_DIR = HERE / "files"

EXAMPLE_RULES = DEFAULT_RULES.extended(
    Rules(
        headers=(
            HeaderRule(
                "allow",
                "set",
                reason="werkzeug builds Allow from a set: its order follows each process's hash seed (RFC 9110 §10.2.1"
                " gives the order no meaning)",
            ),
        )
    )
)


@dataclass(frozen=True, slots=True)
class Item:
    """One tea: ``unit_price`` per 100 g, to three decimals, as the supplier quotes it."""

    id: int
    name: str
    unit_price: Decimal


class Catalog:
    """The items (in memory, one catalog per app) and the announcements, from a seed file."""

    def __init__(self, items: list[Item], announcements: list[str]) -> None:
        self._items = {item.id: item for item in items}
        self.announcements = tuple(announcements)
        self._lock = threading.Lock()  # gunicorn's gthread workers add items from several threads

    @classmethod
    def from_file(cls, path: str | Path) -> Catalog:
        seed = json.loads(Path(path).read_text(encoding="utf-8"))
        items = [Item(entry["id"], entry["name"], Decimal(entry["unit_price"])) for entry in seed["items"]]
        return cls(items, seed["announcements"])

    def items(self) -> list[Item]:
        return sorted(self._items.values(), key=lambda item: item.id)

    def get(self, item_id: int) -> Item | None:
        return self._items.get(item_id)

    def add(self, name: str, unit_price: Decimal) -> Item:
        with self._lock:
            item = Item(max(self._items, default=0) + 1, name, unit_price)
            self._items[item.id] = item
            return item


def parse_new_item(data: object) -> tuple[str, Decimal] | str:
    """A new item's name and unit price from a POSTed JSON body, or what is wrong with it."""
    if not isinstance(data, dict):
        return "expected a JSON object"
    name, unit_price = data.get("name"), data.get("unit_price")
    if not isinstance(name, str) or not 0 < len(name) <= 100:
        return "name: a string of 1 to 100 characters"
    try:
        price = Decimal(unit_price) if isinstance(unit_price, str) else None
    except InvalidOperation:
        price = None
    if price is None or not price.is_finite() or price < 0 or price > 10_000:
        return 'unit_price: a decimal string from 0 to 10000, e.g. "4.500"'
    return name, price
