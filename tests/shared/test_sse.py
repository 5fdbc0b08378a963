"""Server-sent events: exact bytes for the seed's stream, and a WHATWG-algorithm parser as reference."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest
from hypothesis import given, strategies as st

from shared.protocol.sse import encode_comment, encode_event


@dataclass(frozen=True)
class Dispatched:
    type: str
    data: str
    last_event_id: str


@dataclass
class EventSource:
    """What a browser's EventSource sees: WHATWG HTML §9.2.5 (parsing) and §9.2.6 (interpreting)."""

    events: list[Dispatched] = field(default_factory=list)
    reconnection_time: int | None = None
    last_event_id: str = ""
    _data: str = ""
    _type: str = ""
    _id_buffer: str = ""

    def feed(self, stream: bytes) -> EventSource:
        text = stream.decode("utf-8", errors="replace").removeprefix("\ufeff")
        # A final line without an end-of-line is incomplete and discarded.
        for match in re.finditer(r"([^\r\n]*)(?:\r\n|\r|\n)", text):
            self._line(match.group(1))
        return self

    def _line(self, line: str) -> None:
        if not line:
            self._dispatch()
        elif line.startswith(":"):
            return
        else:
            name, colon, value = line.partition(":")
            self._field(name, value.removeprefix(" ") if colon else "")

    def _field(self, name: str, value: str) -> None:
        if name == "event":
            self._type = value
        elif name == "data":
            self._data += value + "\n"
        elif name == "id" and "\x00" not in value:
            self._id_buffer = value
        elif name == "retry" and re.fullmatch(r"[0-9]+", value, re.ASCII):
            self.reconnection_time = int(value)

    def _dispatch(self) -> None:
        self.last_event_id = self._id_buffer
        if not self._data:
            self._type = ""
            return
        self.events.append(Dispatched(self._type or "message", self._data.removesuffix("\n"), self.last_event_id))
        self._data = self._type = ""


def test_seed_opening_is_byte_identical() -> None:
    assert encode_event(retry=1000, event="hello", data="world") == b"retry: 1000\nevent: hello\ndata: world\n\n"


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"data": "world"}, b"data: world\n\n"),
        ({"retry": 1000}, b"retry: 1000\n\n"),
        ({"retry": 0}, b"retry: 0\n\n"),
        ({"data": ""}, b"data: \n\n"),
        ({"data": "a\r\nb\rc\nd"}, b"data: a\ndata: b\ndata: c\ndata: d\n\n"),
        ({"data": "x\n"}, b"data: x\ndata: \n\n"),
        ({"data": " lead"}, b"data:  lead\n\n"),
        ({"data": "é\u2028\x85"}, "data: é\u2028\x85\n\n".encode()),
        ({"id": 7, "data": "x", "event": "tick", "retry": 5}, b"id: 7\nretry: 5\nevent: tick\ndata: x\n\n"),
        ({"id": ""}, b"id: \n\n"),
    ],
)
def test_exact_bytes(kwargs: dict[str, str | int], expected: bytes) -> None:
    assert encode_event(**kwargs) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"), [("", b":\n\n"), ("ping", b": ping\n\n"), ("a\r\n\nb", b": a\n:\n: b\n\n")]
)
def test_comments(text: str, expected: bytes) -> None:
    assert encode_comment(text) == expected
    assert EventSource().feed(expected).events == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "at least one"),
        ({"event": "a\nb", "data": "x"}, "event"),
        ({"event": "a\rb", "data": "x"}, "event"),
        ({"id": "1\n", "data": "x"}, "id"),
        ({"id": "1\r", "data": "x"}, "id"),
        ({"id": "1\x002", "data": "x"}, "NUL"),
        ({"id": True, "data": "x"}, "bool"),
        ({"retry": -1}, "retry"),
        ({"retry": True}, "retry"),
    ],
)
def test_invalid_fields_are_refused(kwargs: dict[str, str | int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        encode_event(**kwargs)  # type: ignore[arg-type]


def test_retry_and_id_without_data_dispatch_nothing_but_take_effect() -> None:
    source = EventSource().feed(encode_event(retry=1000) + encode_event(id="42"))
    assert source.events == []
    assert source.reconnection_time == 1000
    assert source.last_event_id == "42"


any_text = st.text(st.characters(exclude_categories=["Cs"]))
single_line = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\r\n"))
event_ids = single_line.filter(lambda s: "\x00" not in s) | st.integers()


@st.composite
def events(draw: st.DrawFn) -> dict[str, str | int]:
    kwargs: dict[str, str | int] = {"data": draw(any_text)}
    for name, strategy in [("event", single_line), ("id", event_ids), ("retry", st.integers(min_value=0))]:
        if draw(st.booleans()):
            kwargs[name] = draw(strategy)
    return kwargs


@given(st.lists(st.tuples(events(), st.none() | any_text), min_size=1, max_size=4))
def test_event_source_reads_back_what_was_encoded(stream: list[tuple[dict[str, str | int], str | None]]) -> None:
    encoded, expected, last_id, retry = b"", [], "", None
    for kwargs, comment in stream:
        if comment is not None:
            encoded += encode_comment(comment)
        encoded += encode_event(**kwargs)  # type: ignore[arg-type]
        last_id = str(kwargs.get("id", last_id))
        retry = kwargs.get("retry", retry)
        data = re.sub(r"\r\n?", "\n", str(kwargs["data"]))
        expected.append(Dispatched(str(kwargs.get("event") or "message"), data, last_id))
    source = EventSource().feed(encoded)
    assert source.events == expected
    assert source.reconnection_time == retry
